//! From URL segments to a file, with goimgserver's conveniences: `photo` finds `photo.jpg`,
//! `.jpeg`, `.png`, `.webp` in that order; a folder serves its `default.*`; segments after the
//! file are handed back as path-grammar parameters.

use super::{Entry, FileRef, RelPath, SourceError, SourceTree};

/// Extensions tried, in order, for a name given without one.
pub const EXTENSION_CANDIDATES: [&str; 4] = ["jpg", "jpeg", "png", "webp"];
/// The file a folder URL serves.
pub const DEFAULT_STEM: &str = "default";

/// A file and the URL segments that followed it.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub file: FileRef,
    pub params: Vec<String>,
}

/// Walks `segments` from the root. `is_param` tells whether a segment is path-grammar syntax,
/// so `/img/cats/400` is the folder's default at width 400 rather than a missing file.
pub fn resolve(
    tree: &dyn SourceTree,
    segments: &[String],
    is_param: impl Fn(&str) -> bool,
) -> Result<Resolution, SourceError> {
    let mut dir = RelPath::root();
    for (i, segment) in segments.iter().enumerate() {
        let candidate = dir.join(segment)?;
        match tree.lookup(&candidate)? {
            Some(Entry::File(file)) => {
                return Ok(Resolution {
                    file,
                    params: segments[i + 1..].to_vec(),
                })
            }
            Some(Entry::Dir) => dir = candidate,
            None => {
                if let Some(file) = with_extension(tree, &dir, segment)? {
                    return Ok(Resolution {
                        file,
                        params: segments[i + 1..].to_vec(),
                    });
                }
                if segments[i..].iter().all(|s| is_param(s)) {
                    let file = folder_default(tree, &dir)?.ok_or(SourceError::NotFound)?;
                    return Ok(Resolution {
                        file,
                        params: segments[i..].to_vec(),
                    });
                }
                return Err(SourceError::NotFound);
            }
        }
    }
    let file = folder_default(tree, &dir)?.ok_or(SourceError::NotFound)?;
    Ok(Resolution {
        file,
        params: Vec::new(),
    })
}

fn with_extension(
    tree: &dyn SourceTree,
    dir: &RelPath,
    stem: &str,
) -> Result<Option<FileRef>, SourceError> {
    for ext in EXTENSION_CANDIDATES {
        let Ok(candidate) = dir.join(&format!("{stem}.{ext}")) else {
            continue;
        };
        if let Some(Entry::File(file)) = tree.lookup(&candidate)? {
            return Ok(Some(file));
        }
    }
    Ok(None)
}

fn folder_default(tree: &dyn SourceTree, dir: &RelPath) -> Result<Option<FileRef>, SourceError> {
    with_extension(tree, dir, DEFAULT_STEM)
}
