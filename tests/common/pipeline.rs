//! What the pipeline tests share: a default spec, decoding outputs back with the `image` crate
//! and a reference resample to compare against.

use imgserver::pipeline::{ImageFormat, PipelineSettings, RenderSpec};

pub fn spec(width: Option<u32>, height: Option<u32>, format: ImageFormat) -> RenderSpec {
    RenderSpec::resize(width, height, format)
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
        ImageFormat::Svg => panic!("SVG is never an output"),
    };
    assert_eq!(image::guess_format(bytes).unwrap(), expected);
    image::load_from_memory_with_format(bytes, expected)
        .unwrap()
        .to_rgba8()
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
