//! The in-memory index of the disk tier: for every entry file its size, its origin (so clears
//! and post-sync invalidation never read the disk to find their victims) and its recency, for
//! least-recently-used eviction within the byte budget.

use std::collections::{BTreeMap, HashMap};

use super::DiskBudget;
use crate::cache::Origin;

/// Recency ticks of entries used since start begin here; entries found by the start-up scan
/// get ticks below it (ordered by their files' modification times), so anything used since
/// start outlives anything merely found on disk.
const LIVE_TICKS: u64 = 1 << 40;

#[derive(Debug)]
struct Slot {
    size: u64,
    tick: u64,
    origin: Origin,
}

/// An entry leaving the index, with its file's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Removed {
    pub key: String,
    pub size: u64,
}

#[derive(Debug)]
pub(super) struct Index {
    slots: HashMap<String, Slot>,
    /// Tick → key, oldest first.
    recency: BTreeMap<u64, String>,
    bytes: u64,
    next_tick: u64,
    /// Whether the start-up scan has finished: until then, a key missing here may still be on
    /// disk.
    complete: bool,
}

impl Index {
    pub fn new() -> Self {
        Self {
            slots: HashMap::new(),
            recency: BTreeMap::new(),
            bytes: 0,
            next_tick: LIVE_TICKS,
            complete: false,
        }
    }

    pub fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }

    pub fn mark_complete(&mut self) {
        self.complete = true;
    }

    /// Whether the key may be on disk: known, or not yet known to be absent.
    pub fn may_hold(&self, key: &str) -> bool {
        !self.complete || self.slots.contains_key(key)
    }

    /// Records a use of `key` (an entry just read or written); adds it when unknown.
    pub fn touch(&mut self, key: &str, size: u64, origin: &Origin) {
        let tick = self.next_tick;
        self.next_tick += 1;
        match self.slots.get_mut(key) {
            Some(slot) => {
                self.recency.remove(&slot.tick);
                self.bytes = self.bytes - slot.size + size;
                slot.size = size;
                slot.tick = tick;
            }
            None => {
                self.slots.insert(
                    key.to_string(),
                    Slot {
                        size,
                        tick,
                        origin: origin.clone(),
                    },
                );
                self.bytes += size;
            }
        }
        self.recency.insert(tick, key.to_string());
    }

    /// Records a use of a known entry (served from memory); `false` when unknown.
    pub fn refresh(&mut self, key: &str) -> bool {
        let Some(slot) = self.slots.get_mut(key) else {
            return false;
        };
        self.recency.remove(&slot.tick);
        slot.tick = self.next_tick;
        self.next_tick += 1;
        self.recency.insert(slot.tick, key.to_string());
        true
    }

    /// Adds an entry found by the start-up scan, `age_rank` 0 being the least recently
    /// modified; an entry already known (used since start) is left as it is.
    pub fn add_found(&mut self, key: String, size: u64, origin: Origin, age_rank: u64) {
        if self.slots.contains_key(&key) {
            return;
        }
        let tick = age_rank.min(LIVE_TICKS - 1);
        self.recency.insert(tick, key.clone());
        self.slots.insert(key, Slot { size, tick, origin });
        self.bytes += size;
    }

    pub fn remove(&mut self, key: &str) -> Option<Removed> {
        let slot = self.slots.remove(key)?;
        self.recency.remove(&slot.tick);
        self.bytes -= slot.size;
        Some(Removed {
            key: key.to_string(),
            size: slot.size,
        })
    }

    /// Removes least recently used entries until the total fits `budget` (bytes and entry
    /// count), never `keep`.
    pub fn evict_to(&mut self, budget: &DiskBudget, keep: Option<&str>) -> Vec<Removed> {
        let mut victims = Vec::new();
        while budget.exceeded_by(self.bytes, self.len()) {
            let oldest = self
                .recency
                .values()
                .find(|k| Some(k.as_str()) != keep)
                .cloned();
            let Some(key) = oldest else { break };
            victims.extend(self.remove(&key));
        }
        victims
    }

    /// Removes every entry whose origin `doomed` picks.
    pub fn remove_where(&mut self, doomed: impl Fn(&Origin) -> bool) -> Vec<Removed> {
        let keys: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, slot)| doomed(&slot.origin))
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter().filter_map(|k| self.remove(k)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::RelPath;

    fn origin(path: &str) -> Origin {
        Origin {
            path: RelPath::parse(path).unwrap(),
            content_id: format!("id-{path}"),
        }
    }

    /// A byte budget with room for any number of entries (index sizes here are plain bytes).
    fn bytes_only(bytes: u64) -> DiskBudget {
        DiskBudget::with_block(bytes, u64::MAX, 512)
    }

    fn keys(removed: &[Removed]) -> Vec<&str> {
        removed.iter().map(|r| r.key.as_str()).collect()
    }

    #[test]
    fn evicts_least_recently_used_first() {
        let mut idx = Index::new();
        idx.touch("a", 10, &origin("a.jpg"));
        idx.touch("b", 10, &origin("b.jpg"));
        idx.touch("c", 10, &origin("c.jpg"));
        assert!(idx.refresh("a"));
        assert!(!idx.refresh("zz"));
        assert_eq!(idx.bytes(), 30);
        let gone = idx.evict_to(&bytes_only(15), Some("c"));
        assert_eq!(
            keys(&gone),
            ["b", "a"],
            "c is kept though it is older than a"
        );
        assert_eq!((idx.len(), idx.bytes()), (1, 10));
    }

    #[test]
    fn found_entries_are_older_than_used_ones_and_never_replace_them() {
        let mut idx = Index::new();
        idx.touch("live", 5, &origin("l.jpg"));
        idx.add_found("old".into(), 5, origin("o.jpg"), 1);
        idx.add_found("older".into(), 5, origin("o.jpg"), 0);
        idx.add_found("live".into(), 99, origin("l.jpg"), 2);
        assert_eq!(idx.bytes(), 15);
        assert_eq!(keys(&idx.evict_to(&bytes_only(5), None)), ["older", "old"]);
    }

    #[test]
    fn the_entry_count_is_bounded_too() {
        let mut idx = Index::new();
        for key in ["a", "b", "c", "d"] {
            idx.touch(key, 1, &origin("x.jpg"));
        }
        let budget = DiskBudget::with_block(1 << 20, 2, 512);
        assert_eq!(keys(&idx.evict_to(&budget, Some("a"))), ["b", "c"]);
        assert_eq!(idx.len(), 2);
    }

    #[test]
    fn absence_is_known_only_once_complete() {
        let mut idx = Index::new();
        assert!(idx.may_hold("x"));
        idx.mark_complete();
        assert!(!idx.may_hold("x"));
        idx.touch("x", 1, &origin("x.jpg"));
        assert!(idx.may_hold("x"));
    }

    #[test]
    fn removes_by_origin_and_keeps_the_byte_count() {
        let mut idx = Index::new();
        idx.touch("a", 3, &origin("cats/a.jpg"));
        idx.touch("b", 4, &origin("cats/b.jpg"));
        idx.touch("c", 5, &origin("dogs/c.jpg"));
        let prefix = RelPath::parse("cats").unwrap();
        let mut gone = idx.remove_where(|o| o.path.starts_with(&prefix));
        gone.sort_by(|x, y| x.key.cmp(&y.key));
        assert_eq!(keys(&gone), ["a", "b"]);
        assert_eq!((idx.len(), idx.bytes()), (1, 5));
        assert!(idx.remove("a").is_none());
    }
}
