//! SVG originals through the real server: recognised by content whatever their name, served
//! only sanitised (read back with an XML parser: no script, handler, `javascript:`, external
//! reference or `foreignObject` left) with the CSP, with an ETag and 304 like any original;
//! entity tricks and bombs refused with 422 quickly, never echoed; `/info` sizes them.

use std::time::{Duration, Instant};

use crate::common::app::TestApp;
use crate::common::client::{error_of, header};

pub const NS: &str =
    r#"xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink""#;
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// A 40x30 SVG: a red rectangle, then `extra`.
pub fn svg(extra: &str) -> String {
    format!(
        r#"<svg {NS} width="40" height="30"><rect width="40" height="30" fill="red"/>{extra}</svg>"#
    )
}

/// Hostile documents, each with the words that must not come back (case-insensitively).
fn hostile() -> Vec<(&'static str, String, &'static [&'static str])> {
    vec![
        ("script", svg("<script>alert('xss')</script>"), &["<script", "alert"]),
        ("handlers", svg(r#"<g onload="alert(1)"><rect onmouseover="alert(2)" width="1" height="1"/></g>"#), &["onload", "onmouseover", "alert"]),
        ("javascript link", svg(r#"<a xlink:href="javascript:alert(1)"><rect width="5" height="5"/></a>"#), &["javascript:", "alert"]),
        ("external image", svg(r#"<image href="https://evil.example/track.png" width="5" height="5"/>"#), &["evil.example"]),
        ("external stylesheet", svg("<style>@import url(https://evil.example/a.css); .x{fill:url(https://evil.example/p)}</style>"), &["@import", "evil.example"]),
        ("stylesheet instruction", format!(r#"<?xml-stylesheet type="text/css" href="https://evil.example/a.css"?>{}"#, svg("")), &["xml-stylesheet", "evil.example"]),
        ("style attribute", svg(r#"<rect style="fill:url('https://evil.example/p#x')" width="1" height="1"/>"#), &["evil.example"]),
        ("foreignObject", svg(r#"<foreignObject width="10" height="10"><body xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></body></foreignObject>"#), &["foreignobject", "<body", "alert"]),
        ("animation to javascript", svg(r##"<a href="#x"><set attributeName="href" to="javascript:alert(1)"/></a>"##), &["<set", "javascript:"]),
    ]
}

async fn app_with(files: &[(&str, String)]) -> TestApp {
    let app = TestApp::spawn().await;
    let dir = app.root.path().join("svg");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    app
}

#[tokio::test]
async fn hostile_svgs_are_served_without_their_dangerous_part() {
    let cases = hostile();
    let files: Vec<(String, String)> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, body, _))| (format!("h{i}.svg"), body.clone()))
        .collect();
    let files: Vec<(&str, String)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let app = app_with(&files).await;
    for (i, (name, _, banned)) in cases.iter().enumerate() {
        let res = app.get(&format!("/img/svg/h{i}.svg")).await;
        assert_eq!(res.status(), 200, "{name}");
        assert_eq!(header(&res, "content-type"), "image/svg+xml", "{name}");
        assert_eq!(header(&res, "content-security-policy"), CSP, "{name}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{name}");
        let body = res.text().await.unwrap();
        let doc = roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let lower = body.to_ascii_lowercase();
        for word in *banned {
            assert!(
                !lower.contains(word),
                "{name}: {word:?} came back in {body}"
            );
        }
        for node in doc.descendants().filter(|n| n.is_element()) {
            assert!(
                !matches!(
                    node.tag_name().name(),
                    "script" | "foreignObject" | "set" | "animate"
                ),
                "{name}: {body}"
            );
            for a in node.attributes() {
                assert!(
                    !a.name().to_ascii_lowercase().starts_with("on"),
                    "{name}: {body}"
                );
                if a.name() == "href" {
                    assert!(a.value().starts_with('#'), "{name}: {body}");
                }
            }
        }
        assert!(
            body.contains(r#"fill="red""#),
            "{name}: the drawing stays: {body}"
        );
    }
}

#[tokio::test]
async fn entity_tricks_and_bombs_are_refused_quickly_and_never_echoed() {
    let laughs = r#"<!DOCTYPE svg [<!ENTITY a "lollollollol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>"#;
    let many = format!("<svg {NS}>{}</svg>", "<rect/>".repeat(60_000));
    let deep = format!(
        "<svg {NS}>{}{}</svg>",
        "<g>".repeat(5_000),
        "</g>".repeat(5_000)
    );
    let mut uses =
        format!(r#"<svg {NS} width="10" height="10"><defs><rect id="u0" width="1" height="1"/>"#);
    for level in 1..10 {
        uses.push_str(&format!(r#"<g id="u{level}">"#));
        uses.push_str(&format!(r##"<use href="#u{}"/>"##, level - 1).repeat(10));
        uses.push_str("</g>");
    }
    uses.push_str(r##"</defs><use href="#u9"/></svg>"##);
    let files = [
        (
            "xxe.svg",
            format!(
                r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg {NS}><text>&x;</text></svg>"#
            ),
            "unsupported_source",
        ),
        (
            "laughs.svg",
            format!("{laughs}<svg {NS}><text>&c;</text></svg>"),
            "unsupported_source",
        ),
        (
            "wide.svg",
            format!(
                r#"<svg {NS} width="100000" height="100000"><rect width="9" height="9"/></svg>"#
            ),
            "source_too_large",
        ),
        ("many.svg", many, "source_too_large"),
        ("deep.svg", deep, "source_too_large"),
        ("uses.svg", uses, "source_too_large"),
        (
            "big.svg",
            format!(
                "<svg {NS}><desc>{}</desc></svg>",
                "x".repeat(2 * 1024 * 1024)
            ),
            "source_too_large",
        ),
    ];
    let app = app_with(
        &files
            .iter()
            .map(|(n, b, _)| (*n, b.clone()))
            .collect::<Vec<_>>(),
    )
    .await;
    for (name, _, code) in &files {
        for query in ["", "?w=100", "?w=100&fmt=webp"] {
            let url = format!("/img/svg/{name}{query}");
            let started = Instant::now();
            let res = app.get(&url).await;
            assert_eq!(res.status(), 422, "{url}");
            let body = res.bytes().await.unwrap();
            assert_eq!(error_of(&body).0, *code, "{url}");
            let text = String::from_utf8_lossy(&body);
            assert!(
                !text.contains("passwd") && !text.contains("lol") && !text.contains("<"),
                "{url}: {text}"
            );
            assert!(started.elapsed() < Duration::from_secs(3), "{url}");
        }
    }
    assert_eq!(app.get("/info/svg/wide.svg").await.status(), 422);
}

#[tokio::test]
async fn svg_is_known_by_content_and_keeps_the_etag_of_originals() {
    let app = app_with(&[
        ("plain.svg", svg("")),
        ("named.png", svg("")),
        (
            "html.svg",
            "<html><body><svg></svg></body></html>".to_string(),
        ),
    ])
    .await;
    let first = app.get("/img/svg/plain.svg").await;
    assert_eq!(first.status(), 200);
    let etag = header(&first, "etag");
    assert!(etag.starts_with('"'));
    let again = app
        .get_with("/img/svg/plain.svg", &[("If-None-Match", &etag)])
        .await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), etag);
    let named = app.get("/img/svg/named.png").await;
    assert_eq!(header(&named, "content-type"), "image/svg+xml");
    assert_eq!(header(&named, "content-security-policy"), CSP);
    let html = app.get("/img/svg/html.svg").await;
    assert_eq!(html.status(), 422);
    assert_eq!(
        error_of(&html.bytes().await.unwrap()).0,
        "unsupported_source"
    );
    // HEAD keeps the headers.
    let head = app
        .client
        .head(app.url("/img/svg/plain.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-security-policy"), CSP);
}

#[tokio::test]
async fn info_reports_the_size_and_format() {
    let app = app_with(&[
        ("sized.svg", svg("")),
        ("boxed.svg", format!(r#"<svg {NS} viewBox="0 0 320 180"/>"#)),
        (
            "half.svg",
            format!(r#"<svg {NS} width="64" viewBox="0 0 32 16"/>"#),
        ),
    ])
    .await;
    for (name, w, h) in [("sized", 40, 30), ("boxed", 320, 180), ("half", 64, 32)] {
        let res = app.get(&format!("/info/svg/{name}.svg")).await;
        assert_eq!(res.status(), 200, "{name}");
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            (
                json["width"].as_u64(),
                json["height"].as_u64(),
                json["format"].as_str()
            ),
            (Some(w), Some(h), Some("svg")),
            "{name}"
        );
    }
    let res = app.get("/info/svg/sized.svg?placeholder=1").await;
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["dominant_color"], "#ff0000", "{json}");
}
