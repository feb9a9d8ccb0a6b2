//! Protection of the service's capacity and of its clients from each other: the render pool, its
//! admission bound and its fair share for heavy renders, per-client rate limits (keyed by the
//! client IP, `X-Forwarded-For` believed only from trusted proxies), the budget of source bytes
//! in memory, and the panic barrier. The middleware that applies them to requests is
//! [`crate::middleware::guard`].

mod catch_panic;
pub mod client_ip;
mod rate_limit;
mod render_pool;
pub mod source_budget;

pub use catch_panic::catch_panic;
pub use client_ip::{client_ip, ClientIp};
pub use rate_limit::{
    IpLimiter, RateLimited, RateLimits, RenderAdmission, MAX_TRACKED_CLIENTS, SWEEP_EVERY,
};
pub use render_pool::{HeavyJob, RenderPool, RenderPoolError, Step};
pub use source_budget::{BudgetExhausted, SourceBudget, SourcePermit};
