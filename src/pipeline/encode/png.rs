//! PNG with the `png` crate at `Compression::Fast` (fdeflate): slow compression levels cost
//! seconds on large images and have no place on the request path.

use anyhow::Result;

use crate::pipeline::bitmap::Bitmap;

pub fn encode(bitmap: &Bitmap) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, bitmap.width, bitmap.height);
    encoder.set_color(match bitmap.channels {
        1 => png::ColorType::Grayscale,
        2 => png::ColorType::GrayscaleAlpha,
        3 => png::ColorType::Rgb,
        _ => png::ColorType::Rgba,
    });
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&bitmap.data)?;
    writer.finish()?;
    Ok(out)
}
