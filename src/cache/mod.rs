//! The variant cache between the request path and the pipeline, behind one
//! [`VariantCache::get_or_render`]: concurrent requests for the same missing variant share one
//! render (single flight), and a rendered variant is kept, weighted by its bytes.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::AppError;
use crate::request::VariantKey;

/// An encoded variant with what is needed to serve it without decoding anything.
#[derive(Debug, Clone)]
pub struct Variant {
    pub bytes: Bytes,
    pub content_type: String,
    pub etag: String,
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
    renders: AtomicU64,
}

impl VariantCache {
    pub fn new(memory_bytes: u64) -> Self {
        let memory = moka::future::Cache::builder()
            .max_capacity(memory_bytes)
            .weigher(|_k: &VariantKey, v: &Arc<Variant>| u32::try_from(v.bytes.len()).unwrap_or(u32::MAX))
            .build();
        Self { memory, renders: AtomicU64::new(0) }
    }

    /// Number of renders started since start (for tests and stats).
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// The variant under `key`, rendering it with `render` when no tier has it. Concurrent
    /// callers for the same key wait for the one render in progress.
    pub async fn get_or_render<F, Fut>(&self, key: &VariantKey, render: F) -> Result<Lookup, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Variant, AppError>>,
    {
        if let Some(variant) = self.memory.get(key).await {
            return Ok(Lookup { variant, status: CacheStatus::HitMemory, render_time: None });
        }
        let mut render_time = None;
        let result = self
            .memory
            .try_get_with(key.clone(), async {
                self.renders.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let variant = render().await?;
                render_time = Some(started.elapsed());
                Ok::<_, AppError>(Arc::new(variant))
            })
            .await;
        match result {
            Ok(variant) => Ok(Lookup { variant, status: CacheStatus::Miss, render_time }),
            Err(shared) => Err(AppError {
                code: shared.code,
                message: shared.message.clone(),
                retry_after: shared.retry_after,
                cause: shared.cause.as_ref().map(|c| anyhow::anyhow!("{c:#}")),
            }),
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
