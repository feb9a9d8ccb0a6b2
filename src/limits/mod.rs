//! Protection of the service's capacity: the render pool and its admission bound, and who the
//! client is (for limits, allow lists and logs).

mod client_ip;
mod render_pool;

pub use client_ip::client_ip;
pub use render_pool::{RenderPool, RenderPoolError};
