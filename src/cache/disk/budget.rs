//! What the disk tier may hold, counted the way the filesystem counts it: every entry costs
//! the blocks it occupies (a 10-byte variant still takes a whole block), and the number of
//! entries is capped, so a flood of tiny variants can neither exceed the budget on disk nor
//! grow the in-memory index without end.

use std::path::Path;

/// The allocation unit assumed when the folder's own cannot be read.
const DEFAULT_BLOCK: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskBudget {
    /// Allocated bytes (whole blocks) of all entry files together.
    pub bytes: u64,
    /// Entry files.
    pub entries: u64,
    /// The filesystem's allocation unit under the cache folder.
    block: u64,
}

impl DiskBudget {
    /// `bytes` and `entries` for the filesystem that holds `dir` (or will: the nearest existing
    /// ancestor is asked).
    pub fn for_dir(dir: &Path, bytes: u64, entries: u64) -> Self {
        Self::with_block(bytes, entries, block_size(dir))
    }

    pub fn with_block(bytes: u64, entries: u64, block: u64) -> Self {
        Self {
            bytes,
            entries,
            block: block.clamp(512, 1 << 16),
        }
    }

    /// What a file of `len` bytes occupies: whole blocks, at least one.
    pub fn footprint(&self, len: u64) -> u64 {
        len.div_ceil(self.block).max(1) * self.block
    }

    /// Whether `bytes` (footprints) in `entries` files are over the budget.
    pub fn exceeded_by(&self, bytes: u64, entries: u64) -> bool {
        bytes > self.bytes || entries > self.entries
    }
}

#[cfg(unix)]
fn block_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    dir.ancestors()
        .find_map(|d| std::fs::metadata(d).ok())
        .map(|m| m.blksize())
        .filter(|b| *b > 0)
        .unwrap_or(DEFAULT_BLOCK)
}

#[cfg(not(unix))]
fn block_size(_dir: &Path) -> u64 {
    DEFAULT_BLOCK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprints_are_whole_blocks() {
        let b = DiskBudget::with_block(1 << 20, 10, 4096);
        assert_eq!(b.footprint(0), 4096);
        assert_eq!(b.footprint(10), 4096);
        assert_eq!(b.footprint(4096), 4096);
        assert_eq!(b.footprint(4097), 8192);
        assert!(!b.exceeded_by(1 << 20, 10));
        assert!(b.exceeded_by((1 << 20) + 1, 10));
        assert!(b.exceeded_by(0, 11));
    }
}
