//! The folder metadata a render and `/info` consult (`.imgserver.toml`, see
//! [`crate::source::metadata`]): read once per version of the file and kept parsed, keyed by the
//! metadata file's own content identity, so a cache hit reads nothing and an edited file (a new
//! blob after a sync) is read afresh. A malformed file is logged once per version, with its
//! folder and line, and then counts as absent.

use std::sync::Arc;

use crate::pipeline::{Focus, MILLION};
use crate::source::metadata::{self, FolderMeta, ImageMeta};
use crate::source::{FileRef, SourceTree};

use super::blocking;

pub struct FolderMetadata {
    parsed: moka::sync::Cache<String, Option<Arc<FolderMeta>>>,
}

impl FolderMetadata {
    pub fn new() -> Self {
        Self {
            parsed: moka::sync::Cache::new(10_000),
        }
    }

    /// What the metadata of `file`'s folder says about it, if anything.
    pub async fn of(&self, source: &Arc<dyn SourceTree>, file: &FileRef) -> Option<ImageMeta> {
        let meta = file.metadata.as_ref()?;
        let folder = match self.parsed.get(&meta.content_id) {
            Some(known) => known,
            None => {
                let parsed = read(source, file).await;
                self.parsed.insert(meta.content_id.clone(), parsed.clone());
                parsed
            }
        };
        folder?.image(&meta.name).cloned()
    }
}

/// Reads and parses the metadata of `file`'s folder on the blocking pool (a file read, and a
/// parse of up to 256 KiB: neither belongs on the async workers); a problem is logged and the
/// metadata counts as absent.
async fn read(source: &Arc<dyn SourceTree>, file: &FileRef) -> Option<Arc<FolderMeta>> {
    let (source, f) = (source.clone(), file.clone());
    let read = blocking(move || {
        let meta = f.metadata.as_ref().expect("checked by the caller");
        source
            .read_metadata(meta, &f)
            .map(|bytes| metadata::parse_bytes(&bytes))
    })
    .await;
    let folder = folder_of(file);
    match read {
        Ok(Ok(parsed)) => Some(Arc::new(parsed)),
        Ok(Err(e)) => {
            tracing::warn!(
                folder,
                file = metadata::METADATA_FILE,
                line = e.line,
                error = %e.message,
                "malformed folder metadata; ignored as a whole"
            );
            None
        }
        Err(e) => {
            tracing::warn!(folder, error = %e, "folder metadata unreadable; ignored");
            None
        }
    }
}

impl Default for FolderMetadata {
    fn default() -> Self {
        Self::new()
    }
}

/// The folder of `file`, as requested (for the log: the operator's own path, never a client's).
fn folder_of(file: &FileRef) -> String {
    let path = file.path.to_string();
    match path.rsplit_once('/') {
        Some((folder, _)) => folder.to_string(),
        None => String::new(),
    }
}

/// The metadata's focal point in the pipeline's units.
pub fn focus_of(meta: &ImageMeta) -> Option<Focus> {
    meta.focus.map(|[x, y]| {
        let millionths = |v: f64| (v * f64::from(MILLION)).round() as u32;
        Focus {
            x: millionths(x),
            y: millionths(y),
        }
    })
}
