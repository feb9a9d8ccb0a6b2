//! SVG sources, end to end: recognised by content (`prolog.rs`), parsed within bounds
//! (`document.rs`), sized from `width`/`height`/`viewBox` (`size.rs`), rewritten through an
//! allowlist into a document with nothing active or external left (`sanitize.rs`, with the
//! tables in `allowlist.rs`, CSS in `css.rs`, `use` expansion bounded in `expansion.rs`, the
//! escaping writer in `write.rs`), and rasterised with resvg at the scale the render needs
//! (`rasterize.rs`, fonts loaded once per process in `fonts.rs`).
//!
//! Rasterising always starts from the sanitised document, so usvg never sees an element,
//! attribute, reference or entity the sanitiser did not allow, and never reads a file or the
//! network (its resolvers are replaced; `image` data URLs are not drawn).

mod allowlist;
mod css;
mod document;
mod expansion;
mod fonts;
mod prolog;
mod rasterize;
mod sanitize;
mod size;
mod write;

use std::path::PathBuf;

use super::header::Header;
use super::{ImageFormat, PipelineError};

pub use prolog::WINDOW as SNIFF_WINDOW;
pub use rasterize::{raster_size, rasterize};

/// The bounds and resources of SVG sources (`images.max_svg_bytes`, `images.max_svg_nodes`,
/// `images.svg_fonts_dir`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SvgSettings {
    /// Larger SVG sources are refused (`TooLarge`).
    pub max_bytes: u64,
    /// Most XML nodes (elements, attributes' owners, text), and most elements once every
    /// `<use>` is expanded; more is `TooLarge`.
    pub max_nodes: u32,
    /// The fonts text is drawn with; `None`: the system's fonts.
    pub fonts_dir: Option<PathBuf>,
}

impl Default for SvgSettings {
    fn default() -> Self {
        Self {
            max_bytes: 2 * 1024 * 1024,
            max_nodes: 50_000,
            fonts_dir: None,
        }
    }
}

/// Deepest element nesting accepted, `<use>` references included: usvg converts recursively,
/// and a few hundred levels would exhaust a render thread's stack.
pub const MAX_DEPTH: usize = 64;

/// Whether `bytes` begin like an SVG document: an `<svg>` root after an optional BOM, XML
/// declaration, comments, processing instructions and doctype. Only the first
/// [`prolog::WINDOW`] bytes are looked at, so a prefix of that length gives the same answer as
/// the whole file.
pub fn is_svg(bytes: &[u8]) -> bool {
    prolog::scan(bytes).is_some_and(|p| p.root_is_svg)
}

/// The header of an SVG source: its size in CSS pixels (rounded, at least 1), alpha, one
/// frame. Parses the whole document within the limits.
pub fn header(bytes: &[u8], settings: &SvgSettings) -> Result<Header, PipelineError> {
    let text = document::text(bytes, settings)?;
    let doc = document::parse(text, settings)?;
    let (width, height) = size::intrinsic(doc.root_element());
    Ok(Header {
        format: ImageFormat::Svg,
        width,
        height,
        orientation: 1,
        has_alpha: true,
        frames: 1,
    })
}

/// The sanitised document: what `/img/a.svg` serves. Refuses (`Unsupported`, `TooLarge`)
/// what cannot be parsed within the limits.
pub fn sanitize(bytes: &[u8], settings: &SvgSettings) -> Result<String, PipelineError> {
    let text = document::text(bytes, settings)?;
    let doc = document::parse(text, settings)?;
    sanitize::sanitize(&doc, settings)
}

#[cfg(test)]
mod tests;
