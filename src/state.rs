//! What every handler can reach: the settings and the long-lived services built at start.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Settings;
use crate::delivery::Delivery;
use crate::metrics::Metrics;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub delivery: Arc<Delivery>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
}
