//! One folder as the gallery shows it: its subfolders and its images, each image with the URLs
//! the page needs. Files are told apart by extension only; sniffing every file of a big folder
//! would cost a read each, and `/info/` tells the truth lazily for the images on screen. The
//! URLs are the caller's ([`Links`]): an anonymous listing holds no signature.

use serde::Serialize;

use crate::config::Settings;
use crate::grammar::{IMG_PREFIX, SRCSET_PREFIX};
use crate::source::{ListKind, RelPath, SourceError, SourceTree};

use super::access::Caller;
use super::links::{Links, Thumbnail};

/// Extensions of the formats the pipeline decodes (compared case-insensitively). SVGs are
/// listed too: their thumbnails are rasters like any other's (the thumbnail URLs transform).
pub const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "webp", "avif", "gif", "svg"];

/// At most this many folders and images are listed; the rest is reported as `truncated`.
pub const MAX_ENTRIES: usize = 5000;

#[derive(Debug, Clone, Serialize)]
pub struct Folder {
    /// This folder, relative to the root (`""` for the root).
    pub path: String,
    /// The folder above, `None` at the root.
    pub parent: Option<String>,
    pub folders: Vec<SubFolder>,
    pub images: Vec<Image>,
    /// Files that are not images by their extension (not listed).
    pub other_files: usize,
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubFolder {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub name: String,
    pub path: String,
    pub bytes: Option<u64>,
    /// The original, ready to append a query to (`/img/cats/a%20b.jpg`).
    pub url: String,
    /// The original as served (signed for the admin if originals must be).
    pub original: String,
    pub info: String,
    /// The `/srcset/` URL of the file, ready to append a query to.
    pub srcset: String,
    pub thumb: Thumbnail,
}

pub fn is_image_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext))
    })
}

/// Blocking: lists `dir` (which the caller parsed with [`RelPath::parse`]) for `caller`.
pub fn folder(
    source: &dyn SourceTree,
    settings: &Settings,
    dir: &RelPath,
    caller: Caller,
) -> Result<Folder, SourceError> {
    let links = Links::new(settings, caller);
    let mut out = Folder {
        path: dir.to_string(),
        parent: dir.parent().map(|p| p.to_string()),
        folders: Vec::new(),
        images: Vec::new(),
        other_files: 0,
        truncated: false,
    };
    for entry in source.list(dir)? {
        if out.folders.len() + out.images.len() >= MAX_ENTRIES {
            out.truncated = true;
            break;
        }
        // Listings only hold checked names; one that is not is skipped rather than trusted.
        let Ok(path) = RelPath::parse(&entry.path) else {
            continue;
        };
        match entry.kind {
            ListKind::Dir => out.folders.push(SubFolder {
                name: entry.name,
                path: entry.path,
            }),
            ListKind::File if is_image_name(&entry.name) => out.images.push(Image {
                url: path.url_below(IMG_PREFIX),
                original: links.original(&path),
                info: Links::info(&path),
                srcset: path.url_below(SRCSET_PREFIX),
                thumb: links.thumbnail(&path),
                name: entry.name,
                path: entry.path,
                bytes: entry.bytes,
            }),
            ListKind::File => out.other_files += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_extension() {
        for name in [
            "a.jpg", "B.JPEG", "c.png", "d.webp", "e.avif", "f.Gif", "a..b.jpg", "g.SVG",
        ] {
            assert!(is_image_name(name), "{name}");
        }
        for name in ["README.md", "jpg", ".jpg", "a.jpg.txt", "a.svgz", "noext"] {
            assert!(!is_image_name(name), "{name}");
        }
    }
}
