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

/// An animated GIF or WebP, encoded frame by frame.
pub enum Animation {
    Gif(gif::AnimatedGif),
    Webp(webp::AnimatedWebp),
}

impl Animation {
    /// `loop_count`: `None` plays once, `Some(0)` forever. `None` when `format` cannot carry
    /// frames.
    pub fn new(
        format: ImageFormat,
        (width, height): (u32, u32),
        loop_count: Option<u16>,
        options: Options,
        settings: &PipelineSettings,
    ) -> Result<Option<Self>> {
        Ok(Some(match format {
            ImageFormat::Gif => Self::Gif(gif::AnimatedGif::new(width, height, loop_count)?),
            ImageFormat::Webp => Self::Webp(webp::AnimatedWebp::new(
                width,
                height,
                loop_count.unwrap_or(1),
                options.quality.clamp(1, 100),
                options.lossless,
                settings.webp_method,
            )?),
            _ => return Ok(None),
        }))
    }

    pub fn add(&mut self, frame: &Bitmap, duration_ms: u32) -> Result<()> {
        match self {
            Self::Gif(gif) => gif.add(frame, duration_ms),
            Self::Webp(webp) => webp.add(frame, duration_ms),
        }
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        match self {
            Self::Gif(gif) => gif.finish(),
            Self::Webp(webp) => webp.finish(),
        }
    }
}
