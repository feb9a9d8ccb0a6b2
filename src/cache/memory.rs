//! The memory tier: the hottest variants in a moka cache weighted by their bytes. A hit here
//! touches neither the disk nor the pipeline. A budget of 0 turns the tier off.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use moka::notification::RemovalCause;

use super::{TierStats, Variant};
use crate::request::VariantKey;

/// What an entry costs beyond its bytes (key, strings, moka's bookkeeping), so that many tiny
/// variants cannot outgrow the budget unseen.
const ENTRY_OVERHEAD: u64 = 256;

pub(crate) struct MemoryTier {
    cache: Option<moka::sync::Cache<VariantKey, Arc<Variant>>>,
    budget: u64,
    evictions: Arc<AtomicU64>,
}

impl MemoryTier {
    pub fn new(budget: u64) -> Self {
        let evictions = Arc::new(AtomicU64::new(0));
        let counted = evictions.clone();
        let cache = (budget > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(budget)
                .weigher(|_k: &VariantKey, v: &Arc<Variant>| {
                    u32::try_from(weight(v)).unwrap_or(u32::MAX)
                })
                .eviction_listener(move |_k, _v, cause| {
                    if cause == RemovalCause::Size {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .build()
        });
        Self {
            cache,
            budget,
            evictions,
        }
    }

    pub fn get(&self, key: &VariantKey) -> Option<Arc<Variant>> {
        self.cache.as_ref()?.get(key)
    }

    pub fn insert(&self, key: VariantKey, variant: Arc<Variant>) {
        if let Some(cache) = &self.cache {
            cache.insert(key, variant);
        }
    }

    /// Removes every entry whose variant `doomed` picks; returns their keys and weights.
    pub fn remove_where(&self, doomed: impl Fn(&Variant) -> bool) -> Vec<(String, u64)> {
        let Some(cache) = &self.cache else {
            return Vec::new();
        };
        let victims: Vec<Arc<VariantKey>> = cache
            .iter()
            .filter(|(_, v)| doomed(v))
            .map(|(k, _)| k)
            .collect();
        victims
            .into_iter()
            .filter_map(|key| {
                let variant = cache.remove(&*key)?;
                Some((key.as_str().to_string(), weight(&variant)))
            })
            .collect()
    }

    pub fn stats(&self) -> TierStats {
        let (entries, bytes) = match &self.cache {
            Some(cache) => (cache.entry_count(), cache.weighted_size()),
            None => (0, 0),
        };
        TierStats {
            entries,
            bytes,
            budget_bytes: self.budget,
            evictions: self.evictions.load(Ordering::Relaxed),
            ..TierStats::default()
        }
    }

    /// Applies pending bookkeeping (evictions, counts) now; moka otherwise does it lazily.
    pub fn settle(&self) {
        if let Some(cache) = &self.cache {
            cache.run_pending_tasks();
        }
    }
}

fn weight(v: &Variant) -> u64 {
    v.bytes.len() as u64 + ENTRY_OVERHEAD
}
