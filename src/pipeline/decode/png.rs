//! PNG via the `png` crate: every colour type and depth normalised to 8 bits (16-bit
//! truncated, palette and tRNS expanded to RGB(A)). An APNG yields its default image.

use std::io::Cursor;

use anyhow::{Context, Result};

use super::Decoded;
use crate::pipeline::bitmap::Bitmap;

pub fn decode(bytes: &[u8], memory_limit: u64) -> Result<Decoded> {
    let limits = png::Limits { bytes: usize::try_from(memory_limit).unwrap_or(usize::MAX) };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().context("reading PNG header")?;
    let size = reader.output_buffer_size().context("PNG too large")?;
    let mut data = vec![0; size];
    let frame = reader.next_frame(&mut data).context("decoding PNG")?;
    data.truncate(frame.buffer_size());
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => anyhow::bail!("palette not expanded"),
    };
    let icc = reader.info().icc_profile.as_ref().map(|p| p.to_vec());
    let bitmap = Bitmap::new(frame.width, frame.height, channels, data)?;
    Ok(Decoded { bitmap, icc })
}
