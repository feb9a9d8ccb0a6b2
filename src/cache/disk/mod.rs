//! The disk tier under `cache.dir`: one file per variant in 256 sharded folders
//! (`ab/abcdef…`), each holding what is needed to serve it (see [`entry`]), bounded by
//! `cache.max_disk_bytes` (allocated blocks, see [`budget`]) and `cache.max_disk_entries` with
//! least-recently-used eviction.
//!
//! Crash safety: an entry is written to a temp file in its final folder, synced, then renamed
//! into place, so a crash (kill -9, power loss) leaves a complete entry or none; leftover temp
//! files are deleted by the start-up [`scan`], and every entry's length and checksum are checked
//! before it is served (a bad one is deleted and treated as a miss). A full or unwritable
//! folder never fails a request: the write is dropped with a rate-limited warning.
//!
//! Every call here does blocking I/O: callers run it off the async workers.
//!
//! The folder belongs to one server process at a time.

mod budget;
mod entry;
mod index;
mod scan;
mod warnings;

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use bytes::Bytes;

use self::index::{Index, Removed};
use self::warnings::Warnings;
use super::{Origin, TierStats, Variant};

pub(crate) use self::budget::DiskBudget;
pub use self::entry::EntryError;

const TEMP_PREFIX: &str = ".tmp-";
/// Variants rendered but not yet on disk; beyond this, new ones stay in memory only (a disk
/// slower than the renders must not pile up memory).
const MAX_PENDING_WRITES: u64 = 256;

/// Facts about the tier beyond the common tier counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DiskHealth {
    pub writes_pending: u64,
    pub write_errors: u64,
    pub bad_entries: u64,
    pub index_ready: bool,
}

pub(crate) struct DiskTier {
    dir: PathBuf,
    budget: DiskBudget,
    index: Mutex<Index>,
    /// Signalled when the start-up scan has finished.
    indexed: Condvar,
    /// Names this process's temp files, so the scan removes only other processes' leftovers.
    instance: String,
    temp_seq: AtomicU64,
    evictions: AtomicU64,
    writes_pending: AtomicU64,
    write_errors: AtomicU64,
    bad_entries: AtomicU64,
    /// Bumped by every removal: a write scheduled before a clear must not land after it.
    clears: AtomicU64,
    warnings: Warnings,
}

impl DiskTier {
    /// Opens (creating it if needed) the folder and starts indexing it in the background.
    pub fn open(dir: &Path, budget: DiskBudget) -> Arc<Self> {
        let tier = Arc::new(Self {
            dir: dir.to_path_buf(),
            budget,
            index: Mutex::new(Index::new()),
            indexed: Condvar::new(),
            instance: format!("{:016x}", rand::random::<u64>()),
            temp_seq: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            writes_pending: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            bad_entries: AtomicU64::new(0),
            clears: AtomicU64::new(0),
            warnings: Warnings::default(),
        });
        match fs::create_dir_all(dir) {
            Ok(()) => tag_as_cache(dir),
            Err(e) => tier.warnings.warn("cannot create the cache folder", &e),
        }
        let scanning = tier.clone();
        let scan = move || {
            let done = ScanDone(&scanning);
            scan::run(done.0);
        };
        if let Err(e) = std::thread::Builder::new()
            .name("cache-scan".into())
            .spawn(scan)
        {
            tracing::warn!(error = %e, "cannot start the cache scan thread; the disk cache starts empty");
            tier.lock_index().mark_complete();
        }
        tier
    }

    /// The entry under `key`, checked; `None` when absent or bad (a bad one is deleted).
    pub fn read(&self, key: &str) -> Option<Variant> {
        if !is_entry_name(key) || !self.lock_index().may_hold(key) {
            return None;
        }
        let path = self.entry_path(key);
        let (bytes, file) = match read_bounded(&path, self.budget.bytes) {
            Ok(Some(read)) => read,
            Ok(None) => {
                self.discard(key, &path, &EntryError::Length);
                return None;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.lock_index().remove(key);
                return None;
            }
            Err(e) => {
                self.warnings.warn("cannot read the disk cache", &e);
                return None;
            }
        };
        let size = self.budget.footprint(bytes.len() as u64);
        match entry::decode(key, Bytes::from(bytes)) {
            Ok(variant) => {
                // The modification time orders entries by recency after a restart.
                let _ = file.set_modified(std::time::SystemTime::now());
                self.record(key, size, &variant.origin);
                Some(variant)
            }
            Err(e) => {
                self.discard(key, &path, &e);
                None
            }
        }
    }

    /// Notes that the entry under `key` is still in use (it was served from memory), so it is
    /// not the next to be evicted. No I/O: the index only.
    pub fn note_use(&self, key: &str) {
        self.lock_index().refresh(key);
    }

    /// Writes `variant` on a blocking thread; the caller does not wait.
    pub fn write_in_background(self: &Arc<Self>, key: &str, variant: Arc<Variant>) {
        if self.writes_pending.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING_WRITES {
            self.writes_pending.fetch_sub(1, Ordering::Relaxed);
            tracing::debug!("disk cache writes are behind; a variant stays in memory only");
            return;
        }
        let tier = self.clone();
        let key = key.to_string();
        let clears = self.clears.load(Ordering::SeqCst);
        tokio::task::spawn_blocking(move || {
            tier.write_unless_cleared(&key, &variant, clears);
            tier.writes_pending.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// Stores `variant` under `key`, evicting least recently used entries beyond the budget.
    /// A failure is counted and logged (rate-limited), never returned: the variant was served.
    #[cfg(test)]
    pub fn write(&self, key: &str, variant: &Variant) {
        let clears = self.clears.load(Ordering::SeqCst);
        self.write_unless_cleared(key, variant, clears);
    }

    /// As [`write`](Self::write), but drops the write when a clear happened since `clears` was
    /// read: the variant was rendered before the clear and must not reappear after it.
    fn write_unless_cleared(&self, key: &str, variant: &Variant, clears: u64) {
        if let Err(e) = self.try_write(key, variant, clears) {
            self.write_errors.fetch_add(1, Ordering::Relaxed);
            self.warnings.warn("cannot write to the disk cache", &e);
        }
    }

    fn try_write(&self, key: &str, variant: &Variant, clears: u64) -> io::Result<()> {
        if !is_entry_name(key) {
            return Err(io::Error::other("not a cache key"));
        }
        let head = entry::encode_head(key, variant);
        let size = self
            .budget
            .footprint((head.len() + variant.bytes.len()) as u64);
        if size > self.budget.bytes {
            return Ok(()); // could never stay
        }
        let shard = self.dir.join(&key[..2]);
        fs::create_dir_all(&shard)?;
        let seq = self.temp_seq.fetch_add(1, Ordering::Relaxed);
        let temp = shard.join(format!("{TEMP_PREFIX}{}-{seq}", self.instance));
        if let Err(e) = write_synced(&temp, &head, &variant.bytes) {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        // Renames and evictions happen under the index lock, so the index and the folder agree.
        let mut index = self.lock_index();
        if self.clears.load(Ordering::SeqCst) != clears {
            drop(index);
            let _ = fs::remove_file(&temp);
            return Ok(());
        }
        if let Err(e) = fs::rename(&temp, shard.join(key)) {
            drop(index);
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        index.touch(key, size, &variant.origin);
        let victims = index.evict_to(&self.budget, Some(key));
        self.unlink_all(&victims);
        drop(index);
        self.count_evictions(victims.len());
        Ok(())
    }

    /// Removes every entry whose origin `doomed` picks (after the start-up scan, so entries
    /// not yet indexed are covered too); returns what went.
    pub fn remove_where(&self, doomed: &dyn Fn(&Origin) -> bool) -> Vec<(String, u64)> {
        let mut index = self.lock_index();
        while !index.is_complete() {
            index = self.indexed.wait(index).unwrap_or_else(|e| e.into_inner());
        }
        self.clears.fetch_add(1, Ordering::SeqCst);
        let victims = index.remove_where(doomed);
        drop(index);
        // Unlinked outside the lock: a clear of a big cache must not stall disk lookups. A
        // variant rewritten in between loses its file and is rendered again when next asked.
        self.unlink_all(&victims);
        victims.into_iter().map(|r| (r.key, r.size)).collect()
    }

    pub fn stats(&self) -> (TierStats, DiskHealth) {
        let index = self.lock_index();
        let tier = TierStats {
            entries: index.len(),
            bytes: index.bytes(),
            budget_bytes: self.budget.bytes,
            evictions: self.evictions.load(Ordering::Relaxed),
            ..TierStats::default()
        };
        let health = DiskHealth {
            writes_pending: self.writes_pending.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            bad_entries: self.bad_entries.load(Ordering::Relaxed),
            index_ready: index.is_complete(),
        };
        (tier, health)
    }

    /// Blocks until the start-up scan has finished.
    #[cfg(test)]
    pub fn wait_until_indexed(&self) {
        let mut index = self.lock_index();
        while !index.is_complete() {
            index = self.indexed.wait(index).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(key)
    }

    /// Notes a use of an entry read from disk; one unknown to the index (still scanning) is
    /// added, which may evict others.
    fn record(&self, key: &str, size: u64, origin: &Origin) {
        let mut index = self.lock_index();
        index.touch(key, size, origin);
        let victims = index.evict_to(&self.budget, Some(key));
        self.unlink_all(&victims);
        drop(index);
        self.count_evictions(victims.len());
    }

    fn discard(&self, key: &str, path: &Path, why: &EntryError) {
        let mut index = self.lock_index();
        index.remove(key);
        let _ = fs::remove_file(path);
        drop(index);
        self.count_bad_entry();
        tracing::warn!(key, error = %why, "deleted a damaged disk cache entry");
    }

    fn unlink_all(&self, victims: &[Removed]) {
        for victim in victims {
            if let Err(e) = fs::remove_file(self.entry_path(&victim.key)) {
                if e.kind() != io::ErrorKind::NotFound {
                    self.warnings.warn("cannot delete from the disk cache", &e);
                }
            }
        }
    }

    fn count_evictions(&self, n: usize) {
        self.evictions.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn count_bad_entry(&self) {
        self.bad_entries.fetch_add(1, Ordering::Relaxed);
    }

    fn lock_index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks the index complete when the scan ends, even by a panic, so clears never wait forever.
struct ScanDone<'a>(&'a DiskTier);

impl Drop for ScanDone<'_> {
    fn drop(&mut self) {
        self.0.lock_index().mark_complete();
        self.0.indexed.notify_all();
    }
}

/// Lower-case hex of a sensible length: what the variant keys (and shard names' prefixes) are.
fn is_entry_name(name: &str) -> bool {
    (16..=128).contains(&name.len()) && is_lower_hex(name)
}

fn is_lower_hex(name: &str) -> bool {
    name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The whole file and its handle, or `None` when it is larger than any entry can be.
fn read_bounded(path: &Path, max: u64) -> io::Result<Option<(Vec<u8>, fs::File)>> {
    let file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > max {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    (&file).take(max + 1).read_to_end(&mut bytes)?;
    Ok(Some((bytes, file)))
}

fn write_synced(path: &Path, head: &[u8], body: &[u8]) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(head)?;
    file.write_all(body)?;
    file.sync_all()
}

/// Marks the folder as a cache for backup tools (<https://bford.info/cachedir/>).
fn tag_as_cache(dir: &Path) {
    let tag = dir.join("CACHEDIR.TAG");
    if !tag.exists() {
        let _ = fs::write(
            tag,
            "Signature: 8a477f597d28d172789f06886806bc55\n\
             # This folder is imgserver's variant cache; it can be deleted at any time.\n",
        );
    }
}

#[cfg(test)]
mod tests;
