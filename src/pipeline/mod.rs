//! The render pipeline: plain synchronous functions that turn source bytes into an encoded
//! variant, in a fixed order (sniff → check limits → decode → orient → sRGB → resize → encode).
//! No actix or async types here; callers run these on the render pool.

pub mod spec;

pub use spec::{
    Fit, Gravity, ImageFormat, PipelineSettings, Rendered, RenderSpec, Rgb, SourceInfo,
};

/// Why a render or probe failed. `Unsupported` and `TooLarge` are the client's (HTTP 422);
/// `Internal` is ours (HTTP 500, cause logged, never shown).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("unsupported source: {0}")]
    Unsupported(String),
    #[error("source too large: {0}")]
    TooLarge(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The format of `bytes` by their magic number (never by file name), if it is one we decode.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    let _ = bytes;
    None
}

/// Reads the header: format, displayed size, alpha, frames. Applies the source limits.
pub fn probe(bytes: &[u8], settings: &PipelineSettings) -> Result<SourceInfo, PipelineError> {
    let _ = (bytes, settings);
    Err(PipelineError::Unsupported("pipeline not built yet".into()))
}

/// Renders `bytes` according to `spec`.
pub fn render(
    bytes: &[u8],
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<Rendered, PipelineError> {
    let _ = (bytes, spec, settings);
    Err(PipelineError::Unsupported("pipeline not built yet".into()))
}
