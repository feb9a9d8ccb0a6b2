//! The old harness's name, kept only for `tests/hardening_panic.rs` (rewritten on another
//! branch) until it moves into one of the grouped binaries: the harness is `tests/common/`.
#![allow(dead_code, unused_imports)]

#[path = "../common/mod.rs"]
mod common;

pub use common::app::*;
pub use common::audit::*;
pub use common::client::*;
pub use common::fixtures::*;
pub use common::images::*;
pub use common::raw::*;
