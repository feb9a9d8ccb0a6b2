//! The memory tier: the hottest variants in a moka cache weighted by their bytes. A hit here
//! touches neither the disk nor the pipeline. A budget of 0 turns the tier off.
//!
//! Each entry remembers when its use was last reported to the disk tier's recency index, so a
//! variant kept hot in memory is not evicted from disk as if nobody used it, at the cost of one
//! index update per entry and [`USE_REPORT_INTERVAL`] at most.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::notification::RemovalCause;

use super::{TierStats, Variant};
use crate::request::VariantKey;

/// What an entry costs beyond its bytes (key, strings, moka's bookkeeping), so that many tiny
/// variants cannot outgrow the budget unseen.
const ENTRY_OVERHEAD: u64 = 256;

/// The largest share of the budget one entry may take: a bigger variant is kept on disk only,
/// so that one large render cannot push every hot small variant out of memory.
const MAX_ENTRY_SHARE: u64 = 8;

/// How often (at most) a memory hit is reported to the disk tier's recency index.
pub(crate) const USE_REPORT_INTERVAL: Duration = Duration::from_secs(30);

/// A variant in memory, with the time (on the cache's clock) its use was last reported.
pub(crate) struct Held {
    pub variant: Arc<Variant>,
    reported_at: AtomicU64,
}

impl Held {
    /// Whether this use should be reported, given the clock in seconds; at most one caller per
    /// interval gets `true`.
    pub fn take_report(&self, now_secs: u64) -> bool {
        let last = self.reported_at.load(Ordering::Relaxed);
        now_secs.saturating_sub(last) >= USE_REPORT_INTERVAL.as_secs()
            && self
                .reported_at
                .compare_exchange(last, now_secs, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

pub(crate) struct MemoryTier {
    cache: Option<moka::sync::Cache<VariantKey, Arc<Held>>>,
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
                .weigher(|_k: &VariantKey, v: &Arc<Held>| {
                    u32::try_from(weight(&v.variant)).unwrap_or(u32::MAX)
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

    pub fn get(&self, key: &VariantKey) -> Option<Arc<Held>> {
        self.cache.as_ref()?.get(key)
    }

    /// Whether a variant of this weight may be kept at all (see [`MAX_ENTRY_SHARE`]).
    fn admits(&self, weight: u64) -> bool {
        weight <= self.budget / MAX_ENTRY_SHARE
    }

    /// Keeps `variant`, whose use was just reported (read or written on disk) at `now_secs`,
    /// unless it is too large for this tier.
    pub fn insert(&self, key: VariantKey, variant: Arc<Variant>, now_secs: u64) {
        if !self.admits(weight(&variant)) {
            return;
        }
        if let Some(cache) = &self.cache {
            let held = Held {
                variant,
                reported_at: AtomicU64::new(now_secs),
            };
            cache.insert(key, Arc::new(held));
        }
    }

    /// Removes every entry whose variant `doomed` picks; returns their keys and weights.
    pub fn remove_where(&self, doomed: impl Fn(&Variant) -> bool) -> Vec<(String, u64)> {
        let Some(cache) = &self.cache else {
            return Vec::new();
        };
        let victims: Vec<Arc<VariantKey>> = cache
            .iter()
            .filter(|(_, held)| doomed(&held.variant))
            .map(|(k, _)| k)
            .collect();
        victims
            .into_iter()
            .filter_map(|key| {
                let held = cache.remove(&*key)?;
                Some((key.as_str().to_string(), weight(&held.variant)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(len: usize) -> Arc<Variant> {
        Arc::new(Variant {
            bytes: bytes::Bytes::from(vec![0u8; len]),
            content_type: String::new(),
            etag: String::new(),
            origin: super::super::Origin {
                path: crate::source::RelPath::parse("a.jpg").unwrap(),
                content_id: String::new(),
            },
        })
    }

    #[test]
    fn entries_over_an_eighth_of_the_budget_are_not_admitted() {
        let budget = 48 * 1024;
        let tier = MemoryTier::new(budget);
        let fits = budget as usize / 8 - ENTRY_OVERHEAD as usize;
        let key = |s: &str| VariantKey::for_original(s);
        tier.insert(key("small"), variant(fits), 0);
        tier.insert(key("large"), variant(fits + 1), 0);
        tier.insert(key("huge"), variant(2_600_000), 0);
        tier.settle();
        assert!(tier.get(&key("small")).is_some());
        assert!(tier.get(&key("large")).is_none());
        assert!(tier.get(&key("huge")).is_none());
        assert_eq!(tier.stats().entries, 1);
    }

    #[test]
    fn one_report_per_interval() {
        let held = Held {
            variant: variant(0),
            reported_at: AtomicU64::new(100),
        };
        assert!(!held.take_report(110));
        assert!(held.take_report(130));
        assert!(!held.take_report(131));
        assert!(!held.take_report(159));
        assert!(held.take_report(160));
    }
}
