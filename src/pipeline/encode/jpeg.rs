//! JPEG: `jpeg-encoder` (SIMD) by default, about 3x faster than `image`'s encoder and with
//! smaller output; libjpeg-turbo with the `turbo` feature (faster still). Baseline, 4:2:0,
//! no optimised Huffman tables (a second pass for ~3%).

use anyhow::{bail, Result};

use crate::pipeline::bitmap::Bitmap;

#[cfg(not(feature = "turbo"))]
pub fn encode(bitmap: &Bitmap, quality: u8) -> Result<Vec<u8>> {
    use jpeg_encoder::{ColorType, Encoder};
    let color = match bitmap.channels {
        1 => ColorType::Luma,
        3 => ColorType::Rgb,
        n => bail!("JPEG encoder given {n} channels"),
    };
    let mut out = Vec::with_capacity(bitmap.data.len() / 8);
    let encoder = Encoder::new(&mut out, quality);
    encoder.encode(
        &bitmap.data,
        u16::try_from(bitmap.width)?,
        u16::try_from(bitmap.height)?,
        color,
    )?;
    Ok(out)
}

#[cfg(feature = "turbo")]
pub fn encode(bitmap: &Bitmap, quality: u8) -> Result<Vec<u8>> {
    use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};
    let (format, subsamp) = match bitmap.channels {
        1 => (PixelFormat::GRAY, Subsamp::Gray),
        3 => (PixelFormat::RGB, Subsamp::Sub2x2),
        n => bail!("JPEG encoder given {n} channels"),
    };
    let mut compressor = Compressor::new()?;
    compressor.set_quality(i32::from(quality))?;
    compressor.set_subsamp(subsamp)?;
    let image = Image {
        pixels: bitmap.data.as_slice(),
        width: bitmap.width as usize,
        pitch: bitmap.row_len(),
        height: bitmap.height as usize,
        format,
    };
    Ok(compressor.compress_to_vec(image)?)
}
