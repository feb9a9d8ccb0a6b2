//! WebP: stills through libwebp (SIMD, the fastest decoder), animations frame by frame through
//! `image-webp` (libwebp's simple API refuses animations), composed with blending and disposal
//! as the format defines, disposal clearing to transparent as browsers do (the file's
//! background colour is only a hint). The ICC profile is read from the ICCP chunk.

use anyhow::{bail, Context, Result};

use super::frames::Frame;
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
    let mut frames = WebpFrames::open(bytes, memory_limit)?;
    Ok(frames
        .next_frame()?
        .context("animation without frames")?
        .bitmap)
}

/// The composed frames of an animated WebP, one at a time (the decoder keeps one canvas).
pub struct WebpFrames<'a> {
    decoder: image_webp::WebPDecoder<std::io::Cursor<&'a [u8]>>,
    width: u32,
    height: u32,
    channels: u8,
    buffer_len: usize,
}

impl<'a> WebpFrames<'a> {
    pub fn open(bytes: &'a [u8], memory_limit: u64) -> Result<Self> {
        let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes))?;
        decoder.set_memory_limit(usize::try_from(memory_limit).unwrap_or(usize::MAX));
        if !decoder.is_animated() {
            bail!("frame count does not match the header");
        }
        decoder.set_background_color([0; 4])?;
        let (width, height) = decoder.dimensions();
        let channels = if decoder.has_alpha() { 4 } else { 3 };
        let buffer_len = decoder.output_buffer_size().context("too large")?;
        Ok(Self {
            decoder,
            width,
            height,
            channels,
            buffer_len,
        })
    }

    /// `Some(0)` plays forever, `Some(n)` n times (WebP always says).
    pub fn loop_count(&self) -> Option<u16> {
        Some(match self.decoder.loop_count() {
            image_webp::LoopCount::Forever => 0,
            image_webp::LoopCount::Times(n) => n.get(),
        })
    }

    /// The next composed frame, or `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        let mut data = vec![0; self.buffer_len];
        match self.decoder.read_frame(&mut data) {
            Ok(duration_ms) => Ok(Some(Frame {
                bitmap: Bitmap::new(self.width, self.height, self.channels, data)?,
                duration_ms,
            })),
            Err(image_webp::DecodingError::NoMoreFrames) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The payload of the ICCP chunk, if any.
pub(super) fn iccp_chunk(bytes: &[u8]) -> Option<Vec<u8>> {
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
