//! WebP: stills through libwebp (SIMD, the fastest decoder), the first frame of an animation
//! through `image-webp` (libwebp's simple API refuses animations). The ICC profile is read
//! from the ICCP chunk.

use anyhow::{bail, Context, Result};

use super::Decoded;
use crate::pipeline::bitmap::Bitmap;
use crate::pipeline::header::Header;

pub fn decode(bytes: &[u8], header: &Header, memory_limit: u64) -> Result<Decoded> {
    let icc = iccp_chunk(bytes);
    let bitmap = if header.frames > 1 {
        first_frame(bytes, memory_limit)?
    } else {
        still(bytes, header)?
    };
    Ok(Decoded { bitmap, icc })
}

/// libwebp decoding straight into our buffer (the `webp` crate's decoder returns libwebp's
/// own allocation, which would cost a full-size copy).
fn still(bytes: &[u8], header: &Header) -> Result<Bitmap> {
    let channels: u8 = if header.has_alpha { 4 } else { 3 };
    let stride = header.width as usize * usize::from(channels);
    let mut data = vec![0u8; stride * header.height as usize];
    let decode = if channels == 4 {
        libwebp_sys::WebPDecodeRGBAInto
    } else {
        libwebp_sys::WebPDecodeRGBInto
    };
    // SAFETY: `bytes` and `data` are valid for their lengths; libwebp writes at most
    // `data.len()` bytes with the given stride and fails if the image does not fit.
    let out = unsafe {
        decode(
            bytes.as_ptr(),
            bytes.len(),
            data.as_mut_ptr(),
            data.len(),
            i32::try_from(stride)?,
        )
    };
    if out.is_null() {
        bail!("libwebp could not decode");
    }
    Bitmap::new(header.width, header.height, channels, data)
}

fn first_frame(bytes: &[u8], memory_limit: u64) -> Result<Bitmap> {
    let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes))?;
    decoder.set_memory_limit(usize::try_from(memory_limit).unwrap_or(usize::MAX));
    if !decoder.is_animated() {
        bail!("frame count does not match the header");
    }
    let (w, h) = decoder.dimensions();
    let channels = if decoder.has_alpha() { 4 } else { 3 };
    let mut data = vec![0; decoder.output_buffer_size().context("too large")?];
    decoder.read_image(&mut data)?;
    Bitmap::new(w, h, channels, data)
}

/// The payload of the ICCP chunk, if any.
fn iccp_chunk(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 12usize;
    while let Some(head) = bytes.get(pos..pos.checked_add(8)?) {
        let len = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
        let end = (pos + 8).checked_add(len)?;
        let data = bytes.get(pos + 8..end)?;
        if &head[..4] == b"ICCP" {
            return Some(data.to_vec());
        }
        pos = end + (len & 1);
    }
    None
}
