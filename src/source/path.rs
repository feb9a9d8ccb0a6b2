//! Relative paths inside the source root, checked component by component: what a URL may name.
//! Decoding happens exactly once, here; anything that could climb out of the root, name a
//! dotfile (`.git` included) or smuggle a separator is refused before the filesystem is touched.

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Why a path was refused. `Malformed` is the client's syntax (400); `Hidden` names something
/// that is never served and is answered exactly like a missing file (404).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("malformed path: {0}")]
    Malformed(&'static str),
    #[error("hidden path")]
    Hidden,
}

/// A validated path relative to the source root; the empty path is the root itself.
/// Components are non-empty, never `.` or `..`, never start with a dot, and hold no `/`, `\`,
/// NUL or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RelPath(String);

/// Everything but RFC 3986's unreserved characters is encoded in URLs, so the URL a page sends
/// is exactly the one that was signed.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const MAX_COMPONENT_BYTES: usize = 255;
const MAX_DEPTH: usize = 64;

/// Checks one decoded path component.
pub fn check_component(component: &str) -> Result<(), PathError> {
    if component.is_empty() {
        return Err(PathError::Malformed("empty path segment"));
    }
    if component == "." || component == ".." {
        return Err(PathError::Malformed("dot segment"));
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(PathError::Malformed("path segment too long"));
    }
    if component
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(PathError::Malformed("forbidden character in path"));
    }
    // A '%' left after the one decoding step means the client encoded twice; refuse the forms
    // that would become dots, separators or NUL if some later layer decoded again.
    let lower = component.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00"]
        .iter()
        .any(|p| lower.contains(p))
    {
        return Err(PathError::Malformed("encoded separator in path"));
    }
    if component.starts_with('.') {
        return Err(PathError::Hidden);
    }
    Ok(())
}

/// Splits the raw (still percent-encoded) URL path below a route prefix into decoded segments.
/// A single trailing slash is ignored; empty segments elsewhere are malformed.
pub fn decode_url_segments(raw: &str) -> Result<Vec<String>, PathError> {
    let raw = raw.strip_suffix('/').unwrap_or(raw);
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<&str> = raw.split('/').collect();
    if segments.len() > MAX_DEPTH {
        return Err(PathError::Malformed("path too deep"));
    }
    segments
        .into_iter()
        .map(|segment| {
            let decoded = percent_decode_str(segment)
                .decode_utf8()
                .map_err(|_| PathError::Malformed("path is not UTF-8"))?;
            if decoded.is_empty() {
                return Err(PathError::Malformed("empty path segment"));
            }
            Ok(decoded.into_owned())
        })
        .collect()
}

impl RelPath {
    pub fn root() -> Self {
        RelPath(String::new())
    }

    /// Parses a plain relative path such as `cats/a.jpg` (configuration, JSON bodies).
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let text = text.trim_matches('/');
        if text.is_empty() {
            return Ok(Self::root());
        }
        Self::from_components(text.split('/'))
    }

    pub fn from_components<'a>(
        components: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, PathError> {
        let mut path = Self::root();
        for component in components {
            path = path.join(component)?;
        }
        Ok(path)
    }

    pub fn join(&self, component: &str) -> Result<Self, PathError> {
        check_component(component)?;
        if self.components().count() >= MAX_DEPTH {
            return Err(PathError::Malformed("path too deep"));
        }
        Ok(if self.0.is_empty() {
            RelPath(component.to_string())
        } else {
            RelPath(format!("{}/{}", self.0, component))
        })
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    pub fn file_name(&self) -> Option<&str> {
        self.components().last()
    }

    pub fn parent(&self) -> Option<RelPath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => RelPath(self.0[..i].to_string()),
            None => RelPath::root(),
        })
    }

    /// The path as a URL below `prefix` (`/img`), each component percent-encoded: names with
    /// spaces, `#`, `;`, `?` or unicode survive, and decode back to this path.
    pub fn url_below(&self, prefix: &str) -> String {
        let mut out = format!("{prefix}/");
        for (i, component) in self.components().enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.extend(utf8_percent_encode(component, URL_COMPONENT));
        }
        out
    }

    /// Whether this path is `prefix` or lies below it (component-wise, not string-wise).
    pub fn starts_with(&self, prefix: &RelPath) -> bool {
        prefix.is_root() || self.0 == prefix.0 || self.0.starts_with(&format!("{}/", prefix.0))
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_encoded_separately() {
        let path = RelPath::parse("with space/ünï #1;x.jpg").unwrap();
        assert_eq!(
            path.url_below("/img"),
            "/img/with%20space/%C3%BCn%C3%AF%20%231%3Bx.jpg"
        );
        assert_eq!(RelPath::root().url_below("/img"), "/img/");
    }

    #[test]
    fn legal_names_pass() {
        for name in [
            "a.jpg",
            "with space.jpg",
            "ünïcødé.png",
            "hash#.jpg",
            "semi;colon.jpg",
            "a..b.jpg",
            "100%.jpg",
        ] {
            assert_eq!(check_component(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn escapes_and_hidden_are_refused() {
        assert_eq!(
            check_component(".."),
            Err(PathError::Malformed("dot segment"))
        );
        assert_eq!(check_component(".git"), Err(PathError::Hidden));
        assert_eq!(check_component(".env"), Err(PathError::Hidden));
        assert!(matches!(
            check_component("a\\b"),
            Err(PathError::Malformed(_))
        ));
        assert!(matches!(
            check_component("a\0b"),
            Err(PathError::Malformed(_))
        ));
        assert!(matches!(
            check_component("%2e%2e"),
            Err(PathError::Malformed(_))
        ));
        assert!(matches!(
            check_component("a%2Fb"),
            Err(PathError::Malformed(_))
        ));
    }

    #[test]
    fn url_segments_are_decoded_once() {
        assert_eq!(
            decode_url_segments("cats/a%20b.jpg").unwrap(),
            vec!["cats", "a b.jpg"]
        );
        assert_eq!(decode_url_segments("%2e%2e/x").unwrap(), vec!["..", "x"]);
        assert_eq!(decode_url_segments("%252e%252e").unwrap(), vec!["%2e%2e"]);
        assert_eq!(decode_url_segments("cats/").unwrap(), vec!["cats"]);
        assert!(decode_url_segments("a//b").is_err());
        assert!(decode_url_segments("%ff%fe").is_err());
        assert!(decode_url_segments("a%2fb").unwrap()[0].contains('/'));
    }

    #[test]
    fn relpath_parent_and_prefix() {
        let p = RelPath::parse("cats/kittens/a.jpg").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "cats/kittens");
        assert!(p.starts_with(&RelPath::parse("cats").unwrap()));
        assert!(!p.starts_with(&RelPath::parse("ca").unwrap()));
        assert!(RelPath::parse("../x").is_err());
    }
}
