//! avif inputs through sniff, header and decode (and the rest of a small render).
#![no_main]

use imgserver::pipeline::ImageFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| imgserver_fuzz::exercise(data, Some(ImageFormat::Avif)));
