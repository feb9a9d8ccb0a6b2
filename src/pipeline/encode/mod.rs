//! Encoding of the final upright sRGB bitmap. No encoder is given any metadata (EXIF, ICC,
//! XMP, text), so outputs carry none. Encoder failures are ours (`Internal`).

mod avif;
mod gif;
mod jpeg;
mod png;
mod webp;

use anyhow::Result;

use super::bitmap::Bitmap;
use super::{ImageFormat, PipelineSettings};

/// What the request asks of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// 1..=100, for the lossy encoders.
    pub quality: u8,
    /// Progressive JPEG, Adam7 PNG; the other formats have no such mode and ignore it.
    pub interlace: bool,
    /// Lossless WebP (the request allows it for WebP only).
    pub lossless: bool,
}

impl Options {
    pub fn lossy(quality: u8) -> Self {
        Self {
            quality,
            interlace: false,
            lossless: false,
        }
    }
}

/// Encodes `bitmap` (1-4 channels; alpha only for formats that support it) as `format`.
pub fn encode(
    bitmap: &Bitmap,
    format: ImageFormat,
    options: Options,
    settings: &PipelineSettings,
) -> Result<Vec<u8>> {
    let quality = options.quality.clamp(1, 100);
    match format {
        ImageFormat::Jpeg => jpeg::encode(bitmap, quality, options.interlace),
        ImageFormat::Png => png::encode(bitmap, options.interlace),
        ImageFormat::Webp if options.lossless => {
            webp::encode_lossless(bitmap, settings.webp_method)
        }
        ImageFormat::Webp => webp::encode(bitmap, quality, settings.webp_method),
        ImageFormat::Avif => avif::encode(bitmap, quality, settings.avif_speed),
        ImageFormat::Gif => gif::encode(bitmap),
        ImageFormat::Svg => anyhow::bail!("SVG is a source format, never an output"),
    }
}
