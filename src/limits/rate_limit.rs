//! Per-client rate limits (GCRA, from `governor`), keyed by [`rate_key`](super::client_ip::rate_key):
//! one for every image request (`limits.hit_per_ip_per_second`), a stricter one charged only when
//! a request would start a render (`limits.per_ip_per_second`, `limits.per_ip_burst`), and one
//! for the admin and webhook endpoints (`limits.admin_per_minute`). A limit of 0 is off.
//!
//! The per-client state is bounded: clients whose allowance is back to full are forgotten every
//! [`SWEEP_EVERY`] checks, and if more than [`MAX_TRACKED_CLIENTS`] are still tracked after that
//! (an attacker rotating addresses faster than allowances refill), the limiter starts afresh.
//! Forgetting is failing open, for a moment; the render queue still bounds the work.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::config::LimitSettings;
use crate::error::{AppError, ErrorCode};
use crate::metrics::{LimitMetrics, RateLimit};

use super::client_ip::rate_key;

/// Clients tracked per limiter beyond which it starts afresh (about 50 bytes each).
pub const MAX_TRACKED_CLIENTS: usize = 100_000;
/// Checks between two sweeps of clients whose allowance is full again.
pub const SWEEP_EVERY: u64 = 1024;

/// A request over a limit: when the client may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited for {retry_after:?}")]
pub struct RateLimited {
    pub retry_after: Duration,
}

impl From<RateLimited> for AppError {
    fn from(e: RateLimited) -> Self {
        AppError::new(ErrorCode::RateLimited, "too many requests, retry later")
            .with_retry_after(e.retry_after)
    }
}

type Governor<C> =
    RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One keyed limit, bounded in the number of clients it remembers.
pub struct IpLimiter<C: Clock = DefaultClock> {
    quota: Quota,
    clock: C,
    limiter: RwLock<Governor<C>>,
    checks: AtomicU64,
    sweeping: Mutex<()>,
    max_clients: usize,
}

impl IpLimiter<DefaultClock> {
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, DefaultClock::default(), MAX_TRACKED_CLIENTS)
    }
}

impl<C: Clock + Clone> IpLimiter<C> {
    pub fn with_clock(quota: Quota, clock: C, max_clients: usize) -> Self {
        Self {
            limiter: RwLock::new(RateLimiter::new(
                quota,
                DashMapStateStore::default(),
                clock.clone(),
            )),
            quota,
            clock,
            checks: AtomicU64::new(0),
            sweeping: Mutex::new(()),
            max_clients,
        }
    }

    /// Takes one unit of `ip`'s allowance, or says how long until one is available.
    pub fn check(&self, ip: IpAddr) -> Result<(), RateLimited> {
        let result = {
            let limiter = self.limiter.read().unwrap_or_else(|e| e.into_inner());
            limiter.check_key(&rate_key(ip)).map_err(|not_until| {
                // Whole seconds for Retry-After, never 0.
                let wait = not_until.wait_time_from(self.clock.now());
                RateLimited {
                    retry_after: Duration::from_secs(wait.as_millis().div_ceil(1000).max(1) as u64),
                }
            })
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        result
    }

    /// Clients currently remembered.
    pub fn tracked(&self) -> usize {
        self.limiter.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Forgets clients whose allowance is full again; starts afresh if too many remain.
    pub fn sweep(&self) {
        // One sweep at a time; a check that finds one running does not wait for it.
        let Ok(_sweeping) = self.sweeping.try_lock() else {
            return;
        };
        let remaining = {
            let limiter = self.limiter.read().unwrap_or_else(|e| e.into_inner());
            limiter.retain_recent();
            limiter.shrink_to_fit();
            limiter.len()
        };
        if remaining > self.max_clients {
            tracing::warn!(
                clients = remaining,
                "rate limiter tracks too many clients; starting afresh"
            );
            *self.limiter.write().unwrap_or_else(|e| e.into_inner()) =
                RateLimiter::new(self.quota, DashMapStateStore::default(), self.clock.clone());
        }
    }
}

/// The three limits of the service, each absent when configured off.
#[derive(Default)]
pub struct RateLimits {
    /// Every image request (`/img/`, `/info/`).
    pub hit: Option<IpLimiter>,
    /// Requests that would start a render (cache misses).
    pub render: Option<IpLimiter>,
    /// `/admin/`, `/hooks/`, `/cmd/`.
    pub admin: Option<IpLimiter>,
    /// Where refusals are counted (`imgserver_rate_limited_total`).
    metrics: Option<LimitMetrics>,
}

impl RateLimits {
    pub fn from_settings(limits: &LimitSettings) -> Self {
        let render = NonZeroU32::new(limits.per_ip_per_second).map(|rate| {
            // A burst of 0 means "as many as one second's worth".
            let burst = NonZeroU32::new(limits.per_ip_burst).unwrap_or(rate);
            Quota::per_second(rate).allow_burst(burst)
        });
        Self {
            hit: NonZeroU32::new(limits.hit_per_ip_per_second)
                .map(|rate| IpLimiter::new(Quota::per_second(rate))),
            render: render.map(IpLimiter::new),
            admin: NonZeroU32::new(limits.admin_per_minute)
                .map(|rate| IpLimiter::new(Quota::per_minute(rate))),
            metrics: None,
        }
    }

    /// Counts every refusal in `metrics`.
    pub fn with_metrics(mut self, metrics: LimitMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Takes one unit of `client`'s allowance under the `kind` limit (always granted when that
    /// limit is off).
    pub fn check(&self, kind: RateLimit, client: IpAddr) -> Result<(), RateLimited> {
        let limiter = match kind {
            RateLimit::Hit => &self.hit,
            RateLimit::Render => &self.render,
            RateLimit::Admin => &self.admin,
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check(client).inspect_err(|_| {
            if let Some(metrics) = &self.metrics {
                metrics.rate_limited(kind);
            }
        })
    }
}

/// Permission to start renders on behalf of one client, handed down the image path and used
/// only when the cache misses; it also names the client its heavy renders are counted against.
/// The default admits everything and names nobody.
#[derive(Clone, Default)]
pub struct RenderAdmission {
    limits: Option<(Arc<RateLimits>, IpAddr)>,
}

impl RenderAdmission {
    pub fn new(limits: Arc<RateLimits>, client: IpAddr) -> Self {
        Self {
            limits: Some((limits, client)),
        }
    }

    /// The client renders are charged to, if known.
    pub fn client(&self) -> Option<IpAddr> {
        self.limits.as_ref().map(|(_, client)| *client)
    }

    /// Charges one render to the client.
    pub fn admit(&self) -> Result<(), RateLimited> {
        match &self.limits {
            Some((limits, client)) => limits.check(RateLimit::Render, *client),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for RenderAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderAdmission")
            .field("client", &self.limits.as_ref().map(|(_, ip)| ip))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn burst_then_refill_with_retry_after() {
        let clock = FakeRelativeClock::default();
        let quota =
            Quota::per_second(NonZeroU32::new(2).unwrap()).allow_burst(NonZeroU32::new(3).unwrap());
        let limiter = IpLimiter::with_clock(quota, clock.clone(), 100);
        for _ in 0..3 {
            assert!(limiter.check(ip(1)).is_ok());
        }
        let refused = limiter.check(ip(1)).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert!(
            limiter.check(ip(2)).is_ok(),
            "another client is not affected"
        );
        clock.advance(Duration::from_millis(500));
        assert!(limiter.check(ip(1)).is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let clock = FakeRelativeClock::default();
        let quota = Quota::per_minute(NonZeroU32::new(1).unwrap());
        let limiter = IpLimiter::with_clock(quota, clock.clone(), 100);
        assert!(limiter.check(ip(1)).is_ok());
        clock.advance(Duration::from_millis(100));
        assert_eq!(
            limiter.check(ip(1)).unwrap_err().retry_after,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn rotating_clients_cannot_grow_the_state_without_bound() {
        let clock = FakeRelativeClock::default();
        // Slow refill: nobody is forgotten by the regular sweep within this test.
        let quota = Quota::per_minute(NonZeroU32::new(1).unwrap());
        let limiter = IpLimiter::with_clock(quota, clock.clone(), 5_000);
        for n in 0..50_000 {
            let _ = limiter.check(ip(n));
            assert!(limiter.tracked() <= 5_000 + SWEEP_EVERY as usize);
        }
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
        let limiter = IpLimiter::with_clock(quota, clock.clone(), 1_000_000);
        for n in 0..3_000 {
            let _ = limiter.check(ip(n));
        }
        clock.advance(Duration::from_secs(5));
        limiter.sweep();
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn off_limits_admit_everything() {
        let limits = Arc::new(RateLimits::default());
        let admission = RenderAdmission::new(limits, ip(1));
        for _ in 0..1000 {
            assert!(admission.admit().is_ok());
        }
        assert!(RenderAdmission::default().admit().is_ok());
    }
}
