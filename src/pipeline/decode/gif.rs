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
    let dimension = |at: usize| {
        bytes
            .get(at..at + 2)
            .map_or(0, |d| u16::from_le_bytes([d[0], d[1]]))
    };
    let screen = u64::from(dimension(6)) * u64::from(dimension(8)) * 4;
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
    // The frame is clipped to the screen, as browsers show it: a part past the right or
    // bottom edge is dropped, and a frame wholly outside leaves the screen transparent.
    let visible_w = fw.min(w.saturating_sub(left));
    let visible_h = fh.min(h.saturating_sub(top));
    if visible_w > 0 {
        for y in 0..visible_h {
            let src = frame
                .buffer
                .get(y * fw * 4..)
                .and_then(|row| row.get(..visible_w * 4))
                .context("GIF frame buffer shorter than the frame")?;
            let dst = ((top + y) * w + left) * 4;
            canvas[dst..dst + visible_w * 4].copy_from_slice(src);
        }
    }
    Ok(Decoded {
        bitmap: Bitmap::new(w as u32, h as u32, 4, canvas)?,
        icc: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `screen`-sized GIF whose one 4x4 red frame sits at `(left, top)`.
    fn gif_with_frame_at(screen: (u16, u16), left: u16, top: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = gif::Encoder::new(&mut out, screen.0, screen.1, &[255, 0, 0, 0, 0, 0])
            .expect("encoder");
        let frame = gif::Frame {
            left,
            top,
            width: 4,
            height: 4,
            buffer: vec![0u8; 16].into(),
            ..gif::Frame::default()
        };
        encoder.write_frame(&frame).expect("frame");
        drop(encoder);
        out
    }

    fn red_pixels(bitmap: &Bitmap) -> usize {
        bitmap
            .data
            .chunks_exact(4)
            .filter(|p| p == &[255, 0, 0, 255])
            .count()
    }

    #[test]
    fn frames_are_clipped_to_the_screen() {
        let limit = 1 << 24;
        // Wholly outside, right or below: the screen stays transparent.
        for (left, top) in [
            (11, 0),
            (10, 0),
            (0, 11),
            (0, 10),
            (65_535, 65_535),
            (11, 9),
        ] {
            let decoded = decode(&gif_with_frame_at((10, 10), left, top), limit).unwrap();
            assert_eq!((decoded.bitmap.width, decoded.bitmap.height), (10, 10));
            assert_eq!(red_pixels(&decoded.bitmap), 0, "frame at {left},{top}");
        }
        // Straddling the bottom-right corner: the 2x2 inside is kept.
        let decoded = decode(&gif_with_frame_at((10, 10), 8, 8), limit).unwrap();
        assert_eq!(red_pixels(&decoded.bitmap), 4);
        let decoded = decode(&gif_with_frame_at((10, 10), 3, 3), limit).unwrap();
        assert_eq!(red_pixels(&decoded.bitmap), 16);
    }
}
