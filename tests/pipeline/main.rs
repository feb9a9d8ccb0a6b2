//! The image pipeline called directly (no HTTP but where a test needs the server): renders,
//! hard and hostile inputs, quality against a reference, properties.

#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;

mod pipeline_animation;
mod pipeline_hostile;
mod pipeline_inputs;
mod pipeline_operations;
mod pipeline_props;
mod pipeline_quality;
mod pipeline_render;
