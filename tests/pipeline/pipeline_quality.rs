//! Shrink-on-load must not cost visible quality: a 400 px render of each 12 MP JPEG (decoded
//! at reduced DCT scale) is compared with a full-size decode resampled with Lanczos3, and must
//! be at least as close to it as libvips' own thumbnail is. The opt-in `fast` mode is held to
//! sharp's default (the same shrink rule), measured the same way.

use crate::common::fixtures::sample;
use crate::common::pipeline::*;
use imgserver::pipeline::{render, ImageFormat, PipelineSettings, ShrinkOnLoad};

/// PSNR of libvips' thumbnail against the same reference, measured on the development
/// machine with libvips 8.14.1: `vipsthumbnail SAMPLE -s 400x -o out.png`, compared with
/// `reference()` at the same size (full decode with `image`, fast_image_resize Lanczos3).
const LIBVIPS_PSNR: [(&str, u32, u32, f64); 3] = [
    ("kleiber-12mp.jpg", 400, 300, 53.30),
    ("elephants-12mp-progressive.jpg", 400, 300, 45.65),
    ("storm.jpg", 400, 267, 45.50),
];

fn psnr(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let (mut sum, mut n) = (0.0, 0.0);
    for (p, q) in a.pixels().zip(b.pixels()) {
        for i in 0..3 {
            let d = f64::from(p[i]) - f64::from(q[i]);
            sum += d * d;
            n += 1.0;
        }
    }
    10.0 * (255.0 * 255.0 / (sum / n)).log10()
}

#[test]
fn shrink_on_load_is_as_good_as_libvips() {
    for (name, w, h, vips) in LIBVIPS_PSNR {
        let source = sample(name);
        let out = render(&source, &spec(Some(w), None, ImageFormat::Png), &settings()).unwrap();
        let img = decode_output(&out.bytes, ImageFormat::Png);
        let p = psnr(&img, &reference(&source, w, h));
        eprintln!("{name}: PSNR {p:.2} dB (libvips {vips:.2})");
        // Both builds decode with libjpeg-turbo, as libvips does: no shortfall is allowed.
        let required = vips;
        assert!(
            p >= required,
            "{name}: PSNR {p:.2} dB, required {required:.2} (libvips {vips:.2})"
        );
    }
}

/// PSNR of sharp 0.34.5 (libvips 8.17.3, `fastShrinkOnLoad` on, its default, as in ipx)
/// against the same reference: `sharp(SAMPLE).resize(400).png()`.
const SHARP_FAST_PSNR: [(&str, u32, u32, f64); 3] = [
    ("kleiber-12mp.jpg", 400, 300, 46.75),
    ("elephants-12mp-progressive.jpg", 400, 300, 38.75),
    ("storm.jpg", 400, 267, 45.54),
];

#[test]
fn fast_shrink_on_load_is_as_good_as_sharp_and_softer_than_quality() {
    let fast = PipelineSettings {
        shrink_on_load: ShrinkOnLoad::Fast,
        ..settings()
    };
    for (name, w, h, sharp) in SHARP_FAST_PSNR {
        let source = sample(name);
        let reference = reference(&source, w, h);
        let spec = spec(Some(w), None, ImageFormat::Png);
        let out = render(&source, &spec, &fast).unwrap();
        let p = psnr(&decode_output(&out.bytes, ImageFormat::Png), &reference);
        let out = render(&source, &spec, &settings()).unwrap();
        let q = psnr(&decode_output(&out.bytes, ImageFormat::Png), &reference);
        eprintln!("{name}: fast PSNR {p:.2} dB (sharp {sharp:.2}), quality {q:.2}");
        let required = sharp - 0.05;
        assert!(
            p >= required,
            "{name}: fast PSNR {p:.2} dB, required {required:.2}"
        );
        if name == "storm.jpg" {
            // A 4.8x downscale: both modes decode at 1/2 (sharp's rule skips 1/4).
            assert!(
                (q - p).abs() < 0.01,
                "{name}: fast {p:.2} dB, quality {q:.2}"
            );
        } else {
            // A 10x downscale: fast decodes at 1/8, quality at 1/4.
            assert!(
                q > p + 1.0,
                "{name}: quality {q:.2} dB is not above fast {p:.2}"
            );
        }
    }
}

/// Between the powers of two the DCT scales by other eighths (a 1299 px render of a 4000 px
/// photo decodes at 6/8, not whole): such renders must stay as close to the full-decode
/// reference as a 400 px render does, where libvips sets the bar above. (`turbo` decodes the
/// 1299 px renders at 8/8, which only adds detail.)
#[test]
fn eighths_scales_between_the_powers_of_two_keep_the_quality() {
    for (name, w, h, required) in [
        // Measured 53.1, 53.6, 52.0 and 51.2 dB.
        ("kleiber-12mp.jpg", 1299, 974, 52.0),
        ("kleiber-12mp.jpg", 1001, 751, 52.5),
        ("elephants-12mp-progressive.jpg", 1299, 974, 51.0),
        ("elephants-12mp-progressive.jpg", 700, 525, 50.2),
    ] {
        let source = sample(name);
        let out = render(&source, &spec(Some(w), None, ImageFormat::Png), &settings()).unwrap();
        let img = decode_output(&out.bytes, ImageFormat::Png);
        let p = psnr(&img, &reference(&source, w, h));
        eprintln!("{name} at {w}: PSNR {p:.2} dB");
        assert!(
            p >= required,
            "{name} at {w}: PSNR {p:.2} dB, required {required:.2}"
        );
    }
}

/// `turbo`'s libjpeg-turbo has SIMD IDCTs at 8/8, 4/8 and 2/8 only, and decodes at 3/8 more
/// slowly than at 4/8, at 6/8 and 7/8 more slowly than at 8/8: that build takes the larger
/// scale. The default build (every IDCT scalar) decodes at the smallest eighth that keeps the
/// quality.
#[test]
fn quality_decodes_at_the_fastest_scale_of_the_build() {
    // A 4000 px photo to 400, 600, 800, 1100, 1299 and 1600 px: 2/8, 3/8, 4/8, 5/8, 6/8 and 7/8
    // are enough for the quality.
    for (width, smallest, turbo) in [
        (400.0, 2, 2),
        (600.0, 3, 4),
        (800.0, 4, 4),
        (1100.0, 5, 5),
        (1299.0, 6, 8),
        (1600.0, 7, 8),
    ] {
        let eighths = ShrinkOnLoad::Quality.eighths(4000.0 / width);
        let expected = if cfg!(feature = "turbo") {
            turbo
        } else {
            smallest
        };
        assert_eq!(eighths, expected, "at {width} px");
    }
}

#[test]
fn libjpeg_decodes_at_any_eighth() {
    let source = sample("kleiber-12mp.jpg");
    for (eighths, size) in [
        (8, (4000, 3000)),
        (6, (3000, 2250)),
        (5, (2500, 1875)),
        (1, (500, 375)),
    ] {
        let bitmap = imgserver::pipeline::steps::decode(&source, eighths).unwrap();
        assert_eq!((bitmap.width, bitmap.height), size, "at {eighths}/8");
    }
}
