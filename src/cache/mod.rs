//! The variant cache between the request path and the pipeline, behind one
//! [`VariantCache::get_or_render`]: concurrent requests for the same missing variant share one
//! render (single flight), and a rendered variant is kept, weighted by its bytes.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::AppError;
use crate::request::VariantKey;
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
    fn covers(&self, origin: &Origin) -> bool {
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
    pub removed_entries: u64,
    pub freed_bytes: u64,
}

/// Counters of one tier.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TierStats {
    pub entries: u64,
    pub bytes: u64,
    pub budget_bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// Everything the admin stats endpoint and the metrics report about the cache.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CacheStats {
    pub memory: TierStats,
    pub disk: TierStats,
    /// Renders started since start.
    pub renders: u64,
    pub renders_in_flight: u64,
    /// Hits (either tier) over all lookups, 0 when there were none.
    pub hit_ratio: f64,
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

/// What [`VariantCache::get_or_render`] hands back.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub variant: Arc<Variant>,
    pub status: CacheStatus,
    /// How long the render took, when this request waited for one.
    pub render_time: Option<Duration>,
}

pub struct VariantCache {
    memory: moka::future::Cache<VariantKey, Arc<Variant>>,
    memory_budget: u64,
    renders: AtomicU64,
    in_flight: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl VariantCache {
    pub fn new(memory_bytes: u64) -> Self {
        let memory = moka::future::Cache::builder()
            .max_capacity(memory_bytes)
            .weigher(|_k: &VariantKey, v: &Arc<Variant>| {
                u32::try_from(v.bytes.len()).unwrap_or(u32::MAX)
            })
            .build();
        Self {
            memory,
            memory_budget: memory_bytes,
            renders: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Number of renders started since start (for tests and stats).
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// The variant under `key`, rendering it with `render` when no tier has it. Concurrent
    /// callers for the same key wait for the one render in progress.
    pub async fn get_or_render<F, Fut>(
        &self,
        key: &VariantKey,
        render: F,
    ) -> Result<Lookup, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Variant, AppError>>,
    {
        if let Some(variant) = self.memory.get(key).await {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Lookup {
                variant,
                status: CacheStatus::HitMemory,
                render_time: None,
            });
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut render_time = None;
        let result = self
            .memory
            .try_get_with(key.clone(), async {
                self.renders.fetch_add(1, Ordering::Relaxed);
                self.in_flight.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let variant = render().await;
                self.in_flight.fetch_sub(1, Ordering::Relaxed);
                render_time = Some(started.elapsed());
                Ok::<_, AppError>(Arc::new(variant?))
            })
            .await;
        match result {
            Ok(variant) => Ok(Lookup {
                variant,
                status: CacheStatus::Miss,
                render_time,
            }),
            Err(shared) => Err(AppError {
                code: shared.code,
                message: shared.message.clone(),
                retry_after: shared.retry_after,
                cause: shared.cause.as_ref().map(|c| anyhow::anyhow!("{c:#}")),
            }),
        }
    }
}

impl VariantCache {
    /// Removes the variants `scope` covers from every tier.
    pub async fn clear(&self, scope: &ClearScope) -> ClearOutcome {
        self.remove_where(|origin| scope.covers(origin)).await
    }

    /// Removes every variant made from these source versions (changed or deleted by a sync).
    pub async fn forget_contents(&self, content_ids: &HashSet<String>) -> ClearOutcome {
        self.remove_where(|origin| content_ids.contains(&origin.content_id))
            .await
    }

    async fn remove_where(&self, doomed: impl Fn(&Origin) -> bool) -> ClearOutcome {
        let mut outcome = ClearOutcome::default();
        let victims: Vec<(Arc<VariantKey>, u64)> = self
            .memory
            .iter()
            .filter(|(_, v)| doomed(&v.origin))
            .map(|(k, v)| (k, v.bytes.len() as u64))
            .collect();
        for (key, bytes) in victims {
            if self.memory.remove(&*key).await.is_some() {
                outcome.removed_entries += 1;
                outcome.freed_bytes += bytes;
            }
        }
        outcome
    }

    pub fn stats(&self) -> CacheStats {
        let (hits, misses) = (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        );
        CacheStats {
            memory: TierStats {
                entries: self.memory.entry_count(),
                bytes: self.memory.weighted_size(),
                budget_bytes: self.memory_budget,
                hits,
                misses,
                evictions: 0,
            },
            disk: TierStats::default(),
            renders: self.renders(),
            renders_in_flight: self.in_flight.load(Ordering::Relaxed),
            hit_ratio: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
        }
    }
}

/// Whether a file can be created in `dir` (creating the folder if needed).
pub fn dir_is_writable(dir: &std::path::Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".probe-{:016x}", rand::random::<u64>()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}
