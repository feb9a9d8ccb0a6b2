//! imgserver: serves the images of a git repository resized and converted on the fly.
//!
//! The binary (`main.rs`) only parses flags, loads [`config`], sets up tracing and runs the
//! [`startup::Application`]. Each module below owns one concern; see its own documentation.

pub mod pipeline;
