//! Decoding: source bytes to a [`Bitmap`] in the stored orientation, plus the embedded ICC
//! profile for the colour step. Decoder failures on the client's bytes are `Unsupported`.
//! The header (and so the limits) has been checked before any of these run.

mod avif;
mod frames;
mod gif;
mod jpeg;
mod jpeg_planes;
mod png;
mod webp;

pub use frames::Frames;

use super::bitmap::Bitmap;
use super::geometry::Rect;
use super::header::Header;
use super::spec::ShrinkOnLoad;
use super::{ImageFormat, PipelineError, PipelineSettings};

/// A decoded source. `bitmap` may be smaller than the header's size when the decoder shrank
/// on load; callers scale their coordinates by the ratio.
#[derive(Debug)]
pub struct Decoded {
    pub bitmap: Bitmap,
    /// The embedded ICC profile, when the pixels still need converting to sRGB.
    pub icc: Option<Vec<u8>>,
}

/// What the render will take from the decoded image, in stored-orientation source pixels:
/// `crop` resampled to `scaled`. Lets a decoder shrink on load without losing detail.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub crop: Rect,
    pub scaled: (u32, u32),
    /// A fixed JPEG scale in eighths instead of the computed one (for benchmarks).
    pub eighths: Option<u32>,
    pub shrink_on_load: ShrinkOnLoad,
}

impl Target {
    /// The scale, in eighths of the source, at which a JPEG is decoded for this render (its
    /// DCT scaling): the tighter axis decides, and `shrink_on_load` how much of the downscale
    /// the DCT scaling may do. The render's cost estimate uses it too.
    pub fn jpeg_eighths(&self) -> u32 {
        if let Some(eighths) = self.eighths {
            return eighths.clamp(1, 8);
        }
        let ratio_x = self.crop.width / f64::from(self.scaled.0.max(1));
        let ratio_y = self.crop.height / f64::from(self.scaled.1.max(1));
        self.shrink_on_load.eighths(ratio_x.min(ratio_y))
    }
}

/// A side of `len` pixels decoded at `eighths`/8 (libjpeg rounds up).
pub fn scaled_len(len: u32, eighths: u32) -> u32 {
    (u64::from(len) * u64::from(eighths)).div_ceil(8) as u32
}

pub fn decode(
    bytes: &[u8],
    header: &Header,
    target: &Target,
    settings: &PipelineSettings,
) -> Result<Decoded, PipelineError> {
    let memory_limit = memory_limit(settings);
    let unsupported =
        |e: anyhow::Error| PipelineError::Unsupported(format!("{}: {e:#}", header.format));
    let decoded = match header.format {
        ImageFormat::Jpeg => jpeg::decode(bytes, target)?,
        ImageFormat::Png => png::decode(bytes, memory_limit).map_err(unsupported)?,
        ImageFormat::Gif => gif::decode(bytes, memory_limit).map_err(unsupported)?,
        ImageFormat::Webp => webp::decode(bytes, header, memory_limit).map_err(unsupported)?,
        ImageFormat::Avif => avif::decode(bytes, header)?,
        // Drawn at the scale the render needs, larger than its header's size or smaller: the
        // header is not a pixel count to check against.
        ImageFormat::Svg => {
            return Ok(Decoded {
                bitmap: super::svg::rasterize(bytes, header, target, settings)?,
                icc: None,
            })
        }
    };
    check_size(&decoded.bitmap, header)?;
    Ok(decoded)
}

/// Headroom over the header-checked pixel limit for decoders that count their own memory.
fn memory_limit(settings: &PipelineSettings) -> u64 {
    settings
        .max_source_pixels
        .saturating_mul(8)
        .saturating_add(1 << 24)
}

/// Decoders that ignore the header's size (a lying header) must not reach the geometry.
fn check_size(b: &Bitmap, header: &Header) -> Result<(), PipelineError> {
    if b.width == 0 || b.height == 0 || b.width > header.width || b.height > header.height {
        return Err(PipelineError::Unsupported(format!(
            "{}: decoded {}x{} does not match the header's {}x{}",
            header.format, b.width, b.height, header.width, header.height
        )));
    }
    Ok(())
}
