//! The source root: resolving request paths to files safely, reading them, and giving each file
//! a content identity (what the variant cache keys on, so an edited file never hits an old
//! variant). A [`SourceTree`] is either a plain folder ([`DirTree`]) or, with git sync, the
//! object database at the published commit.

mod dir;
mod git;
pub mod path;
mod resolve;

use std::path::PathBuf;

pub use dir::DirTree;
pub use git::{GitTree, Published};
pub use path::{check_component, decode_url_segments, PathError, RelPath};
pub use resolve::{resolve, Resolution, DEFAULT_STEM, EXTENSION_CANDIDATES};

/// Where the bytes of a file live; only the tree that made a [`FileRef`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileHandle {
    /// A regular file, already resolved inside the root (symlinks followed and checked).
    Fs(PathBuf),
    /// A blob in the repository's object database.
    Blob(git2::Oid),
}

/// A file found in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// The path the file was found at (as requested, before following symlinks).
    pub path: RelPath,
    /// Changes whenever the content may have changed: the blob id for git, a digest of
    /// device, inode, size and timestamps for a plain folder.
    pub content_id: String,
    pub size: u64,
    pub handle: FileHandle,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File(FileRef),
    Dir,
}

/// One child of a folder, for listings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListEntry {
    pub name: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: ListKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl ListEntry {
    /// The listing line of a looked-up child `name` at `path`; `None` for nothing there.
    pub fn from_entry(name: String, path: &RelPath, entry: Option<Entry>) -> Option<Self> {
        let (kind, bytes) = match entry? {
            Entry::Dir => (ListKind::Dir, None),
            Entry::File(f) => (ListKind::File, Some(f.size)),
        };
        Some(Self {
            name,
            path: path.to_string(),
            kind,
            bytes,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    File,
    Dir,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Missing, hidden, or refused (a symlink leaving the root): all look the same outside.
    #[error("not found")]
    NotFound,
    /// Present but never served (a symlink leaving the root or naming a hidden file): answered
    /// like a missing file, but never with the fallback image.
    #[error("refused")]
    Refused,
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("source is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

/// A read-only view of the images being served.
pub trait SourceTree: Send + Sync + 'static {
    /// What `path` names, following symlinks only while they stay inside the root and avoid
    /// hidden names. `Ok(None)` when missing, `Err(Refused)` when a link leads astray.
    fn lookup(&self, path: &RelPath) -> Result<Option<Entry>, SourceError>;

    /// The bytes of a file found by [`lookup`](Self::lookup); more than `max_bytes` is an error.
    fn read(&self, file: &FileRef, max_bytes: u64) -> Result<Vec<u8>, SourceError>;

    /// The first `len` bytes (or fewer) of a file, for sniffing its format.
    fn read_prefix(&self, file: &FileRef, len: usize) -> Result<Vec<u8>, SourceError> {
        let mut bytes = self.read(file, u64::MAX)?;
        bytes.truncate(len);
        Ok(bytes)
    }

    /// The visible children of a folder (no dotfiles), sorted by name.
    fn list(&self, dir: &RelPath) -> Result<Vec<ListEntry>, SourceError>;

    /// Whether the root can be read at all (readiness).
    fn is_readable(&self) -> bool;
}
