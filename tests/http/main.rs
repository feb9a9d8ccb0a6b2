//! The HTTP surface of the in-process app (the real `startup` on port 0): images, errors,
//! hardening, signed URLs, limits, metrics, the admin and studio APIs, the studio page, and
//! the property tests of what parses paths and queries.

#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;

mod admin_api;
mod animation;
mod api_studio;
mod fuzz_paths;
mod fuzz_query;
mod hardening_http;
mod http_errors;
mod http_images;
mod http_metadata;
mod http_operations;
mod info_placeholders;
mod limits_rate;
mod limits_render;
mod limits_variants;
mod metrics_scrape;
mod signing_urls;
mod srcset_markup;
mod svg_raster;
mod svg_serving;
mod ui_page;
