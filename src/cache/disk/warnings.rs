//! Rate-limited warnings: a full or unwritable cache folder fails every write, and the log
//! should say so once in a while, not once per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct Warnings {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl Warnings {
    /// Logs `what` with its cause unless a warning went out within the last minute; the next
    /// one that does go out says how many were held back.
    pub fn warn(&self, what: &str, cause: &dyn std::fmt::Display) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < EVERY) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        tracing::warn!(
            error = %cause,
            similar_suppressed = suppressed,
            "{what}; images are still served, from memory or rendered"
        );
    }
}
