//! GIF: each frame quantised to its own 256-colour palette with NeuQuant (`gif`'s own
//! quantiser, MIT via `color_quant`). GIF has 1-bit transparency: fully transparent pixels
//! become the transparent index and any other alpha is treated as opaque (`gif`'s own rule).
//! A still is an animation of one frame; an animation stores each frame as the rectangle that
//! changed.

use anyhow::Result;

use crate::pipeline::bitmap::Bitmap;

/// NeuQuant sampling: 1 is best and slowest, 30 fastest; 10 is gif's recommended balance.
const QUANTIZE_SPEED: i32 = 10;

pub fn encode(bitmap: &Bitmap) -> Result<Vec<u8>> {
    let mut gif = AnimatedGif::new(bitmap.width, bitmap.height, None)?;
    gif.add(bitmap, 0)?;
    gif.finish()
}

/// A GIF written frame by frame, one frame behind: a frame is only stored as the rectangle
/// that changed since the one before (unchanged pixels transparent, so the previous frame shows
/// through), and the frame before decides its disposal once the next is known.
pub struct AnimatedGif {
    encoder: gif::Encoder<Vec<u8>>,
    width: u16,
    height: u16,
    pending: Option<Pending>,
}

/// A quantised frame not yet written, with the whole canvas it shows.
struct Pending {
    frame: gif::Frame<'static>,
    canvas: Vec<u8>,
    whole: bool,
}

/// Unchanged pixels in a partial frame: the transparent index, so what is under shows.
const SHOW_THROUGH: [u8; 4] = [0; 4];

impl AnimatedGif {
    /// `loop_count`: `None` plays once (no loop extension), `Some(0)` forever.
    pub fn new(width: u32, height: u32, loop_count: Option<u16>) -> Result<Self> {
        let (width, height) = (u16::try_from(width)?, u16::try_from(height)?);
        let mut encoder = gif::Encoder::new(Vec::new(), width, height, &[])?;
        match loop_count {
            None => {}
            Some(0) => encoder.set_repeat(gif::Repeat::Infinite)?,
            Some(n) => encoder.set_repeat(gif::Repeat::Finite(n))?,
        }
        Ok(Self {
            encoder,
            width,
            height,
            pending: None,
        })
    }

    /// Adds a frame of the canvas's size. GIF counts in hundredths of a second.
    pub fn add(&mut self, bitmap: &Bitmap, duration_ms: u32) -> Result<()> {
        anyhow::ensure!(
            (u32::from(self.width), u32::from(self.height)) == (bitmap.width, bitmap.height),
            "frame of another size than the canvas"
        );
        let canvas = rgba(bitmap);
        let delay = u16::try_from(duration_ms.div_ceil(10)).unwrap_or(u16::MAX);
        let (frame, whole) = match self.pending.take() {
            None => (self.quantise(&canvas, self.whole()), true),
            Some(mut previous) => {
                let cleared = canvas
                    .chunks_exact(4)
                    .zip(previous.canvas.chunks_exact(4))
                    .any(|(now, before)| now[3] == 0 && before[3] != 0);
                if cleared {
                    // Pixels that turn transparent cannot show through: the frame before is
                    // cleared away (disposal to background, whole, so nothing older is left)
                    // and this one drawn whole.
                    if !previous.whole {
                        let delay = previous.frame.delay;
                        previous.frame = self.quantise(&previous.canvas, self.whole());
                        previous.frame.delay = delay;
                    }
                    previous.frame.dispose = gif::DisposalMethod::Background;
                    self.encoder.write_frame(&previous.frame)?;
                    (self.quantise(&canvas, self.whole()), true)
                } else {
                    previous.frame.dispose = gif::DisposalMethod::Keep;
                    self.encoder.write_frame(&previous.frame)?;
                    let area =
                        changed(&canvas, &previous.canvas, self.width).unwrap_or((0, 0, 1, 1));
                    let mut part = crop(&canvas, self.width, area);
                    let before = crop(&previous.canvas, self.width, area);
                    for (p, b) in part.chunks_exact_mut(4).zip(before.chunks_exact(4)) {
                        if p == b {
                            p.copy_from_slice(&SHOW_THROUGH);
                        }
                    }
                    let whole = area == self.whole();
                    (self.quantise(&part, area), whole)
                }
            }
        };
        self.pending = Some(Pending {
            frame: gif::Frame { delay, ..frame },
            canvas,
            whole,
        });
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>> {
        if let Some(last) = self.pending.take() {
            self.encoder.write_frame(&last.frame)?;
        }
        Ok(self.encoder.into_inner()?)
    }

    fn whole(&self) -> Area {
        (0, 0, self.width, self.height)
    }

    /// `pixels` (RGBA, `area`'s size) as a palette frame placed at `area`.
    fn quantise(&self, pixels: &[u8], (left, top, w, h): Area) -> gif::Frame<'static> {
        let mut pixels = pixels.to_vec();
        gif::Frame {
            left,
            top,
            ..gif::Frame::from_rgba_speed(w, h, &mut pixels, QUANTIZE_SPEED)
        }
    }
}

/// left, top, width, height.
type Area = (u16, u16, u16, u16);

fn rgba(bitmap: &Bitmap) -> Vec<u8> {
    match bitmap.channels {
        4 => bitmap.data.clone(),
        3 => bitmap
            .data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        _ => rgba(&bitmap.clone().into_rgb_family()),
    }
}

/// The smallest area holding every pixel that differs, if any does.
fn changed(now: &[u8], before: &[u8], width: u16) -> Option<Area> {
    let row = usize::from(width) * 4;
    let (mut left, mut right, mut top, mut bottom) = (usize::MAX, 0, usize::MAX, 0);
    for (y, (a, b)) in now
        .chunks_exact(row)
        .zip(before.chunks_exact(row))
        .enumerate()
    {
        if a == b {
            continue;
        }
        let first = a
            .chunks_exact(4)
            .zip(b.chunks_exact(4))
            .position(|(p, q)| p != q);
        let last = a
            .chunks_exact(4)
            .zip(b.chunks_exact(4))
            .rposition(|(p, q)| p != q);
        if let (Some(first), Some(last)) = (first, last) {
            left = left.min(first);
            right = right.max(last);
            top = top.min(y);
            bottom = y;
        }
    }
    (top != usize::MAX).then(|| {
        let side = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
        (
            side(left),
            side(top),
            side(right - left + 1),
            side(bottom - top + 1),
        )
    })
}

fn crop(canvas: &[u8], width: u16, (left, top, w, h): Area) -> Vec<u8> {
    let row = usize::from(width) * 4;
    let mut out = Vec::with_capacity(usize::from(w) * usize::from(h) * 4);
    for y in usize::from(top)..usize::from(top) + usize::from(h) {
        let at = y * row + usize::from(left) * 4;
        out.extend_from_slice(&canvas[at..at + usize::from(w) * 4]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, pixel: [u8; 4]) -> Bitmap {
        Bitmap::filled(w, h, &pixel)
    }

    fn paint(b: &mut Bitmap, x: usize, y: usize, pixel: [u8; 4]) {
        let at = (y * b.width as usize + x) * 4;
        b.data[at..at + 4].copy_from_slice(&pixel);
    }

    /// Frames with few colours quantise exactly, so decoding must give them back as they were:
    /// partial frames, a repeated frame, pixels turning transparent and back.
    #[test]
    fn partial_frames_decode_back_to_the_frames_given() {
        let (red, green, clear) = ([255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 0, 0]);
        let first = solid(8, 6, red);
        let mut second = first.clone();
        paint(&mut second, 3, 2, green);
        let third = second.clone();
        let mut fourth = third.clone();
        paint(&mut fourth, 7, 5, clear);
        let mut fifth = fourth.clone();
        paint(&mut fifth, 0, 0, green);
        let given = [first, second, third, fourth, fifth];

        let mut gif = AnimatedGif::new(8, 6, Some(0)).unwrap();
        for (i, frame) in given.iter().enumerate() {
            gif.add(frame, 100 * (i as u32 + 1)).unwrap();
        }
        let bytes = gif.finish().unwrap();
        let header =
            crate::pipeline::header::read(&bytes, crate::pipeline::ImageFormat::Gif).unwrap();
        let settings = crate::pipeline::PipelineSettings::default();
        let mut frames = crate::pipeline::decode::Frames::open(&bytes, &header, &settings).unwrap();
        for (i, want) in given.iter().enumerate() {
            let got = frames.next_frame(&header).unwrap().expect("a frame");
            assert_eq!(got.duration_ms, 100 * (i as u32 + 1));
            // Transparent pixels may carry any colour.
            let visible = |b: &Bitmap| -> Vec<[u8; 4]> {
                b.data
                    .chunks_exact(4)
                    .map(|p| {
                        if p[3] == 0 {
                            [0; 4]
                        } else {
                            p.try_into().unwrap()
                        }
                    })
                    .collect()
            };
            assert_eq!(visible(&got.bitmap), visible(want), "frame {i}");
        }
        assert!(frames.next_frame(&header).unwrap().is_none());
        assert_eq!(frames.loop_count(), Some(0));
    }
}
