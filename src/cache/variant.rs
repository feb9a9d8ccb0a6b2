//! The vocabulary of the cache: what a variant carries, where a lookup found it, and which
//! variants an admin clear covers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::source::RelPath;

/// What a variant was made from, so it can be found again by source path or source version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub path: RelPath,
    pub content_id: String,
}

/// An encoded variant with what is needed to serve it without decoding anything.
#[derive(Debug, Clone)]
pub struct Variant {
    pub bytes: Bytes,
    pub content_type: String,
    pub etag: String,
    pub origin: Origin,
}

/// Which variants an admin clear removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearScope {
    All,
    /// Every variant of every source at or below this folder.
    Prefix(RelPath),
    /// Every variant of this one source file.
    Path(RelPath),
}

impl ClearScope {
    pub fn covers(&self, origin: &Origin) -> bool {
        match self {
            ClearScope::All => true,
            ClearScope::Prefix(prefix) => origin.path.starts_with(prefix),
            ClearScope::Path(path) => &origin.path == path,
        }
    }
}

/// What a clear removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClearOutcome {
    /// Distinct variants removed (a variant held by both tiers counts once).
    pub removed_entries: u64,
    /// Bytes given back, memory and disk together (a disk entry counts its whole file).
    pub freed_bytes: u64,
}

/// Where a variant came from, as reported in `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    HitMemory,
    HitDisk,
    Miss,
}

impl CacheStatus {
    pub fn header_value(self) -> &'static str {
        match self {
            Self::HitMemory => "hit-memory",
            Self::HitDisk => "hit-disk",
            Self::Miss => "miss",
        }
    }
}

/// What [`VariantCache::get_or_render`](super::VariantCache::get_or_render) hands back.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub variant: Arc<Variant>,
    /// Where the variant came from; a request that waited for another request's disk read or
    /// render reports what that one found (`hit-disk` or `miss`).
    pub status: CacheStatus,
    /// How long the render took, when this request waited for one.
    pub render_time: Option<Duration>,
}
