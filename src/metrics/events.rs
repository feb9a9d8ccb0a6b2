//! The event counters other modules increment: refusals by rate limiters and admission control,
//! and git syncs. Every label value is pre-created, so each series is exported (at 0) from the
//! first scrape, before anything happened.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::register;

/// Which rate limit refused a request (`limits.*` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// Renders (cache misses) per client IP (`per_ip_per_second`).
    Render,
    /// Cache hits per client IP (`hit_per_ip_per_second`).
    Hit,
    /// `/admin/` and `/hooks/` per client IP (`admin_per_minute`).
    Admin,
}

impl RateLimit {
    const ALL: [RateLimit; 3] = [RateLimit::Render, RateLimit::Hit, RateLimit::Admin];

    fn label(self) -> &'static str {
        match self {
            Self::Render => "render",
            Self::Hit => "hit",
            Self::Admin => "admin",
        }
    }
}

/// Why the service refused work to protect its capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The render queue was full (503 `overloaded`).
    Overloaded,
    /// A render ran past `limits.render_timeout` (503 `render_timeout`).
    RenderTimeout,
}

impl Rejection {
    const ALL: [Rejection; 2] = [Rejection::Overloaded, Rejection::RenderTimeout];

    fn label(self) -> &'static str {
        match self {
            Self::Overloaded => "overloaded",
            Self::RenderTimeout => "render_timeout",
        }
    }
}

#[derive(Clone)]
pub struct LimitMetrics {
    rate_limited: IntCounterVec,
    rejected: IntCounterVec,
}

impl LimitMetrics {
    pub(super) fn register(registry: &Registry) -> Self {
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "imgserver_rate_limited_total",
                "Requests refused with 429 by a rate limit, by limit.",
            ),
            &["limit"],
        )
        .expect("valid metric");
        let rejected = IntCounterVec::new(
            Opts::new(
                "imgserver_rejected_total",
                "Requests refused with 503 to protect capacity, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        for limit in RateLimit::ALL {
            rate_limited.with_label_values(&[limit.label()]);
        }
        for reason in Rejection::ALL {
            rejected.with_label_values(&[reason.label()]);
        }
        register(registry, rate_limited.clone());
        register(registry, rejected.clone());
        Self {
            rate_limited,
            rejected,
        }
    }

    pub fn rate_limited(&self, limit: RateLimit) {
        self.rate_limited.with_label_values(&[limit.label()]).inc();
    }

    pub fn rejected(&self, reason: Rejection) {
        self.rejected.with_label_values(&[reason.label()]).inc();
    }
}

/// How one git sync ended: one vocabulary for the metric's `result` label, the status's
/// `last_sync.result` and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncOutcome {
    /// A new commit is served.
    Updated,
    /// The remote had nothing new.
    Unchanged,
    /// Fetch failed, timed out or was refused; the previous commit is still served.
    Failed,
}

impl SyncOutcome {
    const ALL: [SyncOutcome; 3] = [
        SyncOutcome::Updated,
        SyncOutcome::Unchanged,
        SyncOutcome::Failed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Failed => "failed",
        }
    }
}

/// Git sync runs and the served commit. Cheap to clone: hand a copy to the syncer.
#[derive(Clone)]
pub struct GitSyncMetrics {
    syncs: IntCounterVec,
    duration: Histogram,
    last_success: Gauge,
    source_info: IntGaugeVec,
}

impl GitSyncMetrics {
    pub(super) fn register(registry: &Registry) -> Self {
        let syncs = IntCounterVec::new(
            Opts::new(
                "imgserver_git_syncs_total",
                "Git syncs (webhook, admin API or timer), by result.",
            ),
            &["result"],
        )
        .expect("valid metric");
        for result in SyncOutcome::ALL {
            syncs.with_label_values(&[result.label()]);
        }
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "imgserver_git_sync_duration_seconds",
                "Duration of git syncs, fetch included.",
            )
            .buckets(vec![
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
            ]),
        )
        .expect("valid metric");
        let last_success = Gauge::new(
            "imgserver_git_last_success_timestamp_seconds",
            "When the last successful sync ended (Unix seconds); 0 before the first.",
        )
        .expect("valid metric");
        let source_info = IntGaugeVec::new(
            Opts::new(
                "imgserver_source_info",
                "Always 1; the commit being served (and its branch) are labels.",
            ),
            &["commit", "branch"],
        )
        .expect("valid metric");
        register(registry, syncs.clone());
        register(registry, duration.clone());
        register(registry, last_success.clone());
        register(registry, source_info.clone());
        Self {
            syncs,
            duration,
            last_success,
            source_info,
        }
    }

    /// Records one finished sync.
    pub fn record_sync(&self, result: SyncOutcome, took: Duration) {
        self.syncs.with_label_values(&[result.label()]).inc();
        self.duration.observe(took.as_secs_f64());
        if result != SyncOutcome::Failed {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.last_success.set(now);
        }
    }

    /// The commit now served (at start, and after every sync that changed it).
    pub fn set_served_commit(&self, commit: &str, branch: &str) {
        self.source_info.reset();
        self.source_info.with_label_values(&[commit, branch]).set(1);
    }
}
