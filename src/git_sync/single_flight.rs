//! At most one sync at a time: a caller arriving while one runs joins it and gets its result.
//! The work runs in its own task, so it finishes (and publishes) even if every caller goes away.

use std::future::Future;
use std::sync::Mutex;

use futures_util::future::{BoxFuture, FutureExt, Shared};

pub struct SingleFlight<T: Clone> {
    current: Mutex<Option<Shared<BoxFuture<'static, T>>>>,
    /// The result given to waiters when the work panicked.
    on_panic: fn() -> T,
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    pub fn new(on_panic: fn() -> T) -> Self {
        Self {
            current: Mutex::new(None),
            on_panic,
        }
    }

    pub fn is_running(&self) -> bool {
        self.lock().is_some()
    }

    /// Joins the running work, or starts `work()` when none runs.
    pub async fn run<F, Fut>(self: &std::sync::Arc<Self>, work: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let joined = {
            let mut current = self.lock();
            match &*current {
                Some(running) => running.clone(),
                None => {
                    let work = work();
                    // The task empties the slot itself (on panic too), before its result is
                    // out: a caller that finds the slot full gets a result produced after it
                    // arrived.
                    let clear = EmptyOnDrop(self.clone());
                    let task = tokio::spawn(async move {
                        let _clear = clear;
                        work.await
                    });
                    let on_panic = self.on_panic;
                    let shared = async move { task.await.unwrap_or_else(|_| on_panic()) }
                        .boxed()
                        .shared();
                    *current = Some(shared.clone());
                    shared
                }
            }
        };
        joined.await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Shared<BoxFuture<'static, T>>>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct EmptyOnDrop<T: Clone>(std::sync::Arc<SingleFlight<T>>);

impl<T: Clone> Drop for EmptyOnDrop<T> {
    fn drop(&mut self) {
        *self.0.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flight = Arc::new(SingleFlight::new(|| 0usize));
        let runs = Arc::new(AtomicUsize::new(0));
        let mut joins = Vec::new();
        for _ in 0..20 {
            let flight = flight.clone();
            let runs = runs.clone();
            joins.push(tokio::spawn(async move {
                flight
                    .run(|| async move {
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
        assert!(!flight.is_running());
        // A later call starts a new run.
        let runs2 = runs.clone();
        let n = flight
            .run(|| async move { runs2.fetch_add(1, Ordering::SeqCst) + 1 })
            .await;
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn a_panicking_run_answers_the_fallback_and_frees_the_slot() {
        let flight = Arc::new(SingleFlight::new(|| -1i32));
        let out = flight
            .run(|| async {
                panic!("boom");
                #[allow(unreachable_code)]
                0
            })
            .await;
        assert_eq!(out, -1);
        assert!(!flight.is_running());
        assert_eq!(flight.run(|| async { 7 }).await, 7);
    }
}
