//! The source root: resolving request paths to files safely, reading them, and giving each file
//! a content identity (what the variant cache keys on, so an edited file never hits an old
//! variant). A [`SourceTree`] is either a plain folder ([`DirTree`]) or, with git sync, the
//! object database at the published commit.

mod checkout;
mod dir;
mod git;
pub mod metadata;
mod opened;
pub mod path;
mod resolve;

use std::path::PathBuf;

use bytes::Bytes;

pub use checkout::{open, Checkout, OpenOptions, OpenedSource, REMOTE};
pub use dir::DirTree;
pub use git::{GitTree, Published};
pub use opened::Opened;
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
    /// Device and inode the lookup checked (plain folders): opening a different file (one
    /// swapped in since) is refused.
    pub inode: Option<(u64, u64)>,
    /// The metadata file of the folder holding the file, found by the same lookup (for git, in
    /// the same commit as the file).
    pub metadata: Option<Box<MetadataRef>>,
}

/// Where the metadata of a file's folder lives, and under which name the file is listed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRef {
    /// The metadata file's own content identity (its blob id, or a digest of its inode).
    pub content_id: String,
    /// The file's name in its folder (the real one, when the file was reached through a link).
    pub name: String,
    pub size: u64,
    handle: FileHandle,
    inode: Option<(u64, u64)>,
}

impl FileRef {
    /// Bytes held in memory while any part of this file is read: a git blob is inflated whole,
    /// a plain file is read in place (its readers charge their own buffers).
    pub fn inflated_bytes(&self) -> u64 {
        match self.handle {
            FileHandle::Fs(_) => 0,
            FileHandle::Blob(_) => self.size,
        }
    }
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

    /// Opens a file found by [`lookup`](Self::lookup): the very file the lookup checked, and
    /// only a regular file; more than `max_bytes` is refused before anything is read.
    fn open(&self, file: &FileRef, max_bytes: u64) -> Result<Opened, SourceError>;

    /// The bytes of a file found by [`lookup`](Self::lookup); more than `max_bytes` is an error.
    fn read(&self, file: &FileRef, max_bytes: u64) -> Result<Bytes, SourceError> {
        Ok(self
            .open(file, max_bytes)?
            .read_all()
            .map_err(|e| anyhow::Error::new(e).context("cannot read a source file"))?)
    }

    /// The first `len` bytes (or fewer) of a file, for sniffing its format; a file over
    /// `max_bytes` is refused without being read.
    fn read_prefix(
        &self,
        file: &FileRef,
        len: usize,
        max_bytes: u64,
    ) -> Result<Bytes, SourceError> {
        Ok(self
            .open(file, max_bytes)?
            .read_at(0, len)
            .map_err(|e| anyhow::Error::new(e).context("cannot read a source file"))?)
    }

    /// The bytes of a file's folder metadata ([`FileRef::metadata`]), at most
    /// [`metadata::MAX_METADATA_BYTES`].
    fn read_metadata(&self, meta: &MetadataRef, of: &FileRef) -> Result<Bytes, SourceError> {
        let file = FileRef {
            path: of.path.clone(),
            content_id: meta.content_id.clone(),
            size: meta.size,
            handle: meta.handle.clone(),
            inode: meta.inode,
            metadata: None,
        };
        self.read(&file, metadata::MAX_METADATA_BYTES)
    }

    /// The visible children of a folder (no dotfiles), sorted by name.
    fn list(&self, dir: &RelPath) -> Result<Vec<ListEntry>, SourceError>;

    /// Whether the root can be read at all (readiness).
    fn is_readable(&self) -> bool;
}
