//! CSS in a sanitised SVG: `style` attributes and `<style>` sheets are parsed (declarations by
//! simplecss, rules by their braces) and rebuilt from what the allowlist keeps: presentation
//! properties whose `url(...)` references, if any, name fragments of the document. At-rules
//! (`@import`, `@font-face`, `@media`...) and CSS escapes (which could spell `url` unseen) go.

use simplecss::DeclarationTokenizer;

use super::allowlist::{self, PROPERTIES};

/// The kept declarations of a `style` attribute, or of a rule's block; and the fragments
/// their `url(#...)` values name.
pub fn declarations(text: &str, refs: &mut Vec<String>) -> String {
    // An escape can spell a name or `url` the checks below would not see; the tokenizer also
    // stops at one. SVG styles have no need of them.
    if text.contains('\\') {
        return String::new();
    }
    let mut kept = Vec::new();
    for d in DeclarationTokenizer::from(text) {
        let Some(name) = allowlist::find(PROPERTIES, &d.name.to_ascii_lowercase()) else {
            continue;
        };
        if !value_is_safe(d.value, refs) {
            continue;
        }
        let important = if d.important { " !important" } else { "" };
        kept.push(format!("{name}:{}{important}", d.value.trim()));
    }
    kept.join(";")
}

/// Whether a property or presentation attribute value may stay: no CSS escape or comment, and
/// every `url(...)` a fragment reference (collected in `refs`).
pub fn value_is_safe(value: &str, refs: &mut Vec<String>) -> bool {
    if value.contains('\\') || value.contains("/*") {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    if lower.contains("expression(") || lower.contains("javascript:") {
        return false;
    }
    let mut rest = lower.as_str();
    let mut original = value;
    while let Some(at) = rest.find("url(") {
        let inner = &original[at + 4..];
        let Some(end) = inner.find(')') else {
            return false;
        };
        let target = inner[..end]
            .trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .trim();
        match target.strip_prefix('#') {
            Some(id) if !id.is_empty() && !id.contains(['"', '\'', '(', ' ']) => {
                refs.push(id.to_string())
            }
            _ => return false,
        }
        rest = &rest[at + 4 + end..];
        original = &original[at + 4 + end..];
    }
    true
}

/// The kept rules of a `<style>` sheet: plain selectors with their kept declarations.
pub fn stylesheet(text: &str, refs: &mut Vec<String>) -> String {
    let mut out = String::new();
    let text = strip_comments(text);
    let mut rest = text.as_str();
    while !rest.trim().is_empty() {
        let Some(open) = rest.find(['{', ';']) else {
            break;
        };
        let prelude = rest[..open].trim();
        let is_block = rest.as_bytes()[open] == b'{';
        let after = &rest[open + 1..];
        let (body, next) = if is_block {
            match block_end(after) {
                Some(end) => (&after[..end], &after[end + 1..]),
                None => break,
            }
        } else {
            ("", after)
        };
        if is_block && !prelude.starts_with('@') && selector_is_plain(prelude) {
            let kept = declarations(body, refs);
            if !kept.is_empty() {
                out.push_str(prelude);
                out.push('{');
                out.push_str(&kept);
                out.push('}');
            }
        }
        rest = next;
    }
    out
}

/// Selectors of element names, classes, ids, attributes, combinators and pseudo-classes.
fn selector_is_plain(selector: &str) -> bool {
    !selector.is_empty()
        && selector
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " \t\r\n-_.#*,>+~:()[]=\"'|^$".contains(c))
}

/// Where the block that starts after `{` ends (nested blocks, as in `@media`, skipped whole).
fn block_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{') => depth += 1,
            (None, '}') if depth == 0 => return Some(i),
            (None, '}') => depth -= 1,
            _ => {}
        }
    }
    None
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("/*") {
        out.push_str(&rest[..at]);
        match rest[at + 2..].find("*/") {
            Some(end) => rest = &rest[at + 2 + end + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_keep_properties_and_local_urls() {
        let mut refs = Vec::new();
        assert_eq!(
            declarations(
                "fill: url(#g) ; stroke:url(http://x/y) ; behavior:url(x.htc); color:red !important; -moz-binding:url(x)",
                &mut refs
            ),
            "fill:url(#g);color:red !important"
        );
        assert_eq!(refs, ["g"]);
        assert_eq!(declarations("fill:u\\72l(http://x)", &mut refs), "");
        assert_eq!(
            declarations("fill:url( 'javascript:alert(1)' )", &mut refs),
            ""
        );
    }

    #[test]
    fn sheets_keep_plain_rules_only() {
        let mut refs = Vec::new();
        let sheet = "@import url(http://x/a.css); .a{fill:red} /* c */ @font-face{src:url(http://x/f.woff)} \
                     @media print{.b{fill:blue}} #c > rect{stroke:url(#p);background:url(http://x)} \
                     .d{fill:url(http://x/y)}";
        assert_eq!(
            stylesheet(sheet, &mut refs),
            ".a{fill:red}#c > rect{stroke:url(#p)}"
        );
        assert_eq!(refs, ["p"]);
    }
}
