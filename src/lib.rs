//! imgserver: serves the images of a git repository resized and converted on the fly.
//!
//! The binary (`main.rs`) only parses flags, loads [`config`], sets up [`telemetry`] and runs the
//! [`startup::Application`]. Each module below owns one concern; see its own documentation.
//! The modules form layers, each importing only from its own layer or below: `ARCHITECTURE.md`
//! lists them, and the test in `layers.rs` keeps the code to it.

pub mod auth;
pub mod cache;
pub mod config;
pub mod delivery;
pub mod error;
pub mod git_sync;
pub mod grammar;
pub mod healthcheck;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod pipeline;
pub mod request;
pub mod routes;
pub mod signing;
pub mod single_flight;
pub mod source;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod ui;

#[cfg(test)]
mod layers;
