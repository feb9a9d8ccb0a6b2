//! GIF via the `gif` crate: the first frame, composed onto a transparent canvas of the
//! logical screen size (a first frame may be smaller and offset).

use anyhow::{Context, Result};

use super::Decoded;
use crate::pipeline::bitmap::Bitmap;

pub fn decode(bytes: &[u8], memory_limit: u64) -> Result<Decoded> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    // A frame may claim to be far larger than the (limit-checked) screen; it is clipped to the
    // screen anyway, so its buffer may not exceed the screen's by much.
    let screen = u64::from(u16::from_le_bytes([bytes[6], bytes[7]]))
        * u64::from(u16::from_le_bytes([bytes[8], bytes[9]]))
        * 4;
    let limit = memory_limit.min(screen.saturating_mul(2).saturating_add(1 << 20));
    if let Some(limit) = std::num::NonZeroU64::new(limit) {
        options.set_memory_limit(gif::MemoryLimit::Bytes(limit));
    }
    let mut decoder = options.read_info(bytes).context("reading GIF header")?;
    let (w, h) = (usize::from(decoder.width()), usize::from(decoder.height()));
    let frame = decoder
        .read_next_frame()
        .context("decoding GIF")?
        .context("GIF has no frame")?;
    let mut canvas = vec![0u8; w * h * 4];
    let (fw, fh) = (usize::from(frame.width), usize::from(frame.height));
    let (left, top) = (usize::from(frame.left), usize::from(frame.top));
    // Frames may extend past the screen; only the visible part is kept.
    let visible_w = fw.min(w.saturating_sub(left));
    for y in 0..fh.min(h.saturating_sub(top)) {
        let src = &frame.buffer[y * fw * 4..][..visible_w * 4];
        canvas[((top + y) * w + left) * 4..][..visible_w * 4].copy_from_slice(src);
    }
    Ok(Decoded {
        bitmap: Bitmap::new(w as u32, h as u32, 4, canvas)?,
        icc: None,
    })
}
