//! What every fuzz target runs on its input: see [`exercise`]. The function lives in its own
//! file so that the corpus replay test of the main crate (tests/pipeline/pipeline_hostile.rs) runs the
//! very same code on every file of `tests/fixtures/fuzz/`.

mod exercise;

pub use exercise::exercise;
