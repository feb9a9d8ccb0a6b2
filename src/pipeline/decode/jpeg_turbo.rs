//! JPEG via libjpeg-turbo (`turbo` feature): SIMD Huffman/IDCT/colour conversion, DCT-scaled
//! decoding at 1/2, 1/4 and 1/8, and arithmetic coding. Used for grey and YCbCr/RGB images;
//! CMYK stays with `jpeg-decoder`, whose Adobe handling is tested.

use anyhow::{Context, Result};
use turbojpeg::{Decompressor, Image, PixelFormat, ScalingFactor};

use crate::pipeline::bitmap::Bitmap;

/// Decodes at 1/`denominator` scale (1, 2, 4 or 8) to grey (`channels` 1) or RGB (3).
pub fn decode(bytes: &[u8], denominator: u32, channels: u8) -> Result<Bitmap> {
    let mut decompressor = Decompressor::new().context("libjpeg-turbo")?;
    let header = decompressor
        .read_header(bytes)
        .context("reading JPEG header")?;
    let factor = ScalingFactor::new(1, denominator as usize);
    decompressor
        .set_scaling_factor(factor)
        .context("scaling factor")?;
    let scaled = header.scaled(factor);
    let format = if channels == 1 {
        PixelFormat::GRAY
    } else {
        PixelFormat::RGB
    };
    let pitch = scaled.width * usize::from(channels);
    let mut data = vec![0u8; pitch * scaled.height];
    let image = Image {
        pixels: data.as_mut_slice(),
        width: scaled.width,
        pitch,
        height: scaled.height,
        format,
    };
    decompressor
        .decompress(bytes, image)
        .context("decoding JPEG")?;
    Bitmap::new(scaled.width as u32, scaled.height as u32, channels, data)
}
