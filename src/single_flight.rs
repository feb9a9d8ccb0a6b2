//! Single flight: concurrent callers for the same key share one run of the work. The cache uses
//! it so that requests for one variant share a disk read or a render; the git sync (with one
//! key) so that a sync arriving while one runs joins it.
//!
//! The work runs on its own task, so a caller that gives up (or times out) neither cancels it
//! nor starts it again: it finishes, and publishes its result, even when every caller went
//! away. The key leaves the map when the work ends (by unwinding too) and before its result is
//! out, so a caller that finds a flight gets a result produced after it arrived.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::{BoxFuture, FutureExt, Shared};

/// A run in progress, awaited by every caller that joined it.
pub type Flight<T> = Shared<BoxFuture<'static, T>>;

pub struct SingleFlight<K, T: Clone> {
    running: Mutex<HashMap<K, Flight<T>>>,
    /// The result given to the callers when the work panicked.
    on_panic: fn() -> T,
}

impl<K, T> SingleFlight<K, T>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    pub fn new(on_panic: fn() -> T) -> Arc<Self> {
        Arc::new(Self {
            running: Mutex::new(HashMap::new()),
            on_panic,
        })
    }

    /// Whether a run for `key` is in progress.
    pub fn is_running(&self, key: &K) -> bool {
        self.lock().contains_key(key)
    }

    /// Joins the run for `key`, or starts `work()` when none runs, and waits for its result.
    pub async fn run<F, Fut>(self: &Arc<Self>, key: K, work: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let Ok(flight) = self.join_unless(key, || None::<std::convert::Infallible>, work);
        flight.await
    }

    /// Like [`run`](Self::run) without waiting, but first asks `answered`, with the map locked:
    /// when it has the answer already (a cache tier filled by a run that just ended), that is
    /// returned and nothing is joined or started.
    pub fn join_unless<R, F, Fut>(
        self: &Arc<Self>,
        key: K,
        answered: impl FnOnce() -> Option<R>,
        work: F,
    ) -> Result<Flight<T>, R>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let mut running = self.lock();
        if let Some(answer) = answered() {
            return Err(answer);
        }
        if let Some(flight) = running.get(&key) {
            return Ok(flight.clone());
        }
        let work = work();
        let landing = Landing {
            flights: self.clone(),
            key: key.clone(),
        };
        let task = tokio::spawn(async move {
            let _landing = landing;
            work.await
        });
        let on_panic = self.on_panic;
        let flight = async move { task.await.unwrap_or_else(|_| on_panic()) }
            .boxed()
            .shared();
        running.insert(key, flight.clone());
        Ok(flight)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Flight<T>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Takes a run's key out of the map when its work ends (also by unwinding).
struct Landing<K: Hash + Eq, T: Clone> {
    flights: Arc<SingleFlight<K, T>>,
    key: K,
}

impl<K: Hash + Eq, T: Clone> Drop for Landing<K, T> {
    fn drop(&mut self) {
        self.flights
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flight = SingleFlight::new(|| 0usize);
        let runs = Arc::new(AtomicUsize::new(0));
        let mut joins = Vec::new();
        for _ in 0..20 {
            let flight = flight.clone();
            let runs = runs.clone();
            joins.push(tokio::spawn(async move {
                flight
                    .run((), || async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        runs.fetch_add(1, Ordering::SeqCst) + 1
                    })
                    .await
            }));
        }
        for j in joins {
            assert_eq!(j.await.unwrap(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!flight.is_running(&()));
        // A later call starts a new run.
        let runs2 = runs.clone();
        let n = flight
            .run(
                (),
                || async move { runs2.fetch_add(1, Ordering::SeqCst) + 1 },
            )
            .await;
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn keys_fly_apart() {
        let flight = SingleFlight::new(|| 0u32);
        let slow = |n: u32| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            n
        };
        let (a, b) = tokio::join!(flight.run(1, || slow(1)), flight.run(2, || slow(2)));
        assert_eq!((a, b), (1, 2));
    }

    #[tokio::test]
    async fn an_answer_found_under_the_lock_starts_nothing() {
        let flight = SingleFlight::new(|| 0u32);
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        let out = flight.join_unless(
            "k",
            || Some("cached"),
            move || {
                s.fetch_add(1, Ordering::SeqCst);
                async { 1 }
            },
        );
        assert_eq!(out.err(), Some("cached"));
        assert_eq!(started.load(Ordering::SeqCst), 0);
        assert!(!flight.is_running(&"k"));
    }

    #[tokio::test]
    async fn a_panicking_run_answers_the_fallback_and_frees_the_slot() {
        let flight = SingleFlight::new(|| -1i32);
        let out = flight
            .run((), || async {
                panic!("boom");
                #[allow(unreachable_code)]
                0
            })
            .await;
        assert_eq!(out, -1);
        assert!(!flight.is_running(&()));
        assert_eq!(flight.run((), || async { 7 }).await, 7);
    }
}
