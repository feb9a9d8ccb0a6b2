//! The cache's counters, kept in memory with relaxed atomics (a lookup never takes a lock to
//! count itself), and the snapshot the admin stats endpoint and the metrics read.
//!
//! Every lookup is counted once, by where it was answered: a memory hit counts as a memory hit;
//! anything else as a memory miss and then as a disk hit (the variant was read from disk) or a
//! disk miss (it was rendered). Requests that waited for another request's disk read or render
//! count like that request.

use std::sync::atomic::{AtomicU64, Ordering};

use super::CacheStatus;

/// Counters of one tier.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TierStats {
    pub entries: u64,
    pub bytes: u64,
    pub budget_bytes: u64,
    pub hits: u64,
    pub misses: u64,
    /// Entries removed to stay within the budget (not counting clears).
    pub evictions: u64,
}

/// Everything the admin stats endpoint and the metrics report about the cache.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CacheStats {
    pub memory: TierStats,
    pub disk: TierStats,
    /// Renders started since start.
    pub renders: u64,
    pub renders_in_flight: u64,
    /// Hits (either tier) over all lookups, 0 when there were none.
    pub hit_ratio: f64,
    /// Variants still being written to disk (the response was already sent).
    pub disk_writes_pending: u64,
    /// Disk writes that failed (full or unwritable cache folder); the image was served anyway.
    pub disk_write_errors: u64,
    /// Disk entries found truncated or corrupt, deleted and rendered again instead.
    pub disk_bad_entries: u64,
    /// Whether the start-up scan of the cache folder has finished (before that, the disk
    /// figures cover only what was found so far).
    pub disk_index_ready: bool,
}

/// Lookup and render counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    misses: AtomicU64,
    renders: AtomicU64,
    in_flight: AtomicU64,
}

impl Counters {
    pub fn count_lookup(&self, status: CacheStatus) {
        let counter = match status {
            CacheStatus::HitMemory => &self.memory_hits,
            CacheStatus::HitDisk => &self.disk_hits,
            CacheStatus::Miss => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// Counts a render as started and in flight until the guard drops.
    pub fn render_started(&self) -> InFlight<'_> {
        self.renders.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Fills in the lookup counters of both tiers and the render figures.
    pub fn fill(&self, stats: &mut CacheStats) {
        let memory_hits = self.memory_hits.load(Ordering::Relaxed);
        let disk_hits = self.disk_hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        stats.memory.hits = memory_hits;
        stats.memory.misses = disk_hits + misses;
        stats.disk.hits = disk_hits;
        stats.disk.misses = misses;
        stats.renders = self.renders();
        stats.renders_in_flight = self.in_flight.load(Ordering::Relaxed);
        let lookups = memory_hits + disk_hits + misses;
        stats.hit_ratio = if lookups == 0 {
            0.0
        } else {
            (memory_hits + disk_hits) as f64 / lookups as f64
        };
    }
}

/// A render in progress; dropping it (even by a panic) ends it.
pub(crate) struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_split_by_tier() {
        let c = Counters::default();
        c.count_lookup(CacheStatus::HitMemory);
        c.count_lookup(CacheStatus::HitMemory);
        c.count_lookup(CacheStatus::HitDisk);
        c.count_lookup(CacheStatus::Miss);
        let guard = c.render_started();
        let mut s = CacheStats::default();
        c.fill(&mut s);
        assert_eq!((s.memory.hits, s.memory.misses), (2, 2));
        assert_eq!((s.disk.hits, s.disk.misses), (1, 1));
        assert_eq!((s.renders, s.renders_in_flight), (1, 1));
        assert_eq!(s.hit_ratio, 0.75);
        drop(guard);
        c.fill(&mut s);
        assert_eq!(s.renders_in_flight, 0);
    }
}
