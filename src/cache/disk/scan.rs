//! The start-up scan: rebuilds the index from the cache folder so a restart keeps the cache
//! warm, deletes temp files left by a crash and entries that are cut off or of an older format,
//! then applies the budget. It runs on its own thread; requests are served meanwhile (a key
//! not yet indexed is looked up on disk directly).

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use super::entry::{self, EntryMeta, PREFIX_LEN};
use super::{is_entry_name, is_lower_hex, DiskTier, TEMP_PREFIX};

struct Found {
    meta: EntryMeta,
    size: u64,
    modified: SystemTime,
}

pub(super) fn run(tier: &DiskTier) {
    let started = std::time::Instant::now();
    let mut found = Vec::new();
    let mut stale = 0u64;
    if let Ok(shards) = fs::read_dir(&tier.dir) {
        for shard in shards.flatten() {
            let name = shard.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.len() == 2 && is_lower_hex(name) && shard.path().is_dir() {
                scan_shard(tier, &shard.path(), name, &mut found, &mut stale);
            }
        }
    }
    found.sort_by_key(|f| f.modified);
    let entries = found.len();
    let victims = {
        let mut index = tier.lock_index();
        for (rank, f) in found.into_iter().enumerate() {
            let size = tier.budget.footprint(f.size);
            index.add_found(f.meta.key, size, f.meta.origin, rank as u64);
        }
        index.mark_complete();
        let victims = index.evict_to(&tier.budget, None);
        tier.unlink_all(&victims);
        victims
    };
    tier.count_evictions(victims.len());
    tracing::info!(
        entries,
        evicted = victims.len(),
        removed_leftovers = stale,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "disk cache indexed"
    );
}

fn scan_shard(
    tier: &DiskTier,
    shard: &Path,
    prefix: &str,
    found: &mut Vec<Found>,
    stale: &mut u64,
) {
    let Ok(files) = fs::read_dir(shard) else {
        return;
    };
    for file in files.flatten() {
        let name = file.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = file.path();
        if let Some(rest) = name.strip_prefix(TEMP_PREFIX) {
            // A temp file of this process is a write in progress; any other is a leftover.
            if !rest.starts_with(&tier.instance) && fs::remove_file(&path).is_ok() {
                *stale += 1;
            }
            continue;
        }
        if !(name.starts_with(prefix) && is_entry_name(name)) {
            continue; // not ours: left alone
        }
        match read_head(&path) {
            Ok((meta, size, modified)) if meta.key == name => found.push(Found {
                meta,
                size,
                modified,
            }),
            Ok(_) | Err(HeadError::Bad) => {
                if fs::remove_file(&path).is_ok() {
                    *stale += 1;
                    tier.count_bad_entry();
                }
            }
            Err(HeadError::Io) => {}
        }
    }
}

enum HeadError {
    /// Cut off, damaged or of another format: deleted.
    Bad,
    /// Unreadable just now: left alone.
    Io,
}

/// The entry's key and origin from its prefix and header, checking its length; the body is
/// checked when it is served.
fn read_head(path: &Path) -> Result<(EntryMeta, u64, SystemTime), HeadError> {
    let mut file = fs::File::open(path).map_err(|_| HeadError::Io)?;
    let stat = file.metadata().map_err(|_| HeadError::Io)?;
    let mut head = vec![0u8; PREFIX_LEN];
    if file.read_exact(&mut head).is_err() {
        return Err(HeadError::Bad);
    }
    let header_len = entry::header_len(&head).map_err(|_| HeadError::Bad)?;
    head.resize(PREFIX_LEN + header_len, 0);
    if file.read_exact(&mut head[PREFIX_LEN..]).is_err() {
        return Err(HeadError::Bad);
    }
    let meta = entry::read_meta(&head, stat.len()).map_err(|_| HeadError::Bad)?;
    let modified = stat.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    Ok((meta, stat.len(), modified))
}
