//! The time limit of one sync, shared by the git thread and the request waiting for it. The
//! waiter gives up at the deadline and answers 504; the git thread notices (its network
//! callbacks return "stop") and, crucially, must not publish anything after the waiter gave
//! up. One atomic decides which of the two wins: a sync either commits or is abandoned.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

const RUNNING: u8 = 0;
const ABANDONED: u8 = 1;
const COMMITTING: u8 = 2;

#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
    state: AtomicU8,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
            state: AtomicU8::new(RUNNING),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether network work should stop now (time is up or the waiter left).
    pub fn should_stop(&self) -> bool {
        self.state.load(Ordering::SeqCst) == ABANDONED || Instant::now() >= self.at
    }

    /// The waiter gives up; `false` when the sync already started committing (then the waiter
    /// must wait for it, which is quick: only local work remains).
    pub fn abandon(&self) -> bool {
        self.state
            .compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The git thread is about to change refs and publish; `false` when the waiter already
    /// gave up (then nothing may change).
    pub fn begin_commit(&self) -> bool {
        self.state
            .compare_exchange(RUNNING, COMMITTING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_and_abandon_exclude_each_other() {
        let d = Deadline::after(Duration::from_secs(60));
        assert!(!d.should_stop());
        assert!(d.begin_commit());
        assert!(!d.abandon());

        let d = Deadline::after(Duration::from_secs(60));
        assert!(d.abandon());
        assert!(d.should_stop());
        assert!(!d.begin_commit());

        assert!(Deadline::after(Duration::ZERO).should_stop());
    }
}
