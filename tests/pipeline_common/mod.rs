//! Helpers shared by the pipeline integration tests: where the samples are, a default spec,
//! decoding outputs back and comparing pixels.
#![allow(dead_code)]

use std::path::PathBuf;

use imgserver::pipeline::{Fit, Gravity, ImageFormat, PipelineSettings, RenderSpec, Rgb};

/// `$IMGSERVER_SAMPLES`, else `../shared/samples` next to the repository, else the shared
/// folder of the development machines.
pub fn samples() -> PathBuf {
    if let Some(dir) = std::env::var_os("IMGSERVER_SAMPLES") {
        return dir.into();
    }
    let beside = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/samples"));
    if beside.exists() {
        beside
    } else {
        PathBuf::from("/work/shared/samples")
    }
}

pub fn sample(name: &str) -> Vec<u8> {
    let path = samples().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn spec(width: Option<u32>, height: Option<u32>, format: ImageFormat) -> RenderSpec {
    RenderSpec {
        width,
        height,
        fit: Fit::Cover,
        gravity: Gravity::Center,
        enlarge: false,
        background: Rgb::WHITE,
        format,
        quality: 80,
        animate: false,
    }
}

pub fn settings() -> PipelineSettings {
    PipelineSettings::default()
}

/// Decodes an output with the `image` crate (an independent decoder), checking its format.
pub fn decode_output(bytes: &[u8], format: ImageFormat) -> image::RgbaImage {
    let expected = match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Webp => image::ImageFormat::WebP,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::Avif => panic!("the image crate here cannot decode AVIF"),
    };
    assert_eq!(image::guess_format(bytes).unwrap(), expected);
    image::load_from_memory_with_format(bytes, expected)
        .unwrap()
        .to_rgba8()
}

/// Mean absolute difference per RGB channel between two equally sized images.
pub fn mean_abs_diff(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| (0..3).map(|i| u64::from(p[i].abs_diff(q[i]))).sum::<u64>())
        .sum();
    sum as f64 / (f64::from(a.width()) * f64::from(a.height()) * 3.0)
}

/// Reference: full decode with `image`, Lanczos3 resample with fast_image_resize.
pub fn reference(source: &[u8], width: u32, height: u32) -> image::RgbaImage {
    use fast_image_resize as fr;
    let src = image::load_from_memory(source).unwrap().to_rgba8();
    let (sw, sh) = src.dimensions();
    let src = fr::images::Image::from_vec_u8(sw, sh, src.into_raw(), fr::PixelType::U8x4).unwrap();
    let mut dst = fr::images::Image::new(width, height, fr::PixelType::U8x4);
    fr::Resizer::new().resize(&src, &mut dst, None).unwrap();
    image::RgbaImage::from_raw(width, height, dst.into_vec()).unwrap()
}

/// Mean colour of a `size`x`size` square centred on (x, y).
pub fn mean_rgb(img: &image::RgbaImage, x: u32, y: u32, size: u32) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for yy in y - size / 2..y + size / 2 {
        for xx in x - size / 2..x + size / 2 {
            let p = img.get_pixel(xx, yy);
            for i in 0..3 {
                sum[i] += f64::from(p[i]);
            }
        }
    }
    sum.map(|s| s / f64::from(size * size))
}

pub fn assert_colour(actual: [f64; 3], expected: [u8; 3], tolerance: f64, what: &str) {
    for i in 0..3 {
        assert!(
            (actual[i] - f64::from(expected[i])).abs() <= tolerance,
            "{what}: {actual:?} is not {expected:?}"
        );
    }
}
