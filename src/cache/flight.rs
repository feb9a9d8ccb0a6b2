//! Single flight: concurrent lookups of the same variant that no memory entry answers share
//! one disk read or render. The work runs on its own task, so a client that gives up (or a
//! waiter that times out) neither cancels it nor starts it again; its result still lands in
//! the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt, Shared};

use super::{CacheStatus, Variant};
use crate::error::AppError;
use crate::request::VariantKey;

/// What a flight produced, handed to every request that waited for it.
#[derive(Debug, Clone)]
pub(crate) struct Filled {
    pub variant: Arc<Variant>,
    pub status: CacheStatus,
    pub render_time: Option<Duration>,
}

pub(crate) type Outcome = Result<Filled, Arc<AppError>>;
pub(crate) type Flight = Shared<BoxFuture<'static, Outcome>>;

/// The flights in progress, by key.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<VariantKey, Flight>>,
}

impl Flights {
    pub fn lock(&self) -> MutexGuard<'_, HashMap<VariantKey, Flight>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` on its own task as the flight of `key`; the flight leaves the map when the
    /// work ends, whether it succeeded, failed or panicked. Call with the map locked (`flights`)
    /// so nobody else starts the same flight.
    pub fn start(
        self: &Arc<Self>,
        flights: &mut HashMap<VariantKey, Flight>,
        key: &VariantKey,
        work: BoxFuture<'static, Outcome>,
    ) -> Flight {
        let landing = Landing {
            flights: self.clone(),
            key: key.clone(),
        };
        let task = tokio::spawn(async move {
            let outcome = work.await;
            drop(landing);
            outcome
        });
        let flight = async move {
            task.await.unwrap_or_else(|e| {
                Err(Arc::new(AppError::internal(anyhow::anyhow!(
                    "the cache fill task failed: {e}"
                ))))
            })
        }
        .boxed()
        .shared();
        flights.insert(key.clone(), flight.clone());
        flight
    }
}

/// Removes a flight from the map when its work ends (also by unwinding).
struct Landing {
    flights: Arc<Flights>,
    key: VariantKey,
}

impl Drop for Landing {
    fn drop(&mut self) {
        self.flights.lock().remove(&self.key);
    }
}
