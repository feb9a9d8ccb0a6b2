//! The variant cache between the request path and the pipeline, behind one
//! [`VariantCache::get_or_render`]:
//!
//! 1. the memory tier ([`memory`]): a hit costs no I/O and no render;
//! 2. otherwise one *flight* per key ([`crate::single_flight`]): concurrent requests for the same variant
//!    share one disk read ([`disk`]) and, when the disk has nothing, one render; every waiter
//!    is bounded by the render timeout;
//! 3. a variant read from disk is promoted to memory; a rendered one goes to memory at once
//!    and to disk in the background (after the response, crash-safe).
//!
//! Keys are content-addressed ([`VariantKey`]: the source's content identity plus the
//! canonical request plus the output format), so an edited or synced source can never hit an
//! old variant and nothing needs clearing for correctness; [`clear`](VariantCache::clear) and
//! [`forget_contents`](VariantCache::forget_contents) give the space back.

mod disk;
mod memory;
mod probe;
mod stats;
mod variant;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use self::disk::{DiskBudget, DiskTier};
use self::memory::{Held, MemoryTier};
use self::stats::Counters;
use crate::config::CacheSettings;
use crate::error::AppError;
use crate::limits::RenderPoolError;
use crate::request::VariantKey;
use crate::single_flight::SingleFlight;

pub use self::probe::WritableProbe;
pub use self::stats::{CacheStats, TierStats};
pub use self::variant::{CacheStatus, ClearOutcome, ClearScope, Lookup, Origin, Variant};

/// How long a lookup waits for a disk read or render when no limit is given.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// What a flight produced, handed to every request that waited for it.
#[derive(Debug, Clone)]
struct Filled {
    variant: Arc<Variant>,
    status: CacheStatus,
    render_time: Option<Duration>,
}

type Outcome = Result<Filled, Arc<AppError>>;

pub struct VariantCache {
    inner: Arc<Inner>,
}

struct Inner {
    memory: MemoryTier,
    disk: Option<Arc<DiskTier>>,
    flights: Arc<SingleFlight<VariantKey, Outcome>>,
    counters: Counters,
    /// Bound on one request's wait for its flight (the render timeout).
    wait_limit: Duration,
    started: Instant,
}

impl VariantCache {
    /// A memory-only cache (tests, or a service run without a disk tier).
    pub fn new(memory_bytes: u64) -> Self {
        Self::with_tiers(memory_bytes, None, DEFAULT_WAIT)
    }

    /// The cache as configured: memory tier, disk tier under `cache.dir` (indexed in the
    /// background), waits bounded by `wait_limit` (`limits.render_timeout`). A budget of 0
    /// turns a tier off.
    pub fn open(settings: &CacheSettings, wait_limit: Duration) -> Self {
        let dir = settings.dir.as_path();
        let budget = DiskBudget::for_dir(dir, settings.max_disk_bytes, settings.max_disk_entries);
        Self::with_tiers(settings.memory_bytes, Some((dir, budget)), wait_limit)
    }

    pub(crate) fn with_tiers(
        memory_bytes: u64,
        disk: Option<(&Path, DiskBudget)>,
        wait_limit: Duration,
    ) -> Self {
        let disk = disk
            .filter(|(_, budget)| budget.bytes > 0 && budget.entries > 0)
            .map(|(dir, budget)| DiskTier::open(dir, budget));
        Self {
            inner: Arc::new(Inner {
                memory: MemoryTier::new(memory_bytes),
                disk,
                flights: SingleFlight::new(fill_panicked),
                counters: Counters::default(),
                wait_limit,
                started: Instant::now(),
            }),
        }
    }

    /// Number of renders started since start (for tests and stats).
    pub fn renders(&self) -> u64 {
        self.inner.counters.renders()
    }

    /// The variant under `key`, rendering it with `render` when no tier has it. Concurrent
    /// callers for the same key share one disk read or render; each waits at most the render
    /// timeout (then 503 `render_timeout`, while the work goes on and still fills the cache).
    pub async fn get_or_render<F, Fut>(
        &self,
        key: &VariantKey,
        render: F,
    ) -> Result<Lookup, AppError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Variant, AppError>> + Send + 'static,
    {
        let inner = &self.inner;
        if let Some(held) = inner.memory.get(key) {
            return Ok(inner.memory_hit(key, &held));
        }
        // A flight inserts into memory before it leaves the map: checking again under the
        // lock means a variant that just landed is not rendered twice.
        let joined = inner.flights.join_unless(
            key.clone(),
            || inner.memory.get(key),
            || inner.clone().fill(key.clone(), render),
        );
        let flight = match joined {
            Ok(flight) => flight,
            Err(held) => return Ok(inner.memory_hit(key, &held)),
        };
        let filled = match tokio::time::timeout(inner.wait_limit, flight).await {
            Ok(Ok(filled)) => filled,
            Ok(Err(shared)) => return Err(copy_error(&shared)),
            Err(_) => return Err(RenderPoolError::Timeout(inner.wait_limit).into()),
        };
        inner.counters.count_lookup(filled.status);
        Ok(Lookup {
            variant: filled.variant,
            status: filled.status,
            render_time: filled.render_time,
        })
    }

    /// Removes the variants `scope` covers from every tier.
    pub async fn clear(&self, scope: &ClearScope) -> ClearOutcome {
        let scope = scope.clone();
        self.remove_where(move |origin| scope.covers(origin)).await
    }

    /// Removes every variant made from these source versions (changed or deleted by a sync).
    pub async fn forget_contents(&self, content_ids: &HashSet<String>) -> ClearOutcome {
        let ids = content_ids.clone();
        self.remove_where(move |origin| ids.contains(&origin.content_id))
            .await
    }

    async fn remove_where(
        &self,
        doomed: impl Fn(&Origin) -> bool + Send + 'static,
    ) -> ClearOutcome {
        let inner = self.inner.clone();
        let removed = tokio::task::spawn_blocking(move || {
            let mut freed: HashMap<String, u64> = HashMap::new();
            let from_memory = inner.memory.remove_where(|v| doomed(&v.origin));
            let from_disk = match &inner.disk {
                Some(disk) => disk.remove_where(&doomed),
                None => Vec::new(),
            };
            for (key, bytes) in from_memory.into_iter().chain(from_disk) {
                *freed.entry(key).or_default() += bytes;
            }
            freed
        })
        .await
        .unwrap_or_default();
        ClearOutcome {
            removed_entries: removed.len() as u64,
            freed_bytes: removed.values().sum(),
        }
    }

    pub fn stats(&self) -> CacheStats {
        let inner = &self.inner;
        inner.memory.settle();
        let mut stats = CacheStats {
            memory: inner.memory.stats(),
            ..CacheStats::default()
        };
        if let Some(disk) = &inner.disk {
            let (tier, health) = disk.stats();
            stats.disk = tier;
            stats.disk_writes_pending = health.writes_pending;
            stats.disk_write_errors = health.write_errors;
            stats.disk_bad_entries = health.bad_entries;
            stats.disk_index_ready = health.index_ready;
        } else {
            stats.disk_index_ready = true; // nothing to index
        }
        inner.counters.fill(&mut stats);
        stats
    }
}

impl Inner {
    fn memory_hit(&self, key: &VariantKey, held: &Held) -> Lookup {
        self.counters.count_lookup(CacheStatus::HitMemory);
        if let Some(disk) = &self.disk {
            if held.take_report(self.clock()) {
                disk.note_use(key.as_str());
            }
        }
        Lookup {
            variant: held.variant.clone(),
            status: CacheStatus::HitMemory,
            render_time: None,
        }
    }

    /// One flight's work: the disk, else a render (then written to disk in the background);
    /// either way the variant goes to memory before the flight ends.
    async fn fill<F, Fut>(self: Arc<Self>, key: VariantKey, render: F) -> Outcome
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Variant, AppError>> + Send + 'static,
    {
        let filled = match self.read_disk(&key).await {
            Some(variant) => Filled {
                variant: Arc::new(variant),
                status: CacheStatus::HitDisk,
                render_time: None,
            },
            None => {
                let started = Instant::now();
                let rendering = self.counters.render_started();
                let variant = Arc::new(render().await.map_err(Arc::new)?);
                drop(rendering);
                if let Some(disk) = &self.disk {
                    disk.write_in_background(key.as_str(), variant.clone());
                }
                Filled {
                    variant,
                    status: CacheStatus::Miss,
                    render_time: Some(started.elapsed()),
                }
            }
        };
        self.memory
            .insert(key, filled.variant.clone(), self.clock());
        Ok(filled)
    }

    /// Seconds since the cache was built: a cheap clock for use reports.
    fn clock(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    async fn read_disk(&self, key: &VariantKey) -> Option<Variant> {
        let disk = self.disk.clone()?;
        let key = key.as_str().to_string();
        tokio::task::spawn_blocking(move || disk.read(&key))
            .await
            .ok()
            .flatten()
    }
}

fn fill_panicked() -> Outcome {
    Err(Arc::new(AppError::internal(anyhow::anyhow!(
        "the cache fill task panicked"
    ))))
}

/// A fresh copy of an error shared by every waiter of a flight.
fn copy_error(shared: &AppError) -> AppError {
    AppError {
        code: shared.code,
        message: shared.message.clone(),
        retry_after: shared.retry_after,
        cause: shared.cause.as_ref().map(|c| anyhow::anyhow!("{c:#}")),
    }
}

#[cfg(test)]
mod tests;
