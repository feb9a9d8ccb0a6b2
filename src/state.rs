//! What every handler can reach: the settings and the long-lived services built at start.

use std::sync::Arc;
use std::time::Instant;

use crate::cache::WritableProbe;
use crate::config::Settings;
use crate::delivery::Delivery;
use crate::git_sync::GitSync;
use crate::metrics::Metrics;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub delivery: Arc<Delivery>,
    pub metrics: Arc<Metrics>,
    /// The git sync service; `None` when the source is a plain folder.
    pub git: Option<Arc<GitSync>>,
    /// Whether the cache folder is writable, for `/readyz` (probed at most every 10 s).
    pub cache_probe: WritableProbe,
    pub started: Instant,
}
