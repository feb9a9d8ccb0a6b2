//! Protection of the service's capacity and of its clients from each other: the render pool, its
//! admission bound and its fair share for heavy renders, per-client rate limits (keyed by the
//! client IP, `X-Forwarded-For` believed only from trusted proxies), request size limits, and
//! the panic barrier.

mod catch_panic;
pub mod client_ip;
mod guard;
mod rate_limit;
mod render_pool;
pub mod source_budget;

pub use catch_panic::catch_panic;
pub use client_ip::{client_ip, ClientIp};
pub use guard::{guard, Guard, MAX_HEADER_BYTES, MAX_URI_BYTES};
pub use rate_limit::{
    IpLimiter, RateLimited, RateLimits, RenderAdmission, MAX_TRACKED_CLIENTS, SWEEP_EVERY,
};
pub use render_pool::{HeavyJob, RenderPool, RenderPoolError, Step};
pub use source_budget::{BudgetExhausted, SourceBudget, SourcePermit};
