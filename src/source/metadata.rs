//! Metadata kept in the repository beside the images: each folder may hold `.imgserver.toml`
//! (a dotfile, never served) with one table per image of that folder, its focal point and alt
//! text. Parsed strictly: a file with any problem is reported with its line and ignored as a
//! whole, so a typo never half-applies. `check_tree` validates every such file of a folder
//! tree (for `imgserver check-source` in the images repository's CI).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The name of the metadata file of a folder.
pub const METADATA_FILE: &str = ".imgserver.toml";

/// Larger metadata files are refused unread (thousands of images' entries fit in far less).
pub const MAX_METADATA_BYTES: u64 = 256 * 1024;

/// Longest alt text, in characters.
pub const MAX_ALT_CHARS: usize = 1000;

/// What the metadata file says about one image.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct ImageMeta {
    /// Focal point, fractions 0-1 of the displayed image's width and height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focus: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// The parsed metadata file of one folder: file name → its entry, and the line of its table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FolderMeta(BTreeMap<String, (ImageMeta, usize)>);

impl FolderMeta {
    /// The entry of the image named `name` in this folder.
    pub fn image(&self, name: &str) -> Option<&ImageMeta> {
        self.0.get(name).map(|(meta, _)| meta)
    }

    /// The names with an entry, each with the line its table starts on.
    pub fn names(&self) -> impl Iterator<Item = (&str, usize)> {
        self.0
            .iter()
            .map(|(name, (_, line))| (name.as_str(), *line))
    }
}

/// Why a metadata file is ignored, with the line (1-based) it points at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct MetadataError {
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    focus: Option<toml::Spanned<Vec<f64>>>,
    alt: Option<toml::Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses a metadata file's bytes (UTF-8 TOML).
pub fn parse_bytes(bytes: &[u8]) -> Result<FolderMeta, MetadataError> {
    let text = std::str::from_utf8(bytes).map_err(|e| MetadataError {
        line: line_of(&String::from_utf8_lossy(bytes), e.valid_up_to()),
        message: "not UTF-8 text".into(),
    })?;
    parse(text)
}

/// Parses the text of a metadata file.
pub fn parse(text: &str) -> Result<FolderMeta, MetadataError> {
    let raw: BTreeMap<toml::Spanned<String>, RawEntry> =
        toml::from_str(text).map_err(|e| MetadataError {
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().to_string(),
        })?;
    let mut out = BTreeMap::new();
    for (name, entry) in raw {
        let at = |span: std::ops::Range<usize>| line_of(text, span.start);
        let problem = |line: usize, message: String| MetadataError { line, message };
        let key = name.get_ref();
        if key.is_empty() || key.contains('/') || key.contains('\\') || key.starts_with('.') {
            return Err(problem(
                at(name.span()),
                format!("{key:?} is not the name of an image in this folder"),
            ));
        }
        let focus = match entry.focus {
            None => None,
            Some(f) => {
                let values = f.get_ref();
                let fraction = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
                if values.len() != 2 || !values.iter().all(|&v| fraction(v)) {
                    return Err(problem(
                        at(f.span()),
                        format!("focus of {key:?} must be [x, y], two fractions between 0 and 1"),
                    ));
                }
                Some([values[0], values[1]])
            }
        };
        let alt = match entry.alt {
            None => None,
            Some(a) => {
                let text_value = a.get_ref();
                if text_value.chars().count() > MAX_ALT_CHARS {
                    return Err(problem(
                        at(a.span()),
                        format!("alt of {key:?} is longer than {MAX_ALT_CHARS} characters"),
                    ));
                }
                Some(text_value.clone())
            }
        };
        out.insert(key.clone(), (ImageMeta { focus, alt }, at(name.span())));
    }
    Ok(FolderMeta(out))
}

/// One metadata file's problem, for `check-source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub error: MetadataError,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            self.file.display(),
            self.error.line,
            self.error.message
        )
    }
}

/// Every metadata file under `root` (not following symlinks, skipping `.git`), and their
/// problems: those that make the server ignore a file, and entries naming no file of the folder
/// (the server ignores such an entry alone; it is most likely a typo).
pub fn check_tree(root: &Path) -> std::io::Result<(usize, Vec<Problem>)> {
    let mut files = 0;
    let mut problems = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let kind = entry.file_type()?;
            let name = entry.file_name();
            if kind.is_dir() && name != ".git" {
                pending.push(entry.path());
            } else if kind.is_file() && name == METADATA_FILE {
                files += 1;
                let path = entry.path();
                for error in check_file(&dir, &path)? {
                    problems.push(Problem {
                        file: path.clone(),
                        error,
                    });
                }
            }
        }
    }
    Ok((files, problems))
}

/// The problems of the metadata file at `path` in the folder `dir`.
fn check_file(dir: &Path, path: &Path) -> std::io::Result<Vec<MetadataError>> {
    if std::fs::metadata(path)?.len() > MAX_METADATA_BYTES {
        return Ok(vec![MetadataError {
            line: 1,
            message: format!("larger than {MAX_METADATA_BYTES} bytes"),
        }]);
    }
    let folder = match parse_bytes(&std::fs::read(path)?) {
        Ok(folder) => folder,
        Err(e) => return Ok(vec![e]),
    };
    Ok(folder
        .names()
        .filter(|(name, _)| !dir.join(name).is_file())
        .map(|(name, line)| MetadataError {
            line,
            message: format!("{name:?}: no such file in this folder"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_and_alt_per_image() {
        let meta = parse(
            "[\"cat.jpg\"]\nfocus = [0.62, 0.35]\nalt = \"A cat asleep\"\n\n[\"dog.png\"]\nalt = \"A dog\"\n",
        )
        .unwrap();
        assert_eq!(meta.names().count(), 2);
        assert_eq!(meta.image("cat.jpg").unwrap().focus, Some([0.62, 0.35]));
        assert_eq!(meta.image("dog.png").unwrap().focus, None);
        assert_eq!(meta.image("dog.png").unwrap().alt.as_deref(), Some("A dog"));
        assert!(meta.image("bird.jpg").is_none());
        assert_eq!(parse("").unwrap().names().count(), 0);
        assert_eq!(
            parse_bytes(b"[\"a.jpg\"]\nalt = \"\xff\"\n")
                .unwrap_err()
                .line,
            2
        );
    }

    #[test]
    fn problems_name_their_line() {
        let cases = [
            ("[\"a.jpg\"]\nfocus = [0.5, 1.5]\n", 2, "two fractions"),
            ("[\"a.jpg\"]\nfocus = [0.5]\n", 2, "two fractions"),
            (
                "[\"a.jpg\"]\n\nfocus = [0.5, 0.5]\nzoom = 2\n",
                4,
                "unknown field",
            ),
            ("[\"a.jpg\"]\nfocus = \"middle\"\n", 2, "invalid type"),
            ("[\"a.jpg\"\nfocus = [0.5, 0.5]\n", 1, ""),
            (
                "[\"../b.jpg\"]\nalt = \"x\"\n",
                1,
                "not the name of an image",
            ),
            (
                "[\"a.jpg\"]\nalt = \"x\"\n[\"a.jpg\"]\nalt = \"y\"\n",
                3,
                "",
            ),
        ];
        for (text, line, message) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(message), "{text:?}: {e}");
        }
        let long = format!("[\"a.jpg\"]\nalt = \"{}\"\n", "x".repeat(MAX_ALT_CHARS + 1));
        assert!(parse(&long).unwrap_err().message.contains("longer than"));
    }
}
