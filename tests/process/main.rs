//! The real binary as a child process: its configuration and commands, its log, its
//! graceful shutdown, and the service behind the real Nginx.

#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;

mod config_cli;
mod git_secrets_log;
mod hardening_shutdown;
mod logging_access;
mod nginx;
mod ops_cli;
