//! Cross-cutting HTTP behaviour applied to every response: request ids, security headers and
//! the access log.

mod access_log;
mod request_id;

pub use access_log::{access_log, redact_query};
pub use request_id::{request_id, RequestId};
