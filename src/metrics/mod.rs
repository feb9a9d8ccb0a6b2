//! Prometheus metrics: the registry of events, counted where they happen. HTTP requests by
//! route template, method and status ([`HttpMetrics`], recorded by
//! [`crate::middleware::request_metrics`]), rate-limited and rejected requests
//! ([`LimitMetrics`]), git syncs and the served commit ([`GitSyncMetrics`]). These are the one
//! place other modules report to; this module imports none of them.
//!
//! `GET /metrics` ([`crate::routes::metrics`]) adds the state read at scrape time from the
//! services that already keep it (cache tiers, render queue), so no counter is duplicated outside
//! its owner.
//!
//! Every app has its own registry (tests run several apps in one process). Label values are
//! bounded: routes are templates (`/img`, never the requested file), methods and error codes
//! come from fixed lists.

mod events;
mod http;

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::proto::MetricFamily;
use prometheus::{Encoder, Gauge, IntGaugeVec, Opts, Registry, TextEncoder};

pub use events::{GitSyncMetrics, LimitMetrics, RateLimit, Rejection, SyncOutcome};
pub use http::HttpMetrics;

/// Upper bounds of request and render latency histograms: 1 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub struct Metrics {
    registry: Registry,
    http: HttpMetrics,
    limits: LimitMetrics,
    git: GitSyncMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http = HttpMetrics::register(&registry);
        let limits = LimitMetrics::register(&registry);
        let git = GitSyncMetrics::register(&registry);
        register_process_facts(&registry);
        Self {
            registry,
            http,
            limits,
            git,
        }
    }

    pub fn http(&self) -> &HttpMetrics {
        &self.http
    }

    /// Where rate limiters and admission control report refusals.
    pub fn limits(&self) -> &LimitMetrics {
        &self.limits
    }

    /// Where the git sync reports its runs and the commit it serves.
    pub fn git(&self) -> &GitSyncMetrics {
        &self.git
    }

    /// The whole exposition: the registered event families plus `snapshot`, the state families
    /// read at scrape time.
    pub fn render(&self, snapshot: Vec<MetricFamily>) -> String {
        let mut families = self.registry.gather();
        families.extend(snapshot);
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Facts fixed for the life of the process: version and start time.
fn register_process_facts(registry: &Registry) {
    let build = IntGaugeVec::new(
        Opts::new(
            "imgserver_build_info",
            "Always 1; the version of the running binary is a label.",
        ),
        &["version"],
    )
    .expect("valid metric");
    build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
    let start = Gauge::new(
        "imgserver_start_time_seconds",
        "When the process started, in seconds since the Unix epoch.",
    )
    .expect("valid metric");
    start.set(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    );
    register(registry, build);
    register(registry, start);
}

/// Registers a family whose name is a constant of this module; a clash is a bug.
fn register<C: prometheus::core::Collector + 'static>(registry: &Registry, collector: C) {
    registry
        .register(Box::new(collector))
        .expect("metric names are unique");
}
