//! The sanitised document as it is written out: an arena of allowlisted elements (names and
//! attribute names are the allowlist's own strings) and text, serialised with every attribute
//! value and text escaped, never pasted.

use std::fmt::Write;

use super::document::SVG_NS;

const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

/// One kept element.
#[derive(Debug, Default)]
pub struct Element {
    pub name: &'static str,
    pub attributes: Vec<(&'static str, String)>,
    pub children: Vec<Child>,
    /// The ids this element draws: its `use`/`textPath` target and its `url(#...)` paints,
    /// clips, masks, filters and markers (for `expansion.rs`).
    pub refs: Vec<String>,
}

#[derive(Debug)]
pub enum Child {
    Element(usize),
    Text(String),
}

/// Writes the tree rooted at `arena[0]` (the `svg` root, which gets the namespaces).
pub fn write(arena: &[Element]) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Iterative: (element, next child to write).
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    open(&mut out, &arena[0], true);
    while let Some((index, next)) = stack.pop() {
        let element = &arena[index];
        match element.children.get(next) {
            None => {
                if !element.children.is_empty() {
                    let _ = write!(out, "</{}>", element.name);
                }
            }
            Some(child) => {
                stack.push((index, next + 1));
                match child {
                    Child::Text(text) => escape(&mut out, text, false),
                    Child::Element(i) => {
                        open(&mut out, &arena[*i], false);
                        stack.push((*i, 0));
                    }
                }
            }
        }
    }
    out.push('\n');
    out
}

fn open(out: &mut String, element: &Element, root: bool) {
    out.push('<');
    out.push_str(element.name);
    if root {
        let _ = write!(out, " xmlns=\"{SVG_NS}\" xmlns:xlink=\"{XLINK_NS}\"");
    }
    for (name, value) in &element.attributes {
        let _ = write!(out, " {name}=\"");
        escape(out, value, true);
        out.push('"');
    }
    out.push_str(if element.children.is_empty() {
        "/>"
    } else {
        ">"
    });
}

/// Escapes markup characters, and in attributes the whitespace XML would normalise away.
fn escape(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\t' | '\n' | '\r' if attribute => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_text_are_escaped() {
        let arena = vec![
            Element {
                name: "svg",
                attributes: vec![("id", "a\"><script>&amp;\n".into())],
                children: vec![Child::Element(1), Child::Text("x</svg><script>&".into())],
                refs: vec![],
            },
            Element {
                name: "g",
                ..Element::default()
            },
        ];
        let text = write(&arena);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("id"), Some("a\"><script>&amp;\n"));
        assert_eq!(root.children().count(), 2);
        assert_eq!(root.last_child().unwrap().text(), Some("x</svg><script>&"));
    }
}
