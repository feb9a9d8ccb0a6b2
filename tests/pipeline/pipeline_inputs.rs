//! The hard inputs of issue 3, each rendered and compared with a reference: progressive and
//! subsampled JPEG, grayscale, CMYK/YCCK, embedded ICC profiles, 16-bit and palette PNG,
//! WebP with alpha, animated GIF/WebP (first frame), AVIF.

use crate::common::fixtures::sample;
use crate::common::images::*;
use crate::common::pipeline::*;
use imgserver::pipeline::{probe, render, ImageFormat, PipelineError};

/// Renders `name` to PNG at `width` and returns the mean difference against `reference`.
fn diff_against(name: &str, width: u32, reference: &image::RgbaImage) -> f64 {
    let out = render(
        &sample(name),
        &spec(Some(width), None, ImageFormat::Png),
        &settings(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let img = decode_output(&out.bytes, ImageFormat::Png);
    let d = mean_abs_diff(&img, reference);
    eprintln!("{name}: mean difference {d:.2}");
    d
}

#[test]
fn progressive_and_subsampled_jpeg() {
    for (name, w, h, limit) in [
        ("elephants-12mp-progressive.jpg", 400, 300, 2.5), // progressive 4:2:0
        ("friends-portrait.jpg", 300, 451, 2.5),           // progressive 4:2:0, portrait
        ("storm.jpg", 480, 320, 2.5),                      // baseline 4:2:2
        ("formats/focal-adobergb.jpg", 640, 400, 2.5),     // baseline 4:4:4
    ] {
        let source = sample(name);
        // The reference ignores any ICC profile, so compare an ICC-free render path: the
        // same decoder's full-size output scaled with Lanczos3 (focal-adobergb is compared
        // against its own naive decode only for geometry/subsampling here).
        let reference = reference(&source, w, h);
        let out = render(&source, &spec(Some(w), None, ImageFormat::Png), &settings()).unwrap();
        let img = decode_output(&out.bytes, ImageFormat::Png);
        assert_eq!(img.dimensions(), (w, h), "{name}");
        if !name.contains("adobergb") {
            let d = mean_abs_diff(&img, &reference);
            eprintln!("{name}: {d:.2}");
            assert!(d < limit, "{name}: mean difference {d:.2}");
        }
    }
}

#[test]
fn grayscale_jpeg() {
    let out = render(
        &sample("formats/storm-gray.jpg"),
        &spec(Some(480), None, ImageFormat::Png),
        &settings(),
    )
    .unwrap();
    let img = decode_output(&out.bytes, ImageFormat::Png);
    assert_eq!(img.dimensions(), (480, 320));
    assert!(
        img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]),
        "grey stays grey"
    );
    let reference = reference(&sample("formats/storm-gray.jpg"), 480, 320);
    assert!(mean_abs_diff(&img, &reference) < 1.5);
}

#[test]
fn cmyk_jpeg_is_converted_not_inverted() {
    let reference = reference(&sample("storm.jpg"), 1200, 800);
    let d = diff_against("formats/storm-cmyk.jpg", 1200, &reference);
    // Pillow gets 1.0; an inverted reading is ~111.
    assert!(d < 4.0, "CMYK mean difference {d:.2}");
}

#[test]
fn icc_profiles_are_converted_to_srgb() {
    // Numbers from the samples README: naive 14.8 / 3.9, converted 1.1 / 1.2.
    let focal = reference(&sample("focal.png"), 1280, 800);
    let d = diff_against("formats/focal-adobergb.jpg", 1280, &focal);
    assert!(d < 2.5, "focal-adobergb mean difference {d:.2}");
    let storm = reference(&sample("storm.jpg"), 1200, 800);
    let d = diff_against("formats/storm-adobergb.jpg", 1200, &storm);
    assert!(d < 2.2, "storm-adobergb mean difference {d:.2}");
}

#[test]
fn sixteen_bit_png() {
    let reference = reference(&sample("storm.jpg"), 640, 427);
    let d = diff_against("formats/storm-16bit.png", 640, &reference);
    assert!(d < 2.5, "16-bit PNG mean difference {d:.2}");
}

#[test]
fn palette_png_with_transparency() {
    let source = sample("formats/storm-palette-alpha.png");
    assert!(probe(&source, &settings()).unwrap().has_alpha);
    let out = render(&source, &spec(None, None, ImageFormat::Png), &settings()).unwrap();
    let img = decode_output(&out.bytes, ImageFormat::Png);
    assert_eq!(img.dimensions(), (480, 320));
    assert_eq!(img.get_pixel(1, 1)[3], 0, "corner is transparent");
    assert_eq!(img.get_pixel(240, 160)[3], 255, "centre is opaque");
    // Identical to the independent decoder's reading (no resize happened).
    let direct = image::load_from_memory(&source).unwrap().to_rgba8();
    let same = img
        .pixels()
        .zip(direct.pixels())
        .filter(|(a, b)| a[3] == 255 && b[3] == 255);
    assert!(same.clone().count() > 10_000);
    assert!(same.clone().all(|(a, b)| a == b));
}

/// `source` rendered 480 px wide to PNG, decoded back.
fn png_480(source: &[u8]) -> image::RgbaImage {
    let out = render(
        source,
        &spec(Some(480), None, ImageFormat::Png),
        &settings(),
    )
    .unwrap();
    decode_output(&out.bytes, ImageFormat::Png)
}

#[test]
fn webp_with_alpha() {
    // Lossless WebP, pixel-identical to storm-alpha.png: the renders must agree.
    let a = png_480(&sample("formats/storm-alpha.webp"));
    let b = png_480(&sample("formats/storm-alpha.png"));
    assert_eq!(a.dimensions(), (480, 320));
    assert_eq!(a, b);
    assert_eq!(a.get_pixel(2, 2)[3], 0);
}

#[test]
fn animations_render_their_first_frame() {
    let gif = sample("formats/animated.gif");
    let info = probe(&gif, &settings()).unwrap();
    assert_eq!((info.width, info.height, info.frames), (320, 240, 6));
    let first = image::load_from_memory(&gif).unwrap().to_rgba8();
    let out = render(&gif, &spec(None, None, ImageFormat::Png), &settings()).unwrap();
    let img = decode_output(&out.bytes, ImageFormat::Png);
    assert_eq!(mean_abs_diff(&img, &first), 0.0, "GIF frame 1 exactly");

    let webp = sample("formats/animated.webp");
    let info = probe(&webp, &settings()).unwrap();
    assert_eq!((info.width, info.height, info.frames), (320, 240, 6));
    let out = render(&webp, &spec(None, None, ImageFormat::Png), &settings()).unwrap();
    let img = decode_output(&out.bytes, ImageFormat::Png);
    let d = mean_abs_diff(&img, &first);
    eprintln!("animated.webp frame 1 vs GIF frame 1: {d:.2}");
    assert!(d < 6.0, "WebP frame 1 mean difference {d:.2}");
    // The second GIF frame is a different crop: frame 1 must not be confused with it.
    let mut frames = image::AnimationDecoder::into_frames(
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&gif)).unwrap(),
    );
    let second = frames.nth(1).unwrap().unwrap().into_buffer();
    assert!(mean_abs_diff(&img, &second) > 2.0 * d.max(1.0));
}

#[test]
fn avif_input() {
    let source = sample("formats/storm.avif");
    let info = probe(&source, &settings()).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Avif, 1920, 1280)
    );
    if !cfg!(feature = "avif-decode") {
        match render(
            &source,
            &spec(Some(480), None, ImageFormat::Png),
            &settings(),
        ) {
            Err(PipelineError::Unsupported(msg)) => assert!(msg.contains("AVIF"), "{msg}"),
            other => panic!("expected a clear 422, got {other:?}"),
        }
        return;
    }
    let out = render(
        &source,
        &spec(Some(480), None, ImageFormat::Png),
        &settings(),
    )
    .unwrap();
    let img = decode_output(&out.bytes, ImageFormat::Png);
    let d = mean_abs_diff(&img, &reference(&sample("storm.jpg"), 480, 320));
    eprintln!("storm.avif: mean difference {d:.2}");
    assert!(d < 3.0, "AVIF mean difference {d:.2}");
}

#[cfg(feature = "avif-decode")]
#[test]
fn avif_with_alpha() {
    let source = sample("formats/storm-alpha.avif");
    assert!(probe(&source, &settings()).unwrap().has_alpha);
    let a = png_480(&source);
    let b = png_480(&sample("formats/storm-alpha.png"));
    assert_eq!(a.get_pixel(2, 2)[3], 0, "corner is transparent");
    assert_eq!(a.get_pixel(240, 160)[3], 255, "centre is opaque");
    let alpha_diff = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| f64::from(p[3].abs_diff(q[3])))
        .sum::<f64>()
        / f64::from(a.width() * a.height());
    eprintln!("storm-alpha.avif: alpha mean difference {alpha_diff:.2}");
    assert!(alpha_diff < 3.0, "alpha mean difference {alpha_diff:.2}");
    // Colour where opaque.
    let mut sum = 0.0;
    let mut n = 0.0;
    for (p, q) in a.pixels().zip(b.pixels()).filter(|(p, _)| p[3] == 255) {
        sum += (0..3).map(|i| f64::from(p[i].abs_diff(q[i]))).sum::<f64>() / 3.0;
        n += 1.0;
    }
    assert!(
        sum / n < 4.0,
        "opaque colour mean difference {:.2}",
        sum / n
    );
}

#[test]
fn arithmetic_coded_jpeg() {
    let source = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pipeline/arithmetic.jpg"
    ))
    .unwrap();
    let info = probe(&source, &settings()).unwrap();
    assert_eq!((info.width, info.height), (480, 320));
    // Decoded in both builds (libjpeg-turbo with arithmetic decoding compiled in).
    let result = render(&source, &spec(None, None, ImageFormat::Png), &settings());
    let img = decode_output(&result.unwrap().bytes, ImageFormat::Png);
    assert_colour(mean_rgb(&img, 32, 32, 32), [255, 0, 0], 40.0, "red square");
    assert_colour(
        mean_rgb(&img, 448, 32, 32),
        [0, 255, 0],
        40.0,
        "green square",
    );
}
