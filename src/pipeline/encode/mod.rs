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

/// Encodes `bitmap` (1-4 channels; alpha only for formats that support it) as `format`.
pub fn encode(
    bitmap: &Bitmap,
    format: ImageFormat,
    quality: u8,
    settings: &PipelineSettings,
) -> Result<Vec<u8>> {
    let quality = quality.clamp(1, 100);
    match format {
        ImageFormat::Jpeg => jpeg::encode(bitmap, quality),
        ImageFormat::Png => png::encode(bitmap),
        ImageFormat::Webp => webp::encode(bitmap, quality, settings.webp_method),
        ImageFormat::Avif => avif::encode(bitmap, quality, settings.avif_speed),
        ImageFormat::Gif => gif::encode(bitmap),
    }
}
