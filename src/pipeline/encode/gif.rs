//! GIF: each frame quantised to its own 256-colour palette with NeuQuant (`gif`'s own
//! quantiser, MIT via `color_quant`). GIF has 1-bit transparency: fully transparent pixels
//! become the transparent index and any other alpha is treated as opaque (`gif`'s own rule).
//! A still is an animation of one frame.

use anyhow::Result;

use crate::pipeline::bitmap::Bitmap;

/// NeuQuant sampling: 1 is best and slowest, 30 fastest; 10 is gif's recommended balance.
const QUANTIZE_SPEED: i32 = 10;

pub fn encode(bitmap: &Bitmap) -> Result<Vec<u8>> {
    let mut gif = AnimatedGif::new(bitmap.width, bitmap.height, None)?;
    gif.add(bitmap, 0)?;
    gif.finish()
}

/// A GIF written frame by frame as they come.
pub struct AnimatedGif {
    encoder: gif::Encoder<Vec<u8>>,
    width: u16,
    height: u16,
}

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
        })
    }

    /// Adds a frame of the canvas's size. GIF counts in hundredths of a second.
    pub fn add(&mut self, bitmap: &Bitmap, duration_ms: u32) -> Result<()> {
        let (w, h) = (self.width, self.height);
        anyhow::ensure!(
            (u32::from(w), u32::from(h)) == (bitmap.width, bitmap.height),
            "frame of another size than the canvas"
        );
        let mut frame = match bitmap.channels {
            4 => gif::Frame::from_rgba_speed(w, h, &mut bitmap.data.clone(), QUANTIZE_SPEED),
            3 => gif::Frame::from_rgb_speed(w, h, &bitmap.data, QUANTIZE_SPEED),
            _ => return self.add(&bitmap.clone().into_rgb_family(), duration_ms),
        };
        frame.delay = u16::try_from(duration_ms.div_ceil(10)).unwrap_or(u16::MAX);
        // Every frame covers the whole canvas: the next replaces it.
        frame.dispose = gif::DisposalMethod::Background;
        self.encoder.write_frame(&frame)?;
        Ok(())
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        Ok(self.encoder.into_inner()?)
    }
}
