//! Source limits, checked from the header before any decoder allocates: byte size, pixel
//! count, frame count. A breach is the client's problem (`TooLarge`, HTTP 422).

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

/// `animate`: whether all frames will be decoded (the frame limit applies then; a still
/// render only decodes the first frame).
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
    if animate && header.frames > settings.max_frames {
        return Err(PipelineError::TooLarge(format!(
            "{} frames, more than the limit of {}",
            header.frames, settings.max_frames
        )));
    }
    Ok(())
}
