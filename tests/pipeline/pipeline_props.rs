//! Property tests: random boxes, fits, dpr and flags against random small images. The output
//! size must follow the fit rules (checked against rules restated here, independently of
//! `geometry::plan`'s arithmetic), never exceed the maximum, and nothing may panic.

use crate::common::pipeline::*;
use imgserver::pipeline::geometry::{plan, Request};
use imgserver::pipeline::{
    render, Fit, Flip, Gravity, ImageFormat, Padding, PipelineSettings, Rotation,
};
use proptest::prelude::*;

fn fit() -> impl Strategy<Value = Fit> {
    prop_oneof![
        Just(Fit::Cover),
        Just(Fit::Contain),
        Just(Fit::Fill),
        Just(Fit::Inside),
        Just(Fit::Outside)
    ]
}

fn gravity() -> impl Strategy<Value = Gravity> {
    prop_oneof![
        Just(Gravity::Center),
        Just(Gravity::North),
        Just(Gravity::SouthEast),
        Just(Gravity::Smart)
    ]
}

/// The request's box after `dpr`, as the caller computes it.
fn with_dpr(side: Option<u32>, dpr: f64) -> Option<u32> {
    side.map(|v| ((f64::from(v) * dpr).round() as u32).max(1))
}

/// Whether `b` is the rounded counterpart of `a` for aspect ratio `r` = b/a: both sides come
/// from one fractional box, each rounded on its own (and clamped to at least 1).
fn aspect_ok(a: u32, b: u32, r: f64) -> bool {
    let a = f64::from(a);
    // a > 1: the box side was within 0.5 of a; a == 1: it may have been anything below 1.5.
    let lo = if a <= 1.0 {
        1.0
    } else {
        (r * (a - 0.5) - 0.5).max(1.0)
    };
    let hi = (r * (a + 0.5) + 0.5).max(1.0);
    let b = f64::from(b);
    b >= lo - 1e-6 && b <= hi + 1e-6
}

fn aspect_kept(ow: u32, oh: u32, sw: f64, sh: f64) -> bool {
    aspect_ok(ow, oh, sh / sw) || aspect_ok(oh, ow, sw / sh)
}

/// Checks `(ow, oh)` against the rules for a `sw`x`sh` source.
fn check_rules(sw: u32, sh: u32, req: &Request, (ow, oh): (u32, u32)) -> Result<(), TestCaseError> {
    prop_assert!(ow >= 1 && oh >= 1);
    prop_assert!(
        ow <= req.max_width && oh <= req.max_height,
        "{ow}x{oh} over the maximum"
    );
    let (swf, shf) = (f64::from(sw), f64::from(sh));
    let near = |a: u32, b: f64| (f64::from(a) - b).abs() <= 1.0;
    let (mw, mh) = (f64::from(req.max_width), f64::from(req.max_height));
    match (req.width, req.height) {
        (None, None) => {
            if sw <= req.max_width && sh <= req.max_height {
                prop_assert_eq!((ow, oh), (sw, sh));
            }
            prop_assert!(aspect_kept(ow, oh, swf, shf), "{ow}x{oh}");
        }
        (Some(w), None) => {
            let h = (shf * f64::from(w) / swf).round().max(1.0);
            if (req.enlarge || w <= sw) && f64::from(w) <= mw && h <= mh {
                prop_assert_eq!((ow, oh), (w, h as u32));
            }
            if !req.enlarge {
                prop_assert!(ow <= sw.max(1) && oh <= sh.max(1));
            }
            prop_assert!(aspect_kept(ow, oh, swf, shf), "{ow}x{oh}");
        }
        (None, Some(h)) => {
            let w = (swf * f64::from(h) / shf).round().max(1.0);
            if (req.enlarge || h <= sh) && w <= mw && f64::from(h) <= mh {
                prop_assert_eq!((ow, oh), (w as u32, h));
            }
            if !req.enlarge {
                prop_assert!(ow <= sw.max(1) && oh <= sh.max(1));
            }
            prop_assert!(aspect_kept(ow, oh, swf, shf), "{ow}x{oh}");
        }
        (Some(w), Some(h)) => {
            let (kx, ky) = (f64::from(w) / swf, f64::from(h) / shf);
            let in_max = w <= req.max_width && h <= req.max_height;
            match req.fit {
                Fit::Cover | Fit::Fill => {
                    if in_max && (req.enlarge || kx.max(ky) <= 1.0) {
                        prop_assert_eq!((ow, oh), (w, h));
                    }
                    if !req.enlarge {
                        prop_assert!(ow <= sw && oh <= sh, "{ow}x{oh} upscales");
                    }
                }
                Fit::Contain => {
                    if in_max && (req.enlarge || kx.min(ky) <= 1.0) {
                        prop_assert_eq!((ow, oh), (w, h));
                    }
                }
                Fit::Inside | Fit::Outside => {
                    let s = if req.fit == Fit::Inside {
                        kx.min(ky)
                    } else {
                        kx.max(ky)
                    };
                    let natural = (swf * s, shf * s);
                    if (req.enlarge || s <= 1.0)
                        && natural.0.round() <= mw
                        && natural.1.round() <= mh
                    {
                        prop_assert!(near(ow, natural.0) && near(oh, natural.1), "{ow}x{oh}");
                        if req.fit == Fit::Inside {
                            prop_assert!(ow <= w && oh <= h);
                        } else {
                            prop_assert!(ow + 1 >= w && oh + 1 >= h);
                        }
                    }
                    if !req.enlarge {
                        prop_assert!(ow <= sw && oh <= sh, "{ow}x{oh} upscales");
                    }
                    prop_assert!(aspect_kept(ow, oh, swf, shf), "{ow}x{oh}");
                }
            }
            if !req.enlarge {
                // No source pixel upscaled: the image part is at most the crop it comes from.
                let p = plan(sw, sh, req);
                prop_assert!(f64::from(p.scaled.0) <= p.crop.width + 0.5 + 1e-6);
                prop_assert!(f64::from(p.scaled.1) <= p.crop.height + 0.5 + 1e-6);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn geometry_follows_the_rules(
        sw in 1u32..20_000, sh in 1u32..20_000,
        w in proptest::option::of(1u32..10_000), h in proptest::option::of(1u32..10_000),
        dpr in prop_oneof![Just(1.0), Just(2.0), Just(3.0), 0.5f64..4.0],
        fit in fit(), gravity in gravity(), enlarge in any::<bool>(),
        max_width in prop_oneof![Just(4096u32), 1u32..5000],
        max_height in prop_oneof![Just(4096u32), 1u32..5000],
    ) {
        let req = Request {
            width: with_dpr(w, dpr), height: with_dpr(h, dpr), fit, gravity, focus: None, enlarge,
            max_width, max_height,
        };
        let p = plan(sw, sh, &req);
        check_rules(sw, sh, &req, p.canvas)?;
        // The image lies inside the canvas and the crop inside the source.
        prop_assert!(p.offset.0 + p.scaled.0 <= p.canvas.0);
        prop_assert!(p.offset.1 + p.scaled.1 <= p.canvas.1);
        prop_assert!(p.crop.x >= -1e-9 && p.crop.y >= -1e-9);
        prop_assert!(p.crop.x + p.crop.width <= f64::from(sw) + 1e-6);
        prop_assert!(p.crop.y + p.crop.height <= f64::from(sh) + 1e-6);
        prop_assert!(p.crop.width > 0.0 && p.crop.height > 0.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    #[test]
    fn renders_follow_the_rules(
        sw in 1u32..48, sh in 1u32..48, alpha in any::<bool>(), seed in any::<u32>(),
        w in proptest::option::of(1u32..96), h in proptest::option::of(1u32..96),
        dpr in prop_oneof![Just(1.0), Just(2.0), 0.5f64..3.0],
        fit in fit(), gravity in gravity(), enlarge in any::<bool>(),
        format in prop_oneof![Just(ImageFormat::Jpeg), Just(ImageFormat::Png), Just(ImageFormat::Webp)],
        quarters in 0u32..4, flip in any::<(bool, bool)>(), pad in 0u32..3,
    ) {
        // A noisy source, so the encoders get real content.
        let mut state = seed;
        let channels = if alpha { 4 } else { 3 };
        let data: Vec<u8> = (0..sw * sh * channels).map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        }).collect();
        let mut png = Vec::new();
        let color = if alpha { image::ExtendedColorType::Rgba8 } else { image::ExtendedColorType::Rgb8 };
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut png), &data, sw, sh, color,
        ).unwrap();

        let settings = PipelineSettings { max_width: 64, max_height: 64, ..Default::default() };
        let mut s = spec(with_dpr(w, dpr), with_dpr(h, dpr), format);
        s.fit = fit;
        s.gravity = gravity;
        s.enlarge = enlarge;
        s.ops.rotation = Rotation::from_degrees(quarters * 90).unwrap();
        s.ops.flip = Flip { horizontal: flip.0, vertical: flip.1 };
        s.ops.pad = Padding::uniform(pad);
        let Ok(out) = render(&png, &s, &settings) else {
            // Only padding past the ceiling may be refused.
            prop_assert!(pad > 0);
            return Ok(());
        };
        let req = Request {
            width: s.width, height: s.height, fit, gravity, focus: None, enlarge,
            max_width: settings.max_width, max_height: settings.max_height,
        };
        // The box applies to the turned source; the padding comes on top.
        let (tw, th) = if quarters % 2 == 1 { (sh, sw) } else { (sw, sh) };
        check_rules(tw, th, &req, (out.width - 2 * pad, out.height - 2 * pad))?;
        let back = decode_output(&out.bytes, format);
        prop_assert_eq!(back.dimensions(), (out.width, out.height));
    }
}
