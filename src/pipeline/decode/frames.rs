//! The frames of an animated GIF or WebP, composed (disposal and blending as the format
//! defines) and handed out one at a time, so an animation costs one canvas of memory however
//! many frames it has. Frames come at the full source size: each then goes through the same
//! geometry and effects as a still.

use anyhow::Result;

use super::gif::GifFrames;
use super::webp::WebpFrames;
use crate::pipeline::bitmap::Bitmap;
use crate::pipeline::header::Header;
use crate::pipeline::{ImageFormat, PipelineError, PipelineSettings};

/// One composed frame: the whole canvas as it shows, and how long it shows.
#[derive(Debug)]
pub struct Frame {
    pub bitmap: Bitmap,
    pub duration_ms: u32,
}

/// A frame decoder for an animated source, with the source's ICC profile.
pub struct Frames<'a> {
    source: Source<'a>,
    icc: Option<Vec<u8>>,
}

enum Source<'a> {
    Gif(Box<GifFrames<'a>>),
    Webp(Box<WebpFrames<'a>>),
}

impl<'a> Frames<'a> {
    pub fn open(
        bytes: &'a [u8],
        header: &Header,
        settings: &PipelineSettings,
    ) -> Result<Self, PipelineError> {
        let limit = super::memory_limit(settings);
        let unsupported =
            |e: anyhow::Error| PipelineError::Unsupported(format!("{}: {e:#}", header.format));
        let (source, icc) = match header.format {
            ImageFormat::Gif => (
                GifFrames::open(bytes, limit).map(|f| Source::Gif(Box::new(f))),
                None,
            ),
            ImageFormat::Webp => (
                WebpFrames::open(bytes, limit).map(|f| Source::Webp(Box::new(f))),
                super::webp::iccp_chunk(bytes),
            ),
            other => {
                return Err(PipelineError::Unsupported(format!(
                    "{other} is not animated"
                )))
            }
        };
        Ok(Self {
            source: source.map_err(unsupported)?,
            icc,
        })
    }

    /// The embedded ICC profile, when the frames still need converting to sRGB.
    pub fn icc(&self) -> Option<&[u8]> {
        self.icc.as_deref()
    }

    /// The next frame, or `None` after the last. A frame of another size than the header's
    /// (a lying file) is refused.
    pub fn next_frame(&mut self, header: &Header) -> Result<Option<Frame>, PipelineError> {
        let frame = match &mut self.source {
            Source::Gif(frames) => frames.next_frame(),
            Source::Webp(frames) => frames.next_frame(),
        }
        .map_err(|e| PipelineError::Unsupported(format!("{}: {e:#}", header.format)))?;
        if let Some(frame) = &frame {
            super::check_size(&frame.bitmap, header)?;
        }
        Ok(frame)
    }

    /// `None`: play once (a GIF without a loop extension); `Some(0)`: forever.
    pub fn loop_count(&self) -> Option<u16> {
        match &self.source {
            Source::Gif(frames) => frames.loop_count(),
            Source::Webp(frames) => frames.loop_count(),
        }
    }
}
