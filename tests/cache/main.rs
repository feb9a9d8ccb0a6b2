//! The variant cache through HTTP: its memory and disk tiers, restarts and crashes.

#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;

mod cache_disk;
mod cache_tiers;
