//! The canonical spelling of parameters as a query string, the inverse of
//! [`parse_query`](super::parse_query): one fixed order, one spelling per value (`fmt=jpeg`, never
//! `jpg`; decimals without trailing zeros), only the fields that are set. URLs the server hands
//! out (`/srcset` candidates) are written this way, so every page that embeds one image at one
//! size names it with the same URL and a CDN keeps one copy.

use crate::pipeline::{Crop, Flip, Padding, Rotation, MILLION};

use super::{FormatChoice, RawParams};

/// `params` as a query string (without `?`); the signature `s` is never written.
pub fn canonical_query(params: &RawParams) -> String {
    let mut out = Vec::<String>::new();
    let mut put = |name: &str, value: String| out.push(format!("{name}={value}"));
    if let Some(w) = params.width {
        put("w", w.to_string());
    }
    if let Some(h) = params.height {
        put("h", h.to_string());
    }
    if let Some(fit) = params.fit {
        put("fit", fit.name().into());
    }
    if let Some(g) = params.gravity {
        put("g", g.name().into());
    }
    if let Some(f) = params.focus {
        put(
            "fp",
            format!("{},{}", millionths(f.x, true), millionths(f.y, true)),
        );
    }
    if let Some(c) = params.crop {
        put("crop", crop(c));
    }
    if let Some(t) = params.trim {
        put("trim", t.to_string());
    }
    if let Some(r) = params.rotation {
        put("rot", degrees(r).to_string());
    }
    if let Some(f) = params.flip.filter(|f| f.horizontal || f.vertical) {
        put("flip", flip(f).into());
    }
    if let Some(s) = params.blur {
        put("blur", decimal(u64::from(s.0), 2, false));
    }
    if let Some(s) = params.sharpen {
        put("sharpen", decimal(u64::from(s.0), 2, false));
    }
    if let Some(p) = params.pad {
        put("pad", pad(p));
    }
    if let Some(bg) = params.background {
        put("bg", bg.hex());
    }
    if let Some(e) = params.enlarge {
        put("enlarge", u8::from(e).to_string());
    }
    if let Some(q) = params.quality {
        put("q", q.to_string());
    }
    if let Some(dpr) = params.dpr {
        put("dpr", dpr.to_string());
    }
    if let Some(f) = params.format {
        put(
            "fmt",
            match f {
                FormatChoice::Auto => "auto".into(),
                FormatChoice::Original => "original".into(),
                FormatChoice::Exact(f) => f.name().into(),
            },
        );
    }
    if let Some(i) = params.interlace {
        put("interlace", u8::from(i).to_string());
    }
    if let Some(l) = params.lossless {
        put("lossless", u8::from(l).to_string());
    }
    if let Some(p) = &params.preset {
        let encoded: String = form_urlencoded::byte_serialize(p.as_bytes()).collect();
        put("preset", encoded);
    }
    out.join("&")
}

/// `value / 10^places` written with the fewest digits; with `point`, always with a decimal
/// point (crop fractions are told from pixels by it).
fn decimal(value: u64, places: u32, point: bool) -> String {
    let scale = 10u64.pow(places);
    let (int, frac) = (value / scale, value % scale);
    if frac == 0 {
        return match point {
            true => format!("{int}.0"),
            false => int.to_string(),
        };
    }
    let digits = format!("{frac:0width$}", width = places as usize);
    format!("{int}.{}", digits.trim_end_matches('0'))
}

fn millionths(value: u32, point: bool) -> String {
    debug_assert!(value <= MILLION);
    decimal(u64::from(value), 6, point)
}

fn crop(c: Crop) -> String {
    match c {
        Crop::Pixels {
            x,
            y,
            width,
            height,
        } => format!("{x},{y},{width},{height}"),
        Crop::Fractions {
            x,
            y,
            width,
            height,
        } => [x, y, width, height].map(|v| millionths(v, true)).join(","),
    }
}

fn degrees(r: Rotation) -> u32 {
    match r {
        Rotation::None => 0,
        Rotation::Quarter => 90,
        Rotation::Half => 180,
        Rotation::ThreeQuarters => 270,
    }
}

fn flip(f: Flip) -> &'static str {
    match (f.horizontal, f.vertical) {
        (true, true) => "hv",
        (true, false) => "h",
        _ => "v",
    }
}

fn pad(p: Padding) -> String {
    if p == Padding::uniform(p.top) {
        return p.top.to_string();
    }
    format!("{},{},{},{}", p.top, p.right, p.bottom, p.left)
}

#[cfg(test)]
mod tests {
    use super::super::parse_query;
    use super::*;

    fn round_trip(query: &str) -> String {
        let parsed = parse_query(query, 8192, 8192).unwrap();
        let text = canonical_query(&parsed);
        assert_eq!(
            parse_query(&text, 8192, 8192).unwrap(),
            parsed,
            "{query} -> {text}"
        );
        text
    }

    #[test]
    fn every_parameter_survives_its_canonical_spelling() {
        let all = "w=400&h=300&fit=cover&g=northeast&fp=0.25,0.6&crop=0.1,0.2,0.5,1.&trim=12\
                   &rot=90&flip=vh&blur=1.50&sharpen=2&pad=1,2,3,4&bg=ff000080&enlarge=1&q=70\
                   &dpr=2&fmt=jpg&interlace=1&lossless=0&preset=a%20b";
        assert_eq!(
            round_trip(all),
            "w=400&h=300&fit=cover&g=northeast&fp=0.25,0.6&crop=0.1,0.2,0.5,1.0&trim=12\
             &rot=90&flip=hv&blur=1.5&sharpen=2&pad=1,2,3,4&bg=ff000080&enlarge=1&q=70\
             &dpr=2&fmt=jpeg&interlace=1&lossless=0&preset=a+b"
        );
    }

    #[test]
    fn spellings_of_one_request_are_written_once() {
        assert_eq!(round_trip("fmt=jpeg&w=10"), round_trip("w=10&format=jpg"));
        assert_eq!(round_trip("pad=5,5,5,5"), "pad=5");
        assert_eq!(round_trip("crop=1,2,3,4"), "crop=1,2,3,4");
        assert_eq!(round_trip("fp=.5,1"), "fp=0.5,1.0");
        assert_eq!(round_trip("gravity=centre"), "g=center");
        assert_eq!(round_trip("bg=FFF"), "bg=ffffff");
        assert_eq!(
            round_trip("crop=0.000001,0.,.5,1."),
            "crop=0.000001,0.0,0.5,1.0"
        );
    }
}
