//! The sanitiser against hostile documents, rasterised sizes and colours, and bombs refused
//! quickly, through the pipeline's own entry points.

use std::time::{Duration, Instant};

use crate::pipeline::{
    probe, render, sanitize_svg, Fit, ImageFormat, PipelineError, PipelineSettings, RenderSpec,
};

const NS: &str = r#"xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink""#;

/// A red 40x30 rectangle, plus `extra` inside the root.
fn doc(extra: &str) -> String {
    format!(
        r#"<svg {NS} width="40" height="30"><rect width="40" height="30" fill="red"/>{extra}</svg>"#
    )
}

/// Hostile inputs and what must not survive them (case-insensitively).
pub(crate) fn hostile() -> Vec<(&'static str, String, &'static [&'static str])> {
    vec![
        (
            "script",
            doc("<script>alert(1)</script>"),
            &["script", "alert"],
        ),
        (
            "cdata script",
            doc("<script><![CDATA[alert(1)]]></script>"),
            &["script", "alert"],
        ),
        (
            "event handler",
            doc(r#"<g onload="alert(1)" onclick="alert(2)"/>"#),
            &["onload", "onclick", "alert"],
        ),
        (
            "root handler",
            format!(r#"<svg {NS} onload="alert(1)"/>"#),
            &["onload", "alert"],
        ),
        (
            "javascript link",
            doc(r#"<a href="javascript:alert(1)"><text>x</text></a>"#),
            &["javascript", "alert"],
        ),
        (
            "xlink javascript",
            doc(r#"<a xlink:href=" JaVaScRiPt:alert(1)"><rect width="1" height="1"/></a>"#),
            &["javascript", "alert"],
        ),
        (
            "external image",
            doc(r#"<image href="http://example.com/a.png" width="5" height="5"/>"#),
            &["example.com"],
        ),
        (
            "local file",
            doc(r#"<image xlink:href="file:///etc/passwd" width="5" height="5"/>"#),
            &["passwd"],
        ),
        (
            "external use",
            doc(r##"<use href="http://example.com/s.svg#x"/>"##),
            &["example.com"],
        ),
        (
            "svg data image",
            doc(
                r#"<image href="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+" width="5" height="5"/>"#,
            ),
            &["svg+xml"],
        ),
        (
            "external stylesheet",
            doc("<style>@import url(http://example.com/a.css); rect{fill:blue}</style>"),
            &["@import", "example.com"],
        ),
        (
            "stylesheet PI",
            format!(
                r#"<?xml-stylesheet href="http://example.com/a.css"?>{}"#,
                doc("")
            ),
            &["xml-stylesheet", "example.com"],
        ),
        (
            "style url",
            doc(
                r#"<rect style="fill:url(http://example.com/p.svg#g);stroke:red" width="1" height="1"/>"#,
            ),
            &["example.com"],
        ),
        (
            "style escape",
            doc(r#"<rect style="fill:u\72l(http://example.com/)" width="1" height="1"/>"#),
            &["example.com", "\\"],
        ),
        (
            "attribute url",
            doc(r#"<rect fill="url(javascript:alert(1))" width="1" height="1"/>"#),
            &["javascript", "alert"],
        ),
        (
            "font-face",
            doc("<style>@font-face{font-family:x;src:url(http://example.com/f.woff)}</style>"),
            &["font-face", "example.com"],
        ),
        (
            "foreignObject",
            doc(
                r#"<foreignObject width="9" height="9"><div xmlns="http://www.w3.org/1999/xhtml"><iframe src="http://example.com/"/></div></foreignObject>"#,
            ),
            &["foreignobject", "iframe", "example.com"],
        ),
        (
            "animation",
            doc(
                r#"<a><set attributeName="href" to="javascript:alert(1)"/><animate attributeName="href" values="javascript:alert(2)"/></a>"#,
            ),
            &["javascript", "set", "animate"],
        ),
        (
            "html namespace",
            doc(r#"<html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(1)</html:script>"#),
            &["script", "alert"],
        ),
        (
            "feImage",
            doc(r#"<filter id="f"><feImage href="http://example.com/a.png"/></filter>"#),
            &["feimage", "example.com"],
        ),
        (
            "comment",
            doc("<!-- <script>alert(1)</script> -->"),
            &["script", "alert"],
        ),
    ]
}

/// Inputs refused outright (422), never served.
pub(crate) fn refused() -> Vec<(&'static str, String)> {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>"#;
    vec![
        (
            "xxe",
            format!(
                r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg {NS}><text>&x;</text></svg>"#
            ),
        ),
        (
            "billion laughs",
            format!("{laughs}<svg {NS}><text>&d;</text></svg>"),
        ),
        (
            "undeclared entity",
            format!("<svg {NS}><text>&x;</text></svg>"),
        ),
        ("not well formed", format!("<svg {NS}><g></svg>")),
    ]
}

fn sanitized(input: &str) -> Result<String, PipelineError> {
    let bytes = sanitize_svg(input.as_bytes(), &PipelineSettings::default())?;
    Ok(String::from_utf8(bytes).unwrap())
}

#[test]
fn hostile_documents_lose_their_dangerous_part() {
    for (name, input, banned) in hostile() {
        let out = sanitized(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lower = out.to_ascii_lowercase();
        for word in banned {
            assert!(!lower.contains(word), "{name}: {word:?} survived in {out}");
        }
        for node in doc.descendants().filter(|n| n.is_element()) {
            for a in node.attributes() {
                assert!(!a.name().starts_with("on"), "{name}: {out}");
                if a.name() == "href" {
                    assert!(a.value().starts_with('#') || a.value().starts_with("data:image/png"));
                }
            }
        }
        // The harmless part stays.
        if input.contains("fill=\"red\"") {
            assert!(out.contains("fill=\"red\""), "{name}: {out}");
        }
    }
}

#[test]
fn entities_and_malformed_documents_are_refused() {
    for (name, input) in refused() {
        let started = Instant::now();
        assert!(
            matches!(sanitized(&input), Err(PipelineError::Unsupported(_))),
            "{name}"
        );
        assert!(started.elapsed() < Duration::from_secs(1), "{name}");
    }
}

#[test]
fn what_is_kept_keeps_working() {
    let out = sanitized(&doc(
        r##"<defs><linearGradient id="g"><stop offset="0" stop-color="#00f"/></linearGradient></defs>
            <style>.a { fill: url(#g) } rect:first-child{stroke:black}</style>
            <use xlink:href="#g" class="a"/><text x="1" y="9" style="font-size:8px">a &amp; b &lt; c</text>
            <image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>"##,
    ))
    .unwrap();
    let doc = roxmltree::Document::parse(&out).unwrap();
    let text = doc.descendants().find(|n| n.has_tag_name("text")).unwrap();
    assert_eq!(text.text(), Some("a & b < c"));
    assert!(
        out.contains(".a{fill:url(#g)}rect:first-child{stroke:black}"),
        "{out}"
    );
    assert!(out.contains(r##"xlink:href="#g""##));
    assert!(out.contains("data:image/png;base64"));
    assert!(out.contains("font-size:8px"));
}

fn spec(width: Option<u32>, height: Option<u32>) -> RenderSpec {
    RenderSpec::resize(width, height, ImageFormat::Png)
}

fn decoded(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

#[test]
fn probed_from_width_height_or_view_box() {
    let settings = PipelineSettings::default();
    let info = probe(doc("").as_bytes(), &settings).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Svg, 40, 30)
    );
    assert!(info.has_alpha);
    let boxed = format!(r#"<svg {NS} viewBox="0 0 300 150"/>"#);
    let info = probe(boxed.as_bytes(), &settings).unwrap();
    assert_eq!((info.width, info.height), (300, 150));
}

#[test]
fn rasterised_at_the_size_asked_for_with_its_colours() {
    let settings = PipelineSettings::default();
    // Left half red, right half transparent; drawn at 10x its size (no enlarging rule).
    let svg =
        format!(r##"<svg {NS} viewBox="0 0 4 3"><rect width="2" height="3" fill="#f00"/></svg>"##);
    let out = render(svg.as_bytes(), &spec(Some(400), None), &settings).unwrap();
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Png, 400, 300)
    );
    let img = decoded(&out.bytes);
    assert_eq!(img.dimensions(), (400, 300));
    assert_eq!(img.get_pixel(100, 150).0, [255, 0, 0, 255]);
    assert_eq!(img.get_pixel(300, 150).0[3], 0);
    // cover crops the raster like any image; JPEG flattens onto the background.
    let jpeg = RenderSpec {
        fit: Fit::Cover,
        ..RenderSpec::resize(Some(100), Some(100), ImageFormat::Jpeg)
    };
    let out = render(svg.as_bytes(), &jpeg, &settings).unwrap();
    let img = decoded(&out.bytes);
    assert_eq!(img.dimensions(), (100, 100));
    let [r, g, b, _] = img.get_pixel(10, 50).0;
    assert!(r > 240 && g < 20 && b < 20, "{r} {g} {b}");
    let [r, g, b, _] = img.get_pixel(90, 50).0;
    assert!(
        r > 240 && g > 240 && b > 240,
        "white background: {r} {g} {b}"
    );
}

#[test]
fn bombs_are_refused_quickly() {
    let settings = PipelineSettings::default();
    let deep = format!(
        "<svg {NS}>{}{}</svg>",
        "<g>".repeat(100_000),
        "</g>".repeat(100_000)
    );
    let wide = format!(r#"<svg {NS} width="1000000" height="1000000"/>"#);
    let many = format!("<svg {NS}>{}</svg>", "<rect/>".repeat(60_000));
    let mut uses = format!(r#"<svg {NS}><defs><rect id="l0" width="1" height="1"/>"#);
    for level in 1..12 {
        uses.push_str(&format!(r#"<g id="l{level}">"#));
        for _ in 0..10 {
            uses.push_str(&format!(r##"<use href="#l{}"/>"##, level - 1));
        }
        uses.push_str("</g>");
    }
    uses.push_str(r##"</defs><use href="#l11"/></svg>"##);
    let cycle = format!(r##"<svg {NS}><g id="a"><use href="#a"/></g></svg>"##);
    let large = format!("<svg {NS}><desc>{}</desc></svg>", "x".repeat(3 << 20));
    for (name, svg) in [
        ("deep", deep),
        ("wide", wide),
        ("many", many),
        ("uses", uses),
        ("cycle", cycle),
        ("large", large),
    ] {
        let started = Instant::now();
        let result = render(svg.as_bytes(), &spec(Some(100), None), &settings);
        assert!(
            matches!(
                result,
                Err(PipelineError::TooLarge(_) | PipelineError::Unsupported(_))
            ),
            "{name}: {result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{name}");
    }
}

#[test]
fn text_is_drawn_with_the_loaded_fonts() {
    // Glyphs are not compared (they depend on the fonts at hand): only that text draws ink
    // when there is any font, and nothing fails when there is none.
    let fonts = super::fonts::database(None);
    let svg = format!(
        r#"<svg {NS} width="120" height="40"><text x="4" y="30" font-size="28" font-family="sans-serif" fill="black">Hello</text></svg>"#
    );
    let out = render(
        svg.as_bytes(),
        &spec(None, None),
        &PipelineSettings::default(),
    )
    .unwrap();
    let img = decoded(&out.bytes);
    let inked = img.pixels().filter(|p| p.0[3] > 128).count();
    if !fonts.is_empty() {
        assert!(
            inked > 50,
            "{inked} pixels of text with {} faces",
            fonts.len()
        );
    } else {
        assert_eq!(inked, 0);
    }
}
