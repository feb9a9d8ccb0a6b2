//! Animated renders: every frame of an animated GIF or WebP through the same steps as a still,
//! streamed from the frame decoder to the encoder so that memory stays at a few frames whatever
//! the count. Trim and smart crop are decided on the first frame and the same window cuts every
//! frame (a window that moved from frame to frame would shake). Durations and the loop count
//! are carried over; the frame count is the header's, already checked against the limits.

use anyhow::Context;

use super::decode::Frames;
use super::encode::{self, Animation};
use super::{PipelineError, PipelineSettings, Planned, RenderSpec, Window};

/// Renders the frames `planned` counted into `spec.format` (GIF or WebP): the encoded bytes
/// and the output size.
pub(super) fn render(
    bytes: &[u8],
    planned: Planned,
    spec: &RenderSpec,
    options: encode::Options,
    settings: &PipelineSettings,
) -> Result<(Vec<u8>, u32, u32), PipelineError> {
    let header = &planned.header;
    let mut frames = Frames::open(bytes, header, settings)?;
    let first = frames
        .next_frame(header)?
        .ok_or_else(|| PipelineError::Unsupported(format!("{}: no frame", header.format)))?;
    let window = Window::of(&first.bitmap, header, planned.layout, spec, settings)?;
    let loop_count = frames.loop_count();
    let icc = frames.icc().map(<[u8]>::to_vec);

    let mut encoder: Option<Animation> = None;
    let mut size = (0, 0);
    let mut next = Some(first);
    let mut count = 0;
    // A file that decodes more frames than its header counted stops at the count checked.
    while let Some(frame) = next.filter(|_| count < planned.frames) {
        count += 1;
        let image = window.finish(frame.bitmap, icc.as_deref(), spec)?;
        if encoder.is_none() {
            size = (image.width, image.height);
            encoder = Animation::new(spec.format, size, loop_count, options, settings)?;
        }
        let encoder = encoder
            .as_mut()
            .with_context(|| format!("{} carries no animation", spec.format))?;
        encoder
            .add(&image, frame.duration_ms)
            .with_context(|| format!("encoding frame {count} of {}x{}", size.0, size.1))?;
        next = frames.next_frame(header)?;
    }
    let encoder = encoder.context("no frame encoded")?;
    let bytes = encoder
        .finish()
        .with_context(|| format!("assembling {count} frames of {}", spec.format))?;
    Ok((bytes, size.0, size.1))
}
