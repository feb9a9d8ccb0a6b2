//! Output geometry: from the displayed source size and the requested box to the region of the
//! source that is used, the size it is resampled to, and the canvas it lands on. Pure
//! arithmetic, no pixels, so every fit rule is unit- and property-tested here.

use super::{Fit, Gravity};

/// A rectangle in source pixels. Fractional, because the cover crop of a downscaled image
/// need not fall on whole source pixels and the resampler can use sub-pixel offsets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// What to do with the source: resample `crop` to `scaled`, place it at `offset` on a canvas
/// of `canvas` (filled with the background where the image does not cover it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub crop: Rect,
    pub scaled: (u32, u32),
    pub canvas: (u32, u32),
    pub offset: (u32, u32),
}

impl Plan {
    /// Whether the canvas has letterbox bands around the image.
    pub fn letterboxed(&self) -> bool {
        self.scaled != self.canvas
    }
}

/// The request, in output pixels (`dpr` already applied by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub gravity: Gravity,
    /// A point of the source (its pixels) that `cover` centres its window on as far as the
    /// source allows; it overrides the gravity.
    pub focus: Option<(f64, f64)>,
    pub enlarge: bool,
    pub max_width: u32,
    pub max_height: u32,
}

/// How the source scale follows from the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Independent scales per axis: `fill`, one side given, or no side given.
    Stretch,
    /// One uniform scale, the smaller (`contain`/`inside`) or larger (`cover`/`outside`) ratio.
    Min,
    Max,
}

/// Plans the render of a `sw`x`sh` (displayed) source for `req`.
pub fn plan(sw: u32, sh: u32, req: &Request) -> Plan {
    let (swf, shf) = (f64::from(sw.max(1)), f64::from(sh.max(1)));
    let (max_w, max_h) = (
        f64::from(req.max_width.max(1)),
        f64::from(req.max_height.max(1)),
    );

    // The box, still fractional: rounding happens once, at the end.
    let (mut bw, mut bh, mode) = match (req.width, req.height) {
        (None, None) => (swf, shf, Mode::Stretch),
        (Some(w), None) => (
            f64::from(w.max(1)),
            shf * f64::from(w.max(1)) / swf,
            Mode::Stretch,
        ),
        (None, Some(h)) => (
            swf * f64::from(h.max(1)) / shf,
            f64::from(h.max(1)),
            Mode::Stretch,
        ),
        (Some(w), Some(h)) => {
            let mode = match req.fit {
                Fit::Fill => Mode::Stretch,
                Fit::Contain | Fit::Inside => Mode::Min,
                Fit::Cover | Fit::Outside => Mode::Max,
            };
            (f64::from(w.max(1)), f64::from(h.max(1)), mode)
        }
    };
    let one_side = req.width.is_none() || req.height.is_none();
    // For one side, the derived side was exact before rounding, so its ratio equals the given one.
    let upscale = |bw: f64, bh: f64| -> f64 {
        let (kx, ky) = (bw / swf, bh / shf);
        match mode {
            Mode::Min => kx.min(ky),
            Mode::Max | Mode::Stretch => kx.max(ky),
        }
    };
    if !req.enlarge {
        let k = upscale(bw, bh);
        if k > 1.0 {
            bw /= k;
            bh /= k;
        }
    }

    // Output size for a box, before rounding; `inside`/`outside` output the scaled image.
    let output = |bw: f64, bh: f64| -> (f64, f64) {
        match (req.fit, one_side) {
            (Fit::Inside | Fit::Outside, false) => {
                let s = upscale(bw, bh);
                (swf * s, shf * s)
            }
            _ => (bw, bh),
        }
    };
    let (ow, oh) = output(bw, bh);
    let shrink = (max_w / ow.round().max(1.0)).min(max_h / oh.round().max(1.0));
    if shrink < 1.0 {
        bw *= shrink;
        bh *= shrink;
    }

    let px = |v: f64, max: f64| -> u32 { v.round().clamp(1.0, max) as u32 };
    let (bwi, bhi) = (px(bw, max_w), px(bh, max_h));
    let full = Rect {
        x: 0.0,
        y: 0.0,
        width: swf,
        height: shf,
    };
    let (ax, ay) = req.gravity.anchors();
    let (ax, ay) = (f64::from(ax) / 2.0, f64::from(ay) / 2.0);

    if one_side || mode == Mode::Stretch {
        return Plan {
            crop: full,
            scaled: (bwi, bhi),
            canvas: (bwi, bhi),
            offset: (0, 0),
        };
    }
    let (bwf, bhf) = (f64::from(bwi), f64::from(bhi));
    match req.fit {
        Fit::Cover => {
            let s = (bwf / swf).max(bhf / shf);
            let (cw, ch) = ((bwf / s).min(swf), (bhf / s).min(shf));
            let (x, y) = match req.focus {
                Some((fx, fy)) => (
                    (fx - cw / 2.0).clamp(0.0, swf - cw),
                    (fy - ch / 2.0).clamp(0.0, shf - ch),
                ),
                None => ((swf - cw) * ax, (shf - ch) * ay),
            };
            let crop = Rect {
                x,
                y,
                width: cw,
                height: ch,
            };
            Plan {
                crop,
                scaled: (bwi, bhi),
                canvas: (bwi, bhi),
                offset: (0, 0),
            }
        }
        Fit::Contain => {
            let s = (bwf / swf).min(bhf / shf);
            let (iw, ih) = (px(swf * s, bwf), px(shf * s, bhf));
            let offset = (
                (f64::from(bwi - iw) * ax).round() as u32,
                (f64::from(bhi - ih) * ay).round() as u32,
            );
            Plan {
                crop: full,
                scaled: (iw, ih),
                canvas: (bwi, bhi),
                offset,
            }
        }
        Fit::Inside | Fit::Outside => {
            let s = upscale(bwf, bhf);
            let scaled = (px(swf * s, max_w), px(shf * s, max_h));
            Plan {
                crop: full,
                scaled,
                canvas: scaled,
                offset: (0, 0),
            }
        }
        Fit::Fill => unreachable!("fill is Mode::Stretch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(a: Rect, b: Rect) {
        let d = [a.x - b.x, a.y - b.y, a.width - b.width, a.height - b.height];
        assert!(d.iter().all(|d| d.abs() < 1e-6), "{a:?} != {b:?}");
    }

    fn req(w: Option<u32>, h: Option<u32>, fit: Fit) -> Request {
        Request {
            width: w,
            height: h,
            fit,
            gravity: Gravity::Center,
            focus: None,
            enlarge: false,
            max_width: 4096,
            max_height: 4096,
        }
    }

    #[test]
    fn one_side() {
        let p = plan(4000, 3000, &req(Some(400), None, Fit::Cover));
        assert_eq!((p.scaled, p.canvas), ((400, 300), (400, 300)));
        let p = plan(4000, 3000, &req(None, Some(100), Fit::Contain));
        assert_eq!(p.canvas, (133, 100));
        // Rounds to nearest: 3000*401/4000 = 300.75.
        assert_eq!(
            plan(4000, 3000, &req(Some(401), None, Fit::Fill)).canvas,
            (401, 301)
        );
    }

    #[test]
    fn no_side_is_source_size() {
        let p = plan(640, 427, &req(None, None, Fit::Cover));
        assert_eq!((p.scaled, p.canvas), ((640, 427), (640, 427)));
        assert_close(
            p.crop,
            Rect {
                x: 0.0,
                y: 0.0,
                width: 640.0,
                height: 427.0,
            },
        );
    }

    #[test]
    fn never_enlarges_by_default() {
        let p = plan(4000, 3000, &req(Some(8000), None, Fit::Cover));
        assert_eq!(p.canvas, (4000, 3000));
        let p = plan(400, 300, &req(Some(800), Some(800), Fit::Cover));
        assert_eq!((p.scaled, p.canvas), ((300, 300), (300, 300)));
        assert_close(
            p.crop,
            Rect {
                x: 50.0,
                y: 0.0,
                width: 300.0,
                height: 300.0,
            },
        );
        let p = plan(400, 300, &req(Some(800), Some(400), Fit::Contain));
        assert_eq!(
            (p.scaled, p.canvas, p.offset),
            ((400, 300), (600, 300), (100, 0))
        );
        let p = plan(400, 300, &req(Some(800), Some(800), Fit::Fill));
        // k = max(2, 2.67): box 300x300, the vertical scale is exactly 1.
        assert_eq!(p.canvas, (300, 300));
        let p = plan(400, 300, &req(Some(800), Some(800), Fit::Inside));
        assert_eq!(p.canvas, (400, 300));
        let p = plan(400, 300, &req(Some(800), Some(800), Fit::Outside));
        assert_eq!(p.canvas, (400, 300));
    }

    #[test]
    fn enlarge_allows_upscaling() {
        let mut r = req(Some(800), Some(800), Fit::Cover);
        r.enlarge = true;
        let p = plan(400, 300, &r);
        assert_eq!(p.canvas, (800, 800));
        assert_close(
            p.crop,
            Rect {
                x: 50.0,
                y: 0.0,
                width: 300.0,
                height: 300.0,
            },
        );
    }

    #[test]
    fn fits() {
        let (sw, sh) = (4000, 3000);
        let p = plan(sw, sh, &req(Some(400), Some(400), Fit::Cover));
        assert_eq!((p.scaled, p.canvas), ((400, 400), (400, 400)));
        assert_close(
            p.crop,
            Rect {
                x: 500.0,
                y: 0.0,
                width: 3000.0,
                height: 3000.0,
            },
        );
        let p = plan(sw, sh, &req(Some(400), Some(400), Fit::Contain));
        assert_eq!(
            (p.scaled, p.canvas, p.offset),
            ((400, 300), (400, 400), (0, 50))
        );
        let p = plan(sw, sh, &req(Some(400), Some(400), Fit::Fill));
        assert_eq!((p.scaled, p.canvas), ((400, 400), (400, 400)));
        let p = plan(sw, sh, &req(Some(400), Some(400), Fit::Inside));
        assert_eq!((p.scaled, p.canvas), ((400, 300), (400, 300)));
        let p = plan(sw, sh, &req(Some(400), Some(400), Fit::Outside));
        assert_eq!((p.scaled, p.canvas), ((533, 400), (533, 400)));
    }

    #[test]
    fn gravity() {
        let mut r = req(Some(400), Some(400), Fit::Cover);
        r.gravity = Gravity::East;
        assert!((plan(4000, 3000, &r).crop.x - 1000.0).abs() < 1e-6);
        r.gravity = Gravity::West;
        assert_eq!(plan(4000, 3000, &r).crop.x, 0.0);
        r.gravity = Gravity::North;
        let p = plan(3000, 4000, &r);
        assert!(p.crop.x.abs() < 1e-6 && p.crop.y.abs() < 1e-6);
        r.gravity = Gravity::South;
        assert!((plan(3000, 4000, &r).crop.y - 1000.0).abs() < 1e-6);
        let mut r = req(Some(400), Some(400), Fit::Contain);
        r.gravity = Gravity::SouthEast;
        assert_eq!(plan(4000, 3000, &r).offset, (0, 100));
        r.gravity = Gravity::North;
        assert_eq!(plan(4000, 3000, &r).offset, (0, 0));
    }

    #[test]
    fn focus_centres_the_window_as_far_as_the_source_allows() {
        let mut r = req(Some(400), Some(400), Fit::Cover);
        // A 4000x3000 source keeps a 3000x3000 window: centred on x=2000 it starts at 500.
        r.focus = Some((2000.0, 0.0));
        let p = plan(4000, 3000, &r);
        assert!((p.crop.x - 500.0).abs() < 1e-6 && p.crop.y == 0.0, "{p:?}");
        r.focus = Some((3900.0, 1500.0));
        assert!((plan(4000, 3000, &r).crop.x - 1000.0).abs() < 1e-6);
        r.focus = Some((100.0, 1500.0));
        assert_eq!(plan(4000, 3000, &r).crop.x, 0.0);
        // The focus overrides the gravity.
        r.gravity = Gravity::East;
        assert_eq!(plan(4000, 3000, &r).crop.x, 0.0);
    }

    #[test]
    fn clamps_to_max_size() {
        let mut r = req(Some(400), None, Fit::Cover);
        r.enlarge = true;
        let p = plan(100, 10000, &r);
        assert_eq!(p.canvas, (41, 4096));
        let mut r = req(Some(10000), Some(10000), Fit::Contain);
        r.enlarge = true;
        let p = plan(400, 300, &r);
        assert_eq!(p.canvas, (4096, 4096));
        assert_eq!(p.scaled, (4096, 3072));
        let mut r = req(Some(5000), Some(5000), Fit::Outside);
        r.enlarge = true;
        let p = plan(400, 300, &r);
        assert_eq!(p.canvas, (4096, 3072));
        // No box at all on a source larger than the maximum.
        let p = plan(6000, 3000, &req(None, None, Fit::Cover));
        assert_eq!(p.canvas, (4096, 2048));
    }

    #[test]
    fn degenerate_sources() {
        let p = plan(1, 1, &req(Some(400), Some(300), Fit::Cover));
        assert_eq!(p.canvas, (1, 1));
        let p = plan(1, 10000, &req(Some(400), None, Fit::Cover));
        assert_eq!(p.canvas, (1, 4096));
        let mut r = req(Some(400), Some(400), Fit::Contain);
        r.enlarge = true;
        let p = plan(1, 10000, &r);
        assert_eq!((p.scaled, p.canvas), ((1, 400), (400, 400)));
        let p = plan(10000, 1, &req(None, Some(5), Fit::Inside));
        assert_eq!(p.canvas, (4096, 1));
        let p = plan(0, 0, &req(Some(10), Some(10), Fit::Cover));
        assert_eq!(p.canvas, (1, 1));
    }
}
