//! Protection of the service's capacity: the render pool and its admission bound.

mod render_pool;

pub use render_pool::{RenderPool, RenderPoolError};
