//! The allowlist applied to a parsed document: kept elements are rebuilt one by one with their
//! kept attributes, so whatever is not named in `allowlist.rs` (and the children of a dropped
//! element) is simply never written. Comments, processing instructions (`xml-stylesheet`) and
//! the doctype are not carried over; ids are made unique so every reference has one target.

use std::collections::HashSet;

use roxmltree::{Document, Node};

use super::allowlist::{self, ATTRIBUTES, ELEMENTS, PROPERTIES, TEXT_ELEMENTS};
use super::document::is_svg_namespace;
use super::write::{self, Child, Element};
use super::{css, expansion, SvgSettings};
use crate::pipeline::PipelineError;

const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// The sanitised text of `doc` (already parsed within the limits), its `use` and reference
/// expansion bounded too.
pub fn sanitize(doc: &Document, settings: &SvgSettings) -> Result<String, PipelineError> {
    let arena = rebuild(doc.root_element());
    expansion::check(&arena, settings)?;
    Ok(write::write(&arena))
}

fn rebuild(root: Node) -> Vec<Element> {
    let mut ids = HashSet::new();
    let mut arena = vec![element(root, "svg", &mut ids)];
    // (input element, its output index); iterative, as the tree may be deep.
    let mut stack = vec![(root, 0usize)];
    while let Some((node, index)) = stack.pop() {
        let keeps_text = TEXT_ELEMENTS.contains(&arena[index].name);
        for child in node.children() {
            if child.is_text() && keeps_text {
                let text = child.text().unwrap_or_default();
                let text = match arena[index].name {
                    "style" => css::stylesheet(text, &mut arena[index].refs),
                    _ => text.to_string(),
                };
                arena[index].children.push(Child::Text(text));
            } else if let Some(name) = kept_name(child) {
                let kept = element(child, name, &mut ids);
                arena.push(kept);
                let child_index = arena.len() - 1;
                arena[index].children.push(Child::Element(child_index));
                stack.push((child, child_index));
            }
        }
    }
    arena
}

/// The allowlisted name of an element in the SVG namespace; `None` drops it and its subtree.
fn kept_name(node: Node) -> Option<&'static str> {
    if !node.is_element() || !is_svg_namespace(node) {
        return None;
    }
    allowlist::find(ELEMENTS, node.tag_name().name())
}

/// `node` as `name` with its kept attributes.
fn element(node: Node, name: &'static str, ids: &mut HashSet<String>) -> Element {
    let mut kept = Element {
        name,
        ..Element::default()
    };
    let mut href = None;
    for attribute in node.attributes() {
        let value = attribute.value();
        match (attribute.namespace(), attribute.name()) {
            (None, "href") => href = Some(value),
            (Some(XLINK_NS), "href") => {
                href = href.or(Some(value));
            }
            (Some(XML_NS), "space") => kept.attributes.push(("xml:space", value.into())),
            (Some(XML_NS), "lang") => kept.attributes.push(("xml:lang", value.into())),
            (None, "style") => {
                let style = css::declarations(value, &mut kept.refs);
                if !style.is_empty() {
                    kept.attributes.push(("style", style));
                }
            }
            // First come, first kept: a duplicate would let two elements answer one reference.
            (None, "id") if ids.insert(value.to_string()) => {
                kept.attributes.push(("id", value.into()));
            }
            (None, "id") => {}
            (None, other) => {
                if let Some(property) = allowlist::find(PROPERTIES, other) {
                    if css::value_is_safe(value, &mut kept.refs) {
                        kept.attributes.push((property, value.into()));
                    }
                } else if let Some(attribute) = allowlist::find(ATTRIBUTES, other) {
                    kept.attributes.push((attribute, value.into()));
                }
            }
            _ => {}
        }
    }
    if let Some(href) = href.filter(|h| allowlist::href_allowed(name, h)) {
        let href = href.trim();
        if let Some(id) = href.strip_prefix('#') {
            kept.refs.push(id.to_string());
        }
        kept.attributes.push(("xlink:href", href.into()));
    }
    kept
}
