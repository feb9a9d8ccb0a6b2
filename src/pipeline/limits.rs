//! Source limits, checked from the header before any decoder allocates: byte size, pixel
//! count, frame count, and the pixels an animation will encode. A breach is the client's problem (`TooLarge`, HTTP 422).

use super::header::Header;
use super::{PipelineError, PipelineSettings};

pub fn check_bytes(len: usize, settings: &PipelineSettings) -> Result<(), PipelineError> {
    if len as u64 > settings.max_source_bytes {
        return Err(PipelineError::TooLarge(format!(
            "{len} bytes, more than the limit of {}",
            settings.max_source_bytes
        )));
    }
    Ok(())
}

/// `animate`: whether all frames of an animation will be decoded (the frame limit applies
/// then; a still render only decodes the first frame).
pub fn check_header(
    header: &Header,
    settings: &PipelineSettings,
    animate: bool,
) -> Result<(), PipelineError> {
    let pixels = u64::from(header.width) * u64::from(header.height);
    if pixels > settings.max_source_pixels {
        return Err(PipelineError::TooLarge(format!(
            "{}x{} is {pixels} pixels, more than the limit of {}",
            header.width, header.height, settings.max_source_pixels
        )));
    }
    if animate && header.animated() && header.frames > settings.max_frames {
        return Err(PipelineError::TooLarge(format!(
            "{} frames, more than the limit of {}",
            header.frames, settings.max_frames
        )));
    }
    Ok(())
}

/// An animation's frames times its output area, refused over `max_animation_pixels` before
/// anything is decoded: the work of an animation grows with both.
pub fn check_animation(
    frames: u32,
    (width, height): (u32, u32),
    settings: &PipelineSettings,
) -> Result<(), PipelineError> {
    let pixels = u64::from(frames) * u64::from(width) * u64::from(height);
    if pixels > settings.max_animation_pixels {
        return Err(PipelineError::TooLarge(format!(
            "{frames} frames of {width}x{height} are {pixels} pixels, more than the animation \
             limit of {}; ask for a smaller size or anim=0",
            settings.max_animation_pixels
        )));
    }
    Ok(())
}
