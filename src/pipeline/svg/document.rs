//! Parsing an SVG source within its bounds: the byte limit, UTF-8, no internal DTD subset (so
//! no entity can be declared: no billion laughs, no external entity), roxmltree's node limit,
//! an `<svg>` root, and the nesting depth, all checked before anything walks the tree.

use roxmltree::{Document, Node, ParsingOptions};

use super::{prolog, SvgSettings, MAX_DEPTH};
use crate::pipeline::PipelineError;

pub const SVG_NS: &str = "http://www.w3.org/2000/svg";

/// The source as text, within `images.max_svg_bytes`.
pub fn text<'a>(bytes: &'a [u8], settings: &SvgSettings) -> Result<&'a str, PipelineError> {
    if bytes.len() as u64 > settings.max_bytes {
        return Err(PipelineError::TooLarge(format!(
            "an SVG of {} bytes, more than images.max_svg_bytes ({})",
            bytes.len(),
            settings.max_bytes
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| PipelineError::Unsupported("svg: not UTF-8 text".into()))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// The parsed document, its limits checked.
pub fn parse<'a>(text: &'a str, settings: &SvgSettings) -> Result<Document<'a>, PipelineError> {
    let unsupported = |why: String| PipelineError::Unsupported(format!("svg: {why}"));
    let prolog = prolog::scan(text.as_bytes())
        .filter(|p| p.root_is_svg)
        .ok_or_else(|| unsupported("no <svg> root element".into()))?;
    if prolog.internal_subset {
        return Err(unsupported(
            "a doctype with an internal subset (entity declarations) is refused".into(),
        ));
    }
    let options = ParsingOptions {
        // A doctype without a subset (the SVG 1.1 public identifier) is common and inert:
        // roxmltree never loads an external DTD.
        allow_dtd: true,
        nodes_limit: settings.max_nodes,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => too_many_nodes(settings),
        e => unsupported(e.to_string()),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "svg" || !is_svg_namespace(root) {
        return Err(unsupported("the root element is not an SVG <svg>".into()));
    }
    check_depth(&doc)?;
    Ok(doc)
}

/// Elements in the SVG namespace, or in none (a hand-written file without `xmlns`).
pub fn is_svg_namespace(node: Node) -> bool {
    matches!(node.tag_name().namespace(), None | Some(SVG_NS))
}

pub fn too_many_nodes(settings: &SvgSettings) -> PipelineError {
    PipelineError::TooLarge(format!(
        "an SVG of more than images.max_svg_nodes ({}) nodes",
        settings.max_nodes
    ))
}

pub fn too_deep() -> PipelineError {
    PipelineError::TooLarge(format!("an SVG nested more than {MAX_DEPTH} elements deep"))
}

/// One pass in document order, each node's depth from its parent's (never by recursion: the
/// tree may be as deep as it is long).
fn check_depth(doc: &Document) -> Result<(), PipelineError> {
    let mut depths = vec![0usize; doc.descendants().count()];
    for node in doc.descendants().filter(|n| n.is_element()) {
        let parent = node.parent().map_or(0, |p| depths[p.id().get_usize()]);
        let depth = parent + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        depths[node.id().get_usize()] = depth;
    }
    Ok(())
}
