//! Where renders run: a dedicated thread pool (never actix's async workers), with bounded
//! admission. At most `max_concurrent_renders` run at once and at most `render_queue` wait;
//! beyond that a render is refused at once (503), not after a timeout. Each render has a
//! deadline; past it the caller gets 503 while the worker finishes and its result is dropped.
//! A panic inside a render is caught, reported as an internal error, and the worker lives on.
//! Render threads run at a lower CPU priority (nice +10 on Linux), so that when renders saturate
//! the cores, the HTTP workers serving cache hits still get a core the moment they need one.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

#[derive(Debug, thiserror::Error)]
pub enum RenderPoolError {
    #[error("too many renders are waiting")]
    Overloaded,
    #[error("the render took longer than {0:?}")]
    Timeout(Duration),
    #[error("the render panicked: {0}")]
    Panicked(String),
}

pub struct RenderPool {
    pool: rayon::ThreadPool,
    /// Running plus waiting renders.
    admission: Arc<Semaphore>,
    timeout: Duration,
    in_flight: Arc<AtomicUsize>,
}

impl RenderPool {
    pub fn new(threads: usize, queue: usize, timeout: Duration) -> anyhow::Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("render-{i}"))
            .start_handler(|_| lower_priority())
            .build()?;
        Ok(Self {
            pool,
            admission: Arc::new(Semaphore::new(threads.max(1) + queue)),
            timeout,
            in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Renders admitted and not yet finished (running or queued), including those whose caller
    /// already gave up.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Runs `job` on the pool and waits for it, within the admission bound and the deadline.
    pub async fn run<T, F>(&self, job: F) -> Result<T, RenderPoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit: OwnedSemaphorePermit = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| RenderPoolError::Overloaded)?;
        let (tx, rx) = oneshot::channel();
        let in_flight = self.in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        self.pool.spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(job));
            in_flight.fetch_sub(1, Ordering::Relaxed);
            // The slot frees when the work ends, not when the caller stops waiting, so a
            // timed-out render still counts against the bound while it burns CPU.
            drop(permit);
            let _ = tx.send(result);
        });
        match tokio::time::timeout(self.timeout, rx).await {
            Err(_) => Err(RenderPoolError::Timeout(self.timeout)),
            Ok(Err(_)) => Err(RenderPoolError::Panicked("render worker vanished".into())),
            Ok(Ok(Err(panic))) => Err(RenderPoolError::Panicked(panic_message(&panic))),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }
}

/// How much less CPU priority render threads get than the HTTP workers (a nice value).
const RENDER_NICENESS: i32 = 10;

/// Lowers the calling thread's CPU priority (Linux keeps a nice value per thread).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: gettid and setpriority have no memory-safety preconditions; raising one's own
    // nice value needs no privilege. Failure only leaves the default priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, RENDER_NICENESS) != 0 {
            tracing::debug!("could not lower the render thread's priority");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_and_catches_panics() {
        let pool = RenderPool::new(1, 1, Duration::from_secs(5)).unwrap();
        assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
        let err = pool.run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(matches!(err, RenderPoolError::Panicked(m) if m == "boom"));
        assert_eq!(
            pool.run(|| 1).await.unwrap(),
            1,
            "the worker survives a panic"
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn render_threads_run_at_lower_priority() {
        let pool = RenderPool::new(1, 0, Duration::from_secs(5)).unwrap();
        let nice = pool
            .run(|| {
                // SAFETY: as in lower_priority.
                unsafe {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    libc::getpriority(libc::PRIO_PROCESS, tid)
                }
            })
            .await
            .unwrap();
        // SAFETY: getpriority of the calling thread.
        let here = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        assert!(nice > here, "render thread nice {nice}, caller {here}");
    }

    #[tokio::test]
    async fn refuses_beyond_the_queue_and_times_out() {
        let pool = Arc::new(RenderPool::new(1, 1, Duration::from_millis(200)).unwrap());
        let slow = |ms| move || std::thread::sleep(Duration::from_millis(ms));
        let (a, b) = (pool.clone(), pool.clone());
        let first = tokio::spawn(async move { a.run(slow(400)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = tokio::spawn(async move { b.run(slow(10)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(matches!(
            pool.run(slow(1)).await,
            Err(RenderPoolError::Overloaded)
        ));
        assert!(matches!(
            first.await.unwrap(),
            Err(RenderPoolError::Timeout(_))
        ));
        // The second waited behind the first one past its own deadline.
        assert!(matches!(
            second.await.unwrap(),
            Err(RenderPoolError::Timeout(_))
        ));
    }
}
