//! Header-only reading of every supported format: stored size, EXIF orientation, alpha and
//! frame count, without decoding (or allocating for) any pixel. Limits are checked against
//! this before a decoder runs, so a 100000x100000 bomb costs a few hundred bytes of parsing.

pub mod avif;
mod gif;
pub mod jpeg;
mod png;
mod webp;

use super::{ImageFormat, PipelineError};

/// What the header says, in the *stored* orientation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub format: ImageFormat,
    /// Stored width (before the orientation is applied).
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1..=8 (AVIF's irot/imir are mapped onto the same values).
    pub orientation: u8,
    pub has_alpha: bool,
    pub frames: u32,
}

impl Header {
    /// The size as displayed, i.e. after the orientation.
    pub fn displayed_size(&self) -> (u32, u32) {
        if super::exif::swaps_axes(self.orientation) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    /// Whether the frames can be rendered as an animation: GIF and WebP of several frames
    /// (an animated PNG or AVIF renders its first frame).
    pub fn animated(&self) -> bool {
        self.frames > 1 && self.format.can_animate()
    }
}

/// Reads the header of `bytes`, already sniffed as `format`.
pub fn read(bytes: &[u8], format: ImageFormat) -> Result<Header, PipelineError> {
    let header = match format {
        ImageFormat::Jpeg => jpeg::read(bytes),
        ImageFormat::Png => png::read(bytes),
        ImageFormat::Gif => gif::read(bytes),
        ImageFormat::Webp => webp::read(bytes),
        ImageFormat::Avif => avif::read(bytes),
        // Sized by `svg::header`, which needs the SVG limits.
        ImageFormat::Svg => Err("an SVG has no binary header".to_string()),
    }
    .map_err(|e| PipelineError::Unsupported(format!("{format}: {e}")))?;
    if header.width == 0 || header.height == 0 {
        return Err(PipelineError::Unsupported(format!(
            "{format}: zero-sized image"
        )));
    }
    Ok(header)
}

/// A bounds-checked big/little-endian reader over a byte slice; running off the end is the
/// normal way a truncated file is detected, so it returns `Err`, never panics.
pub(crate) struct Cursor<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
}

pub(crate) type HeaderResult<T> = Result<T, String>;

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }
    pub fn take(&mut self, n: usize) -> HeaderResult<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| "truncated header".to_string())?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub fn skip(&mut self, n: usize) -> HeaderResult<()> {
        self.take(n).map(|_| ())
    }
    pub fn u8(&mut self) -> HeaderResult<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn be16(&mut self) -> HeaderResult<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn be32(&mut self) -> HeaderResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn be64(&mut self) -> HeaderResult<u64> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    pub fn le16(&mut self) -> HeaderResult<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn le24(&mut self) -> HeaderResult<u32> {
        let b = self.take(3)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }
    pub fn le32(&mut self) -> HeaderResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}
