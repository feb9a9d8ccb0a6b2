//! AVIF input. No AV1 decoder that builds from crates.io with only a C compiler is wired in
//! yet, so AVIF sources are refused with a clear message.

use super::Decoded;
use crate::pipeline::header::Header;
use crate::pipeline::PipelineError;

pub fn decode(_bytes: &[u8], _header: &Header) -> Result<Decoded, PipelineError> {
    Err(PipelineError::Unsupported(
        "avif: AVIF sources cannot be decoded by this build".into(),
    ))
}
