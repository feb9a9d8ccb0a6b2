//! The one test harness every test binary includes (`#[path = "../common/mod.rs"] mod common;`):
//! the in-process app on port 0, the spawned binary, Nginx, git repositories, fixtures and
//! generated images and animations, raw HTTP and the HTTP client. Each binary uses part of it, so the module is
//! declared with `#[allow(dead_code)]`.

pub mod animation;
pub mod app;
pub mod audit;
pub mod client;
pub mod fixtures;
pub mod git;
pub mod git_http;
pub mod git_servers;
pub mod git_ssh;
pub mod images;
pub mod nginx;
pub mod pipeline;
pub mod process;
pub mod raw;
