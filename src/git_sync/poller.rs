//! `source.git.sync_interval`: a timer that syncs (joining any sync already running). It holds
//! the service weakly, so it stops by itself when the application is dropped.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::{interval_at, Instant, MissedTickBehavior};

use super::{GitSync, Trigger};

pub fn spawn(sync: &Arc<GitSync>, every: Duration) {
    let service: Weak<GitSync> = Arc::downgrade(sync);
    tokio::spawn(async move {
        let mut ticks = interval_at(Instant::now() + every, every);
        // A sync longer than the interval delays the next one instead of queueing a burst.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(sync) = service.upgrade() else {
                break;
            };
            // The outcome is logged and kept in the status by the sync itself.
            let _ = sync.sync(Trigger::Interval).await;
        }
    });
}
