//! The in-memory image passed between steps: 8-bit, interleaved, 1 to 4 channels (grey,
//! grey+alpha, RGB, RGBA), alpha straight (not premultiplied).

use anyhow::{ensure, Result};

#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bitmap({}x{}x{})",
            self.width, self.height, self.channels
        )
    }
}

impl Bitmap {
    pub fn new(width: u32, height: u32, channels: u8, data: Vec<u8>) -> Result<Self> {
        ensure!((1..=4).contains(&channels), "{channels} channels");
        ensure!(
            data.len() == width as usize * height as usize * channels as usize,
            "buffer of {} bytes for {width}x{height}x{channels}",
            data.len()
        );
        Ok(Self {
            width,
            height,
            channels,
            data,
        })
    }

    /// A bitmap filled with one pixel value (`pixel.len()` channels).
    pub fn filled(width: u32, height: u32, pixel: &[u8]) -> Self {
        let data = pixel.repeat(width as usize * height as usize);
        Self {
            width,
            height,
            channels: pixel.len() as u8,
            data,
        }
    }

    pub fn has_alpha(&self) -> bool {
        matches!(self.channels, 2 | 4)
    }

    pub fn row_len(&self) -> usize {
        self.width as usize * self.channels as usize
    }

    /// Whether every alpha value is 255 (true for images without alpha).
    pub fn is_opaque(&self) -> bool {
        let n = self.channels as usize;
        !self.has_alpha() || self.data.chunks_exact(n).all(|p| p[n - 1] == 255)
    }

    /// Grey and grey+alpha become RGB and RGBA; colour images are returned as they are.
    pub fn into_rgb_family(self) -> Self {
        let data = match self.channels {
            1 => self.data.iter().flat_map(|&v| [v, v, v]).collect(),
            2 => self
                .data
                .chunks_exact(2)
                .flat_map(|p| [p[0], p[0], p[0], p[1]])
                .collect(),
            _ => return self,
        };
        Self {
            width: self.width,
            height: self.height,
            channels: self.channels + 2,
            data,
        }
    }
}
