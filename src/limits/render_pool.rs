//! Where renders run: a dedicated thread pool (never actix's async workers), with bounded
//! admission. At most `max_concurrent_renders` run at once and at most `render_queue` wait;
//! beyond that a render is refused at once (503), not after a timeout. Each render has a
//! deadline; past it the caller gets 503 while the worker finishes and its result is dropped.
//! A panic inside a render is caught, reported as an internal error, and the worker lives on.
//! Render threads run at a lower CPU priority (nice +10 on Linux), so that when renders saturate
//! the cores, the HTTP workers serving cache hits still get a core the moment they need one.
//!
//! Fair shares ([`RenderPool::run_weighed`]): a render first runs a cheap step on the pool that
//! either finishes it or says it is heavy (the caller's judgement: see `Delivery`). A heavy
//! render then needs one of the heavy slots, half of the threads (at least one), waiting for
//! it within the deadline, so light renders always have threads of their own; and a client (the
//! rate limiter's key) with a heavy render already in flight is refused a second at once
//! ([`RenderPoolError::HeavyRenderRunning`], 429). Each render's time on a worker and its wait
//! for one are observed once per render, whoever waits for it.

use std::collections::HashSet;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{Histogram, HistogramOpts};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::client_ip::rate_key;
use crate::error::{AppError, ErrorCode};
use crate::metrics::LATENCY_BUCKETS;

#[derive(Debug, thiserror::Error)]
pub enum RenderPoolError {
    #[error("too many renders are waiting")]
    Overloaded,
    #[error("the render took longer than {0:?}")]
    Timeout(Duration),
    #[error("the client already has a heavy render in flight")]
    HeavyRenderRunning,
    #[error("the render panicked: {0}")]
    Panicked(String),
}

/// The rest of a heavy render, run once it holds a heavy slot.
pub type HeavyJob<T> = Box<dyn FnOnce() -> T + Send + 'static>;

/// What the first step of a weighed render did.
pub enum Step<T> {
    /// Finished (a light render).
    Done(T),
    /// Found the render heavy: the rest runs in a heavy slot.
    Heavy(HeavyJob<T>),
}

pub struct RenderPool {
    pool: rayon::ThreadPool,
    /// Running plus waiting renders.
    admission: Arc<Semaphore>,
    /// Heavy renders running or queued for a thread.
    heavy: Arc<Semaphore>,
    heavy_slots: usize,
    /// Renders admitted at once, running plus waiting.
    capacity: usize,
    /// Clients (rate keys) with a heavy render in flight.
    heavy_clients: Arc<Mutex<HashSet<IpAddr>>>,
    timeout: Duration,
    in_flight: Arc<AtomicUsize>,
    timings: Timings,
}

impl RenderPool {
    pub fn new(threads: usize, queue: usize, timeout: Duration) -> anyhow::Result<Self> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("render-{i}"))
            .start_handler(|_| lower_priority())
            .build()?;
        let heavy_slots = (threads / 2).max(1);
        Ok(Self {
            pool,
            admission: Arc::new(Semaphore::new(threads + queue)),
            heavy: Arc::new(Semaphore::new(heavy_slots)),
            heavy_slots,
            capacity: threads + queue,
            heavy_clients: Arc::default(),
            timeout,
            in_flight: Arc::new(AtomicUsize::new(0)),
            timings: Timings::new(),
        })
    }

    /// Renders admitted and not yet finished (running or queued), including those whose caller
    /// already gave up.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Renders the pool admits at once (running plus waiting); beyond it, `Overloaded`.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many heavy renders may hold a thread at once.
    pub fn heavy_slots(&self) -> usize {
        self.heavy_slots
    }

    /// `imgserver_render_duration_seconds` and `imgserver_render_wait_seconds`, for the scrape.
    pub fn timings(&self) -> Vec<prometheus::proto::MetricFamily> {
        use prometheus::core::Collector;
        let mut families = self.timings.work.collect();
        families.extend(self.timings.wait.collect());
        families
    }

    /// Runs `job` on the pool and waits for it, within the admission bound and the deadline.
    pub async fn run<T, F>(&self, job: F) -> Result<T, RenderPoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.run_weighed(None, move || Step::Done(job())).await
    }

    /// Runs `first` on the pool; if it finds the render heavy, runs the rest in a heavy slot on
    /// behalf of `client` (refused at once if that client already has one in flight). Admission
    /// and the deadline cover both steps and the wait between them.
    pub async fn run_weighed<T, F>(
        &self,
        client: Option<IpAddr>,
        first: F,
    ) -> Result<T, RenderPoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> Step<T> + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let slot = Arc::new(self.admit()?);
        let finishes = |step: &Step<T>| matches!(step, Step::Done(_));
        let rest = match self
            .on_worker(deadline, slot.clone(), (), first, finishes)
            .await?
        {
            Step::Done(value) => return Ok(value),
            Step::Heavy(rest) => rest,
        };
        let claim = self.claim_heavy(client)?;
        let waiting = Instant::now();
        let heavy = tokio::time::timeout_at(deadline, self.heavy.clone().acquire_owned())
            .await
            .map_err(|_| RenderPoolError::Timeout(self.timeout))?
            .expect("the heavy semaphore is never closed");
        slot.waited(waiting.elapsed());
        self.on_worker(deadline, slot, (claim, heavy), rest, |_| true)
            .await
    }

    fn admit(&self) -> Result<Slot, RenderPoolError> {
        let permit = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| RenderPoolError::Overloaded)?;
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            _permit: permit,
            in_flight: self.in_flight.clone(),
            timings: self.timings.clone(),
            times: Mutex::default(),
        })
    }

    fn claim_heavy(&self, client: Option<IpAddr>) -> Result<Option<HeavyClaim>, RenderPoolError> {
        let Some(client) = client else {
            return Ok(None);
        };
        let key = rate_key(client);
        let mut clients = self.heavy_clients.lock().unwrap_or_else(|e| e.into_inner());
        if !clients.insert(key) {
            return Err(RenderPoolError::HeavyRenderRunning);
        }
        Ok(Some(HeavyClaim {
            clients: self.heavy_clients.clone(),
            key,
        }))
    }

    /// Runs one step on a worker; `finishes` says whether its result ends the render. `slot`
    /// and `held` (heavy slot, client claim) are released when the work ends, not when the
    /// caller stops waiting, so a timed-out render still counts against the bounds while it
    /// burns CPU.
    async fn on_worker<R, F, H>(
        &self,
        deadline: tokio::time::Instant,
        slot: Arc<Slot>,
        held: H,
        job: F,
        finishes: fn(&R) -> bool,
    ) -> Result<R, RenderPoolError>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
        H: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let queued = Instant::now();
        self.pool.spawn(move || {
            let started = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(job));
            slot.worked(
                started - queued,
                started.elapsed(),
                result.as_ref().is_ok_and(finishes),
            );
            drop(slot);
            drop(held);
            let _ = tx.send(result);
        });
        match tokio::time::timeout_at(deadline, rx).await {
            Err(_) => Err(RenderPoolError::Timeout(self.timeout)),
            Ok(Err(_)) => Err(RenderPoolError::Panicked("render worker vanished".into())),
            Ok(Ok(Err(panic))) => Err(RenderPoolError::Panicked(panic_message(&panic))),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }
}

/// One admitted render: its place in the admission bound, and its times so far. Dropped when
/// the last step ends (or the caller gives up between steps); a render that finished is
/// observed then, once.
struct Slot {
    _permit: OwnedSemaphorePermit,
    in_flight: Arc<AtomicUsize>,
    timings: Timings,
    times: Mutex<Times>,
}

#[derive(Default)]
struct Times {
    waited: Duration,
    worked: Duration,
    finished: bool,
}

impl Slot {
    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn waited(&self, wait: Duration) {
        self.times().waited += wait;
    }

    fn worked(&self, wait: Duration, work: Duration, finished: bool) {
        let mut times = self.times();
        times.waited += wait;
        times.worked += work;
        times.finished |= finished;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let times = self.times();
        if times.finished {
            self.timings.work.observe(times.worked.as_secs_f64());
            self.timings.wait.observe(times.waited.as_secs_f64());
        }
    }
}

/// A client's one heavy render in flight.
struct HeavyClaim {
    clients: Arc<Mutex<HashSet<IpAddr>>>,
    key: IpAddr,
}

impl Drop for HeavyClaim {
    fn drop(&mut self) {
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

/// Per-render histograms, kept here (their one observer) and exported at scrape time.
#[derive(Clone)]
struct Timings {
    work: Histogram,
    wait: Histogram,
}

impl Timings {
    fn new() -> Self {
        let histogram = |name: &str, help: &str| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()))
                .expect("valid metric")
        };
        Self {
            work: histogram(
                "imgserver_render_duration_seconds",
                "Time renders spent on a render thread (source read, decode, transform, \
                 encode), once per render however many requests waited for it.",
            ),
            wait: histogram(
                "imgserver_render_wait_seconds",
                "Time renders waited for a render thread (and heavy renders for a heavy slot), \
                 once per render.",
            ),
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

impl From<RenderPoolError> for AppError {
    fn from(e: RenderPoolError) -> Self {
        match e {
            RenderPoolError::Overloaded => AppError::new(
                ErrorCode::Overloaded,
                "too many renders in progress, retry shortly",
            )
            .with_retry_after(Duration::from_secs(1)),
            RenderPoolError::Timeout(_) => {
                AppError::new(ErrorCode::RenderTimeout, "the render took too long")
                    .with_retry_after(Duration::from_secs(5))
            }
            RenderPoolError::HeavyRenderRunning => AppError::new(
                ErrorCode::RateLimited,
                "this client already has a heavy render running (one at a time: see \
                 limits.heavy_render_cost); retry when it is done",
            )
            .with_retry_after(Duration::from_secs(1)),
            RenderPoolError::Panicked(why) => {
                AppError::internal(anyhow::anyhow!("render panicked: {why}"))
            }
        }
    }
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

    fn client(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, n]))
    }

    /// A weighed render whose heavy rest sleeps `ms`.
    fn heavy(ms: u64) -> impl FnOnce() -> Step<u64> + Send + 'static {
        move || {
            Step::Heavy(Box::new(move || {
                std::thread::sleep(Duration::from_millis(ms));
                ms
            }))
        }
    }

    #[tokio::test]
    async fn heavy_renders_leave_half_of_the_threads_to_light_ones() {
        let pool = Arc::new(RenderPool::new(2, 8, Duration::from_secs(10)).unwrap());
        assert_eq!(pool.heavy_slots(), 1);
        let (a, b) = (pool.clone(), pool.clone());
        let first = tokio::spawn(async move { a.run_weighed(client(1), heavy(600)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Another client's heavy render waits for the heavy slot instead of taking a thread.
        let second = tokio::spawn(async move { b.run_weighed(client(2), heavy(10)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        for _ in 0..5 {
            assert_eq!(pool.run(|| 1).await.unwrap(), 1);
        }
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "light renders had a thread: {:?}",
            started.elapsed()
        );
        assert!(!second.is_finished(), "the second heavy render waits");
        assert_eq!(first.await.unwrap().unwrap(), 600);
        assert_eq!(second.await.unwrap().unwrap(), 10);
        assert_eq!(pool.in_flight(), 0);
    }

    #[tokio::test]
    async fn one_heavy_render_per_client_at_a_time() {
        let pool = Arc::new(RenderPool::new(4, 8, Duration::from_secs(10)).unwrap());
        let a = pool.clone();
        let first = tokio::spawn(async move { a.run_weighed(client(1), heavy(300)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        assert!(matches!(
            pool.run_weighed(client(1), heavy(1)).await,
            Err(RenderPoolError::HeavyRenderRunning)
        ));
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "refused at once"
        );
        // The same /64 is the same client, as for the rate limiter.
        let v6 = |last: u16| Some(IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]));
        let b = pool.clone();
        let v6_first = tokio::spawn(async move { b.run_weighed(v6(1), heavy(300)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(matches!(
            pool.run_weighed(v6(2), heavy(1)).await,
            Err(RenderPoolError::HeavyRenderRunning)
        ));
        // A light render of the same client is not affected.
        assert_eq!(
            pool.run_weighed(client(1), || Step::Done(7)).await.unwrap(),
            7
        );
        assert_eq!(first.await.unwrap().unwrap(), 300);
        assert_eq!(v6_first.await.unwrap().unwrap(), 300);
        assert_eq!(
            pool.run_weighed(client(1), heavy(1)).await.unwrap(),
            1,
            "the client may again once the first is done"
        );
    }

    #[tokio::test]
    async fn each_render_is_timed_once() {
        use prometheus::proto::MetricFamily;
        let pool = RenderPool::new(2, 2, Duration::from_secs(10)).unwrap();
        pool.run(|| ()).await.unwrap();
        pool.run_weighed(client(1), heavy(1)).await.unwrap();
        let _ = pool.run(|| -> () { panic!("boom") }).await;
        let count = |families: &[MetricFamily], name: &str| {
            families
                .iter()
                .find(|f| f.name() == name)
                .map(|f| f.get_metric()[0].get_histogram().get_sample_count())
        };
        let families = pool.timings();
        assert_eq!(
            count(&families, "imgserver_render_duration_seconds"),
            Some(2)
        );
        assert_eq!(count(&families, "imgserver_render_wait_seconds"), Some(2));
    }
}
