//! An SVG's intrinsic size in CSS pixels, by the rules usvg sizes its canvas with: `width` and
//! `height` (default `100%`), percentages of the `viewBox`, or of 100 px without one; absolute
//! units at 96 dpi, `em` at the default 12 px font.

use std::str::FromStr;

use roxmltree::Node;
use svgtypes::{Length, LengthUnit, ViewBox};

/// Without a `viewBox`, what percentages are of (usvg's `default_size`).
const DEFAULT_SIDE: f64 = 100.0;
const FONT_SIZE: f64 = 12.0;

/// The size of the root `svg`, each side rounded and at least 1 (beyond `u32`, saturated: the
/// pixel limit refuses it).
pub fn intrinsic(root: Node) -> (u32, u32) {
    let view_box = root
        .attribute("viewBox")
        .and_then(|v| ViewBox::from_str(v).ok())
        .filter(|v| v.w > 0.0 && v.h > 0.0 && v.w.is_finite() && v.h.is_finite());
    let length = |name: &str| {
        root.attribute(name)
            .and_then(|v| Length::from_str(v).ok())
            .unwrap_or(Length::new(100.0, LengthUnit::Percent))
    };
    let (w, h) = (length("width"), length("height"));
    let (base_w, base_h) = view_box.map_or((DEFAULT_SIDE, DEFAULT_SIDE), |v| (v.w, v.h));
    let side = |l: Length, base: f64| match pixels(l) {
        Some(px) => px,
        None => base * l.number / 100.0,
    };
    let (mut width, mut height) = (side(w, base_w), side(h, base_h));
    // One side given, the other a percentage: the viewBox's aspect ratio gives the other.
    if let Some(v) = view_box {
        match (w.unit == LengthUnit::Percent, h.unit == LengthUnit::Percent) {
            (false, true) if root.attribute("height").is_none() => height = width * v.h / v.w,
            (true, false) if root.attribute("width").is_none() => width = height * v.w / v.h,
            _ => {}
        }
    }
    (whole(width), whole(height))
}

/// An absolute length in pixels; `None` for a percentage.
fn pixels(l: Length) -> Option<f64> {
    let n = l.number;
    Some(match l.unit {
        LengthUnit::None | LengthUnit::Px => n,
        LengthUnit::Em => n * FONT_SIZE,
        LengthUnit::Ex => n * FONT_SIZE / 2.0,
        LengthUnit::In => n * 96.0,
        LengthUnit::Cm => n * 96.0 / 2.54,
        LengthUnit::Mm => n * 96.0 / 25.4,
        LengthUnit::Pt => n * 4.0 / 3.0,
        LengthUnit::Pc => n * 16.0,
        LengthUnit::Percent => return None,
    })
}

fn whole(v: f64) -> u32 {
    if v.is_finite() && v > 0.0 {
        v.round().clamp(1.0, f64::from(u32::MAX)) as u32
    } else {
        DEFAULT_SIDE as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(svg: &str) -> (u32, u32) {
        let doc = roxmltree::Document::parse(svg).unwrap();
        intrinsic(doc.root_element())
    }

    #[test]
    fn from_attributes_or_view_box() {
        assert_eq!(size("<svg width='40' height='30'/>"), (40, 30));
        assert_eq!(size("<svg width='1in' height='72pt'/>"), (96, 96));
        assert_eq!(size("<svg viewBox='0 0 200 100'/>"), (200, 100));
        assert_eq!(size("<svg width='400' viewBox='0 0 200 100'/>"), (400, 200));
        assert_eq!(size("<svg height='50' viewBox='0 0 200 100'/>"), (100, 50));
        assert_eq!(
            size("<svg width='50%' height='50%' viewBox='0 0 200 100'/>"),
            (100, 50)
        );
        assert_eq!(size("<svg/>"), (100, 100));
        assert_eq!(size("<svg width='-4' height='nonsense'/>"), (100, 100));
        assert_eq!(size("<svg width='1e12' height='1'/>").0, u32::MAX);
    }
}
