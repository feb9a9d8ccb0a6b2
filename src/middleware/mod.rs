//! Cross-cutting HTTP behaviour, run around every request: the front door ([`guard`]: size
//! limits, client address, rate limits, the control plane's admission), request ids, the
//! `nosniff` header (added in `startup`), the access log and the request metrics.

mod access_log;
mod guard;
mod http_metrics;
mod request_id;

pub use crate::telemetry::RequestId;
pub use access_log::{access_log, redact_query};
pub use guard::{guard, Guard, MAX_HEADER_BYTES, MAX_URI_BYTES};
pub use http_metrics::request_metrics;
pub use request_id::request_id;
