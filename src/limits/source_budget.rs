//! The one budget for source bytes held in memory across all requests
//! (`limits.source_bytes_in_flight`): a render's in-memory copy of its source, the header prefix
//! `/info` and originals read, an original's stream buffers, an inflated git blob. A request
//! that does not fit waits a little for others to release theirs, then is refused with 503
//! `overloaded`: memory is never stretched past what the operator configured.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::{AppError, ErrorCode};

/// How long a request waits for room before it is refused (the service's budget).
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// The budget did not have room within its wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("source memory budget exhausted")]
pub struct BudgetExhausted;

#[derive(Debug)]
pub struct SourceBudget {
    total: u64,
    wait: Duration,
    in_use: Mutex<u64>,
    released: Notify,
}

/// Bytes charged to the budget, given back when dropped.
#[derive(Debug)]
pub struct SourcePermit {
    budget: Arc<SourceBudget>,
    bytes: u64,
}

impl SourceBudget {
    /// A budget of `total` bytes whose requests wait up to `wait` for room.
    pub fn new(total: u64, wait: Duration) -> Arc<Self> {
        Arc::new(Self {
            total,
            wait,
            in_use: Mutex::new(0),
            released: Notify::new(),
        })
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes currently charged.
    pub fn in_use(&self) -> u64 {
        *self.in_use.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Charges `bytes` at once, if they fit.
    pub fn try_acquire(self: &Arc<Self>, bytes: u64) -> Option<SourcePermit> {
        let mut in_use = self.in_use.lock().unwrap_or_else(|e| e.into_inner());
        if in_use.saturating_add(bytes) > self.total {
            return None;
        }
        *in_use += bytes;
        Some(SourcePermit {
            budget: self.clone(),
            bytes,
        })
    }

    /// Charges `bytes`, waiting up to the budget's wait for others to release theirs. More than the
    /// whole budget never fits (configuration keeps every allowed source below it).
    pub async fn acquire(self: &Arc<Self>, bytes: u64) -> Result<SourcePermit, BudgetExhausted> {
        if bytes > self.total {
            return Err(BudgetExhausted);
        }
        let deadline = Instant::now() + self.wait;
        loop {
            // Registered before the check, so a release between the check and the wait is seen.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Some(permit) = self.try_acquire(bytes) {
                return Ok(permit);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, released).await.is_err() {
                return self.try_acquire(bytes).ok_or(BudgetExhausted);
            }
        }
    }
}

impl SourcePermit {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for SourcePermit {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        {
            let mut in_use = self.budget.in_use.lock().unwrap_or_else(|e| e.into_inner());
            *in_use = in_use.saturating_sub(self.bytes);
        }
        self.budget.released.notify_waiters();
    }
}

impl From<BudgetExhausted> for AppError {
    fn from(_: BudgetExhausted) -> Self {
        AppError::new(
            ErrorCode::Overloaded,
            "too many sources being read, retry shortly",
        )
        .with_retry_after(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn charges_release_and_refuse_past_the_total() {
        let budget = SourceBudget::new(100, MAX_WAIT);
        let a = budget.acquire(60).await.unwrap();
        assert_eq!(budget.in_use(), 60);
        assert!(budget.try_acquire(50).is_none());
        assert_eq!(budget.acquire(101).await.unwrap_err(), BudgetExhausted);
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.acquire(50).await.map(|p| p.bytes()) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(a);
        assert_eq!(waiter.await.unwrap(), Ok(50));
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn a_request_that_does_not_fit_is_refused_after_the_wait() {
        let wait = Duration::from_millis(100);
        let budget = SourceBudget::new(10, wait);
        let _held = budget.try_acquire(10).unwrap();
        let started = Instant::now();
        assert_eq!(budget.acquire(1).await.unwrap_err(), BudgetExhausted);
        assert!(started.elapsed() >= wait);
    }
}
