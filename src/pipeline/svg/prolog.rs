//! The XML prolog, read by its grammar (XML 1.0 §2.8): an optional BOM and XML declaration,
//! comments, processing instructions, whitespace and at most one doctype, then the root
//! element's name. This is how an SVG is recognised by content, and how a doctype with an
//! internal subset (where entities are declared) is found before the XML parser runs.

/// How far into a file recognition looks: a prolog longer than this (a very long leading
/// comment) is not recognised, so a sniffed prefix of this length decides like the whole file.
pub const WINDOW: usize = 4096;

/// What the prolog says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prolog {
    /// The root element is `svg` (or `prefix:svg`).
    pub root_is_svg: bool,
    /// The doctype has an internal subset (`[...]`), where entities would be declared.
    pub internal_subset: bool,
}

/// Reads the prolog within the first [`WINDOW`] bytes; `None` when no root element starts
/// there after a well-formed prolog.
pub fn scan(bytes: &[u8]) -> Option<Prolog> {
    let bytes = &bytes[..bytes.len().min(WINDOW)];
    let mut rest = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut internal_subset = false;
    let mut seen_doctype = false;
    loop {
        rest = skip_space(rest);
        if let Some(after) = rest.strip_prefix(b"<?") {
            rest = after_marker(after, b"?>")?;
        } else if let Some(after) = rest.strip_prefix(b"<!--") {
            rest = after_marker(after, b"-->")?;
        } else if let Some(after) = rest.strip_prefix(b"<!DOCTYPE") {
            if seen_doctype {
                return None;
            }
            seen_doctype = true;
            let (after, subset) = doctype(after)?;
            internal_subset = subset;
            rest = after;
        } else if let Some(after) = rest.strip_prefix(b"<") {
            let name_len = after
                .iter()
                .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')?;
            let name = &after[..name_len];
            let local = name.rsplit(|&b| b == b':').next().unwrap_or(name);
            return Some(Prolog {
                root_is_svg: local == b"svg" && !name.starts_with(b":"),
                internal_subset,
            });
        } else {
            return None;
        }
    }
}

fn skip_space(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .count();
    &bytes[n..]
}

fn after_marker<'a>(bytes: &'a [u8], marker: &[u8]) -> Option<&'a [u8]> {
    let at = bytes.windows(marker.len()).position(|w| w == marker)?;
    Some(&bytes[at + marker.len()..])
}

/// The rest of a doctype after `<!DOCTYPE`: quoted literals skipped, an internal subset
/// skipped to its `]` (its own literals and comments included). Returns what follows the
/// closing `>` and whether there was a subset.
fn doctype(mut bytes: &[u8]) -> Option<(&[u8], bool)> {
    let mut subset = false;
    loop {
        let (&b, after) = bytes.split_first()?;
        match b {
            b'"' | b'\'' => bytes = after_marker(after, &[b])?,
            b'[' if !subset => {
                subset = true;
                bytes = internal_subset(after)?;
            }
            b'>' => return Some((after, subset)),
            _ => bytes = after,
        }
    }
}

/// What follows the `]` that closes an internal subset.
fn internal_subset(mut bytes: &[u8]) -> Option<&[u8]> {
    loop {
        if let Some(after) = bytes.strip_prefix(b"<!--") {
            bytes = after_marker(after, b"-->")?;
            continue;
        }
        let (&b, after) = bytes.split_first()?;
        match b {
            b'"' | b'\'' => bytes = after_marker(after, &[b])?,
            b']' => return Some(after),
            _ => bytes = after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(text: &str) -> Option<Prolog> {
        scan(text.as_bytes())
    }

    #[test]
    fn svg_roots_after_any_prolog() {
        let plain = Some(Prolog {
            root_is_svg: true,
            internal_subset: false,
        });
        assert_eq!(svg("<svg/>"), plain);
        assert_eq!(svg("\u{feff}  <svg xmlns='x'>"), plain);
        assert_eq!(
            svg("<?xml version=\"1.0\"?>\n<!-- a > b -->\n<?pi x?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<svg>"),
            plain
        );
        assert_eq!(
            svg("<svg:svg xmlns:svg='http://www.w3.org/2000/svg'>"),
            plain
        );
        let subset = svg("<!DOCTYPE svg [<!ENTITY a \"]>\"><!-- ] -->]><svg>").unwrap();
        assert!(subset.root_is_svg && subset.internal_subset);
    }

    #[test]
    fn other_documents_are_not_svg() {
        for text in [
            "",
            "<html><svg>",
            "<!DOCTYPE html><html>",
            "text <svg>",
            "<svgfoo>",
            "<!-- unterminated <svg>",
            "<!DOCTYPE a><!DOCTYPE b><svg>",
        ] {
            assert!(!svg(text).is_some_and(|p| p.root_is_svg), "{text:?}");
        }
        let long_comment = format!("<!--{}--><svg>", "x".repeat(WINDOW));
        assert_eq!(svg(&long_comment), None);
    }
}
