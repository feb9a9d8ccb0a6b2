//! GIF via the `gif` crate, composed the way browsers show it: each frame drawn onto a canvas
//! of the logical screen size (a frame may be smaller, offset, or partly outside the screen),
//! its transparent pixels leaving what was there, then disposed of as it asks (kept, cleared
//! to transparent, or restored to the canvas before it). A still render takes the first frame.

use anyhow::{Context, Result};

use super::frames::Frame;
use super::Decoded;
use crate::pipeline::bitmap::Bitmap;

pub fn decode(bytes: &[u8], memory_limit: u64) -> Result<Decoded> {
    let mut frames = GifFrames::open(bytes, memory_limit)?;
    let frame = frames.next_frame()?.context("GIF has no frame")?;
    Ok(Decoded {
        bitmap: frame.bitmap,
        icc: None,
    })
}

/// The composed frames of a GIF, one at a time: memory is one canvas (two with disposal to
/// previous), whatever the number of frames.
pub struct GifFrames<'a> {
    decoder: gif::Decoder<&'a [u8]>,
    width: usize,
    height: usize,
    canvas: Vec<u8>,
    /// What the last frame asks to be done with its area before the next is drawn.
    pending: Option<Disposal>,
}

enum Disposal {
    Clear(Area),
    Restore(Area, Vec<u8>),
}

/// A frame's area clipped to the screen, in canvas pixels.
#[derive(Clone, Copy)]
struct Area {
    left: usize,
    top: usize,
    width: usize,
    height: usize,
}

impl<'a> GifFrames<'a> {
    pub fn open(bytes: &'a [u8], memory_limit: u64) -> Result<Self> {
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        // A frame may claim to be far larger than the (limit-checked) screen; it is clipped to
        // the screen anyway, so its buffer may not exceed the screen's by much.
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
        let decoder = options.read_info(bytes).context("reading GIF header")?;
        let (width, height) = (usize::from(decoder.width()), usize::from(decoder.height()));
        Ok(Self {
            decoder,
            width,
            height,
            canvas: vec![0u8; width * height * 4],
            pending: None,
        })
    }

    /// The loop count once the first frame has been read (the extension comes before it):
    /// `None` without the extension (the animation plays once), `Some(0)` forever.
    pub fn loop_count(&self) -> Option<u16> {
        match self.decoder.repeat() {
            gif::Repeat::Infinite => Some(0),
            gif::Repeat::Finite(0) => None,
            gif::Repeat::Finite(n) => Some(n),
        }
    }

    /// The next composed frame (RGBA, screen-sized), or `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        match self.pending.take() {
            Some(Disposal::Clear(area)) => self.fill(area, |_| &[0; 4]),
            Some(Disposal::Restore(area, saved)) => {
                let row = area.width * 4;
                self.fill(area, |y| &saved[y * row..(y + 1) * row]);
            }
            None => {}
        }
        let (width, height) = (self.width, self.height);
        let Some(frame) = self.decoder.read_next_frame().context("decoding GIF")? else {
            return Ok(None);
        };
        let (fw, fh) = (usize::from(frame.width), usize::from(frame.height));
        let (left, top) = (usize::from(frame.left), usize::from(frame.top));
        // The frame is clipped to the screen, as browsers show it: a part past the right or
        // bottom edge is dropped, and a frame wholly outside changes nothing.
        let area = Area {
            left,
            top,
            width: fw.min(width.saturating_sub(left)),
            height: fh.min(height.saturating_sub(top)),
        };
        let delay = frame.delay;
        let dispose = frame.dispose;
        let saved = matches!(dispose, gif::DisposalMethod::Previous)
            .then(|| copy_area(&self.canvas, width, area));
        if area.width > 0 {
            for y in 0..area.height {
                let src = frame
                    .buffer
                    .get(y * fw * 4..)
                    .and_then(|row| row.get(..area.width * 4))
                    .context("GIF frame buffer shorter than the frame")?;
                let at = ((top + y) * width + left) * 4;
                let dst = &mut self.canvas[at..at + area.width * 4];
                for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                    // Transparent pixels of a frame let the canvas show through.
                    if s[3] != 0 {
                        d.copy_from_slice(s);
                    }
                }
            }
        }
        self.pending = match (dispose, saved) {
            (gif::DisposalMethod::Background, _) => Some(Disposal::Clear(area)),
            (gif::DisposalMethod::Previous, Some(saved)) => Some(Disposal::Restore(area, saved)),
            _ => None,
        };
        let bitmap = Bitmap::new(width as u32, height as u32, 4, self.canvas.clone())?;
        Ok(Some(Frame {
            bitmap,
            duration_ms: u32::from(delay) * 10,
        }))
    }

    /// Overwrites `area` row by row with what `row` gives for each.
    fn fill<'r>(&mut self, area: Area, row: impl Fn(usize) -> &'r [u8]) {
        let len = area.width * 4;
        for y in 0..area.height {
            let at = ((area.top + y) * self.width + area.left) * 4;
            let src = row(y);
            for (i, chunk) in self.canvas[at..at + len].chunks_exact_mut(4).enumerate() {
                let from = if src.len() == 4 { 0 } else { i * 4 };
                chunk.copy_from_slice(&src[from..from + 4]);
            }
        }
    }
}

fn copy_area(canvas: &[u8], canvas_width: usize, area: Area) -> Vec<u8> {
    let mut out = Vec::with_capacity(area.width * area.height * 4);
    for y in 0..area.height {
        let at = ((area.top + y) * canvas_width + area.left) * 4;
        out.extend_from_slice(&canvas[at..at + area.width * 4]);
    }
    out
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

    /// Palette: 0 red, 1 green, 2 blue, 3 transparent.
    fn frame(
        left: u16,
        top: u16,
        w: u16,
        h: u16,
        index: u8,
        dispose: gif::DisposalMethod,
    ) -> gif::Frame<'static> {
        gif::Frame {
            left,
            top,
            width: w,
            height: h,
            delay: 7,
            dispose,
            transparent: Some(3),
            buffer: vec![index; usize::from(w) * usize::from(h)].into(),
            ..gif::Frame::default()
        }
    }

    fn pixel(bitmap: &Bitmap, x: usize, y: usize) -> [u8; 4] {
        let at = (y * bitmap.width as usize + x) * 4;
        bitmap.data[at..at + 4].try_into().unwrap()
    }

    #[test]
    fn frames_are_composed_and_disposed_as_they_ask() {
        use gif::DisposalMethod::{Background, Keep, Previous};
        let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0];
        let mut out = Vec::new();
        {
            let mut encoder = gif::Encoder::new(&mut out, 8, 8, &palette).unwrap();
            encoder.set_repeat(gif::Repeat::Finite(3)).unwrap();
            for f in [
                frame(0, 0, 8, 8, 0, Keep),       // red everywhere, kept
                frame(2, 2, 2, 2, 1, Previous),   // green square, then restored to red
                frame(4, 4, 2, 2, 2, Background), // blue square, then cleared
                frame(0, 0, 1, 1, 3, Keep),       // transparent pixel: shows the canvas
            ] {
                encoder.write_frame(&f).unwrap();
            }
        }
        let mut frames = GifFrames::open(&out, 1 << 24).unwrap();
        let mut composed = Vec::new();
        while let Some(f) = frames.next_frame().unwrap() {
            assert_eq!(f.duration_ms, 70);
            composed.push(f.bitmap);
        }
        assert_eq!(frames.loop_count(), Some(3));
        assert_eq!(composed.len(), 4);
        let (red, green, blue, clear) =
            ([255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [0; 4]);
        assert_eq!(pixel(&composed[1], 2, 2), green);
        assert_eq!(pixel(&composed[1], 0, 0), red);
        assert_eq!(
            pixel(&composed[2], 2, 2),
            red,
            "restored to before the green square"
        );
        assert_eq!(pixel(&composed[2], 4, 4), blue);
        assert_eq!(pixel(&composed[3], 4, 4), clear, "cleared to transparent");
        assert_eq!(
            pixel(&composed[3], 0, 0),
            red,
            "transparent pixel keeps the canvas"
        );
    }
}
