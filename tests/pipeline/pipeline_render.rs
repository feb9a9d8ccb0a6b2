//! Whole renders of the shared samples: output format and size, orientation, alpha, fit modes.

use crate::common::fixtures::sample;
use crate::common::images::*;
use crate::common::pipeline::*;
use imgserver::pipeline::{probe, render, Fit, Gravity, ImageFormat, Rgba};

#[test]
fn every_output_format() {
    let source = sample("storm.jpg");
    let reference = reference(&source, 400, 267);
    for format in ImageFormat::ALL {
        let out = render(&source, &spec(Some(400), None, format), &settings()).unwrap();
        assert_eq!(
            (out.format, out.width, out.height),
            (format, 400, 267),
            "{format}"
        );
        if format == ImageFormat::Avif {
            assert_eq!(
                imgserver::pipeline::sniff(&out.bytes),
                Some(ImageFormat::Avif)
            );
            let info = probe(&out.bytes, &settings()).unwrap();
            assert_eq!((info.width, info.height), (400, 267));
            continue;
        }
        let decoded = decode_output(&out.bytes, format);
        assert_eq!(decoded.dimensions(), (400, 267), "{format}");
        let diff = mean_abs_diff(&decoded, &reference);
        // GIF's 256 colours cost most; the others are within encoder noise.
        let limit = if format == ImageFormat::Gif { 8.0 } else { 3.0 };
        assert!(diff < limit, "{format}: mean difference {diff:.2}");
    }
}

#[test]
fn orientations_come_out_upright() {
    for o in 1..=8 {
        let source = sample(&format!("orientation/orientation-{o}.jpg"));
        let info = probe(&source, &settings()).unwrap();
        assert_eq!(
            (info.width, info.height),
            (480, 320),
            "probe of orientation {o}"
        );
        for (w, scale) in [(None, 1.0), (Some(240), 0.5)] {
            let out = render(&source, &spec(w, None, ImageFormat::Png), &settings()).unwrap();
            let img = decode_output(&out.bytes, ImageFormat::Png);
            let s = |v: f64| (v * scale) as u32;
            assert_eq!(img.dimensions(), (s(480.0), s(320.0)), "orientation {o}");
            let what = format!("orientation {o} at {scale}");
            assert_colour(
                mean_rgb(&img, s(32.0), s(32.0), s(32.0)),
                [255, 0, 0],
                40.0,
                &what,
            );
            assert_colour(
                mean_rgb(&img, s(448.0), s(32.0), s(32.0)),
                [0, 255, 0],
                40.0,
                &what,
            );
            assert_colour(
                mean_rgb(&img, s(32.0), s(288.0), s(32.0)),
                [0, 0, 255],
                40.0,
                &what,
            );
        }
    }
}

#[test]
fn orientation_with_a_gravity_crop() {
    // A 320x320 cover crop at scale 1 keeps either the red (west) or the green (east) corner.
    for o in [1, 3, 6, 7] {
        let source = sample(&format!("orientation/orientation-{o}.jpg"));
        for (gravity, colour) in [(Gravity::West, [255, 0, 0]), (Gravity::East, [0, 255, 0])] {
            let mut spec = spec(Some(320), Some(320), ImageFormat::Png);
            spec.gravity = gravity;
            let out = render(&source, &spec, &settings()).unwrap();
            let img = decode_output(&out.bytes, ImageFormat::Png);
            assert_eq!(img.dimensions(), (320, 320));
            let x = if gravity == Gravity::West { 32 } else { 288 };
            assert_colour(
                mean_rgb(&img, x, 32, 32),
                colour,
                40.0,
                &format!("{o} {gravity:?}"),
            );
        }
    }
}

#[test]
fn alpha_is_flattened_onto_the_background_for_jpeg() {
    let source = sample("formats/storm-alpha.png");
    for bg in [
        Rgba {
            r: 255,
            g: 255,
            b: 255,
            a: 255,
        },
        Rgba {
            r: 0,
            g: 0,
            b: 0,
            a: 255,
        },
        Rgba {
            r: 200,
            g: 30,
            b: 90,
            a: 255,
        },
    ] {
        let mut spec = spec(Some(480), None, ImageFormat::Jpeg);
        spec.background = bg;
        let out = render(&source, &spec, &settings()).unwrap();
        let img = decode_output(&out.bytes, ImageFormat::Jpeg);
        assert_eq!(img.dimensions(), (480, 320));
        // The corners are fully transparent in the source.
        assert_colour(mean_rgb(&img, 8, 8, 8), [bg.r, bg.g, bg.b], 6.0, "corner");
        // The centre is opaque: not the background.
        let centre = mean_rgb(&img, 240, 160, 8);
        assert!(
            (0..3)
                .map(|i| (centre[i] - [bg.r, bg.g, bg.b][i] as f64).abs())
                .sum::<f64>()
                > 30.0
        );
    }
}

#[test]
fn alpha_is_kept_for_png_and_webp() {
    let source = sample("formats/storm-alpha.png");
    for format in [ImageFormat::Png, ImageFormat::Webp] {
        let out = render(&source, &spec(Some(240), None, format), &settings()).unwrap();
        let img = decode_output(&out.bytes, format);
        assert_eq!(img.dimensions(), (240, 160));
        assert_eq!(img.get_pixel(2, 2)[3], 0, "{format}: corner alpha");
        assert_eq!(img.get_pixel(120, 80)[3], 255, "{format}: centre alpha");
    }
}

#[test]
fn fit_modes() {
    let source = sample("storm.jpg"); // 1920x1280
    let cases = [
        (Fit::Cover, (400, 400)),
        (Fit::Contain, (400, 400)),
        (Fit::Fill, (400, 400)),
        (Fit::Inside, (400, 267)),
        (Fit::Outside, (600, 400)),
    ];
    for (fit, size) in cases {
        let mut spec = spec(Some(400), Some(400), ImageFormat::Png);
        spec.fit = fit;
        spec.background = Rgba {
            r: 255,
            g: 0,
            b: 255,
            a: 255,
        };
        let out = render(&source, &spec, &settings()).unwrap();
        assert_eq!((out.width, out.height), size, "{fit:?}");
        let img = decode_output(&out.bytes, ImageFormat::Png);
        assert_eq!(img.dimensions(), size, "{fit:?}");
        let band = mean_rgb(&img, 200, 10, 8);
        if fit == Fit::Contain {
            // 400x267 centred: 66 px bands of background above and below.
            assert_colour(band, [255, 0, 255], 1.0, "letterbox band");
            assert_colour(
                mean_rgb(&img, 200, 390, 8),
                [255, 0, 255],
                1.0,
                "letterbox band",
            );
        } else {
            let off_magenta = (255.0 - band[0]) + band[1] + (255.0 - band[2]);
            assert!(off_magenta > 60.0, "{fit:?} has a band: {band:?}");
        }
    }
    // Fill stretches the whole source to the box.
    let mut s = spec(Some(300), Some(200), ImageFormat::Png);
    s.fit = Fit::Fill;
    let fill = render(&source, &s, &settings()).unwrap();
    let fill = decode_output(&fill.bytes, ImageFormat::Png);
    assert!(mean_abs_diff(&fill, &reference(&source, 300, 200)) < 2.0);
}

#[test]
fn never_upscaled_unless_asked() {
    let source = sample("formats/storm-static.gif"); // 640x427
    let out = render(
        &source,
        &spec(Some(1280), None, ImageFormat::Png),
        &settings(),
    )
    .unwrap();
    assert_eq!((out.width, out.height), (640, 427));
    let mut s = spec(Some(1280), None, ImageFormat::Png);
    s.enlarge = true;
    let out = render(&source, &s, &settings()).unwrap();
    assert_eq!((out.width, out.height), (1280, 854));
}

#[test]
fn metadata_is_stripped() {
    // storm.jpg has Canon EXIF; the output must have none.
    let out = render(
        &sample("storm.jpg"),
        &spec(Some(200), None, ImageFormat::Jpeg),
        &settings(),
    )
    .unwrap();
    assert!(!out.bytes.windows(6).any(|w| w == b"Exif\0\0"));
    assert!(!out.bytes.windows(5).any(|w| w == b"Canon"));
}
