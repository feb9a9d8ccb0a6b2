//! The git-synced source against real repositories in temp folders: pulls, failures and
//! webhooks.

#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;

mod git_big_repo;
mod git_failures;
mod git_metadata;
mod git_smart_http;
mod git_ssh;
mod git_sync;
mod webhook_git;
