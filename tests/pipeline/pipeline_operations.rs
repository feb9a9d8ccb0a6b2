//! The operations called on the pipeline directly, where HTTP cannot see what matters: a crop
//! of a 12 MP JPEG still shrinks on load, trim costs a full decode, the cost estimate counts the
//! new steps, and the fixed order (crop before the resample, rotation after the crop, pad after
//! blur, flatten last) shows in the pixels.

use crate::common::fixtures::sample;
use crate::common::images::*;
use crate::common::pipeline::*;
use imgserver::pipeline::{
    assess, render, Crop, Fit, ImageFormat, Operations, Padding, Rgba, Rotation, Sigma,
};

fn with(
    ops: Operations,
    width: Option<u32>,
    height: Option<u32>,
) -> imgserver::pipeline::RenderSpec {
    imgserver::pipeline::RenderSpec {
        ops,
        ..spec(width, height, ImageFormat::Jpeg)
    }
}

#[test]
fn a_crop_of_a_large_jpeg_still_shrinks_on_load() {
    let source = sample("kleiber-12mp.jpg");
    let crop = Operations {
        crop: Some(Crop::Pixels {
            x: 1000,
            y: 500,
            width: 2000,
            height: 1500,
        }),
        ..Operations::default()
    };
    let cost = assess(&source, &with(crop, Some(200), None), &settings()).unwrap();
    // 2000 px to 200 is a factor of 10: libjpeg decodes at 2/8 (1000x750 of the whole image).
    assert_eq!(cost.decoded_pixels, 1000 * 750);
    let out = render(&source, &with(crop, Some(200), None), &settings()).unwrap();
    assert_eq!((out.width, out.height), (200, 150));
    // The crop is the same pixels as the corresponding region of a plain render of the whole.
    let whole = decode_output(
        &render(
            &source,
            &spec(Some(800), None, ImageFormat::Jpeg),
            &settings(),
        )
        .unwrap()
        .bytes,
        ImageFormat::Jpeg,
    );
    let region = image::imageops::crop_imm(&whole, 200, 100, 400, 300).to_image();
    let region = image::imageops::resize(&region, 200, 150, image::imageops::FilterType::Lanczos3);
    let cropped = decode_output(&out.bytes, ImageFormat::Jpeg);
    let diff = mean_abs_diff(&cropped, &region);
    assert!(diff < 6.0, "mean difference {diff:.2}");

    let trim = Operations {
        trim: Some(10),
        ..Operations::default()
    };
    let cost = assess(&source, &with(trim, Some(200), None), &settings()).unwrap();
    assert_eq!(cost.decoded_pixels, 4000 * 3000, "trim reads every pixel");
}

#[test]
fn the_estimate_counts_the_new_steps() {
    let source = sample("kleiber-12mp.jpg");
    let plain = assess(
        &source,
        &spec(Some(400), Some(400), ImageFormat::Jpeg),
        &settings(),
    )
    .unwrap();
    let blurred = Operations {
        blur: Some(Sigma(400)),
        sharpen: Some(Sigma(100)),
        pad: Padding {
            top: 50,
            right: 0,
            bottom: 50,
            left: 0,
        },
        ..Operations::default()
    };
    let heavier = assess(&source, &with(blurred, Some(400), Some(400)), &settings()).unwrap();
    assert!(heavier.cpu > plain.cpu, "{heavier:?} vs {plain:?}");
    assert_eq!(heavier.output_pixels, 400 * 500);
}

#[test]
fn rotation_applies_to_the_cropped_region_and_the_box_to_the_rotated_image() {
    let source = sample("storm.jpg"); // 1920x1280
    let ops = Operations {
        crop: Some(Crop::Fractions {
            x: 0,
            y: 0,
            width: 500_000,
            height: 1_000_000,
        }),
        rotation: Rotation::Quarter,
        ..Operations::default()
    };
    // The left half (960x1280) turned: 1280x960; w=640 then gives 640x480.
    let out = render(&source, &with(ops, Some(640), None), &settings()).unwrap();
    assert_eq!((out.width, out.height), (640, 480));
    let fill = imgserver::pipeline::RenderSpec {
        fit: Fit::Fill,
        ..with(ops, Some(100), Some(300))
    };
    let out = render(&source, &fill, &settings()).unwrap();
    assert_eq!((out.width, out.height), (100, 300));
}

#[test]
fn flattening_comes_after_the_padding() {
    // A transparent PNG source padded with a translucent colour and written as JPEG: both the
    // padding and the source's transparency end as the opaque colour.
    let source = sample("formats/storm-alpha.png");
    let mut spec = with(
        Operations {
            pad: Padding::uniform(8),
            ..Operations::default()
        },
        Some(200),
        None,
    );
    spec.background = Rgba {
        r: 0,
        g: 0,
        b: 255,
        a: 255,
    };
    let out = render(&source, &spec, &settings()).unwrap();
    let img = decode_output(&out.bytes, ImageFormat::Jpeg);
    assert!(near(img.get_pixel(2, 2), [0, 0, 255], 12));
}

#[test]
fn a_translucent_background_keeps_alpha_in_avif_too() {
    let source = png(64, 48, [200, 30, 30]);
    let mut spec = with(
        Operations {
            pad: Padding::uniform(4),
            ..Operations::default()
        },
        None,
        None,
    );
    spec.format = ImageFormat::Avif;
    spec.background = Rgba {
        r: 0,
        g: 0,
        b: 0,
        a: 0,
    };
    let out = render(&source, &spec, &settings()).unwrap();
    let info = imgserver::pipeline::probe(&out.bytes, &settings()).unwrap();
    assert_eq!((info.width, info.height, info.has_alpha), (72, 56, true));
    // Opaque, the same render has no alpha channel.
    spec.background = Rgba::WHITE;
    let out = render(&source, &spec, &settings()).unwrap();
    let info = imgserver::pipeline::probe(&out.bytes, &settings()).unwrap();
    assert!(!info.has_alpha);
}
