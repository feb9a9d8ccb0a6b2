//! No panic reaches a client: a handler or middleware that panics answers a generic 500 JSON
//! error, the panic goes to the log, and the worker and its connections live on (without this,
//! actix restarts the worker and drops every connection it held). Panics inside renders are
//! already caught on the render pool; this covers everything else. It is the innermost
//! middleware and answers with an error that actix turns into the response, since the request
//! itself is gone by then (and cannot be kept: routing needs it unshared). The middleware around
//! it sees that error: the access log and the request metrics record the 500, but the headers
//! other middleware adds to responses (`X-Request-Id`, `nosniff`) are not on it.

use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use futures_util::FutureExt;

use crate::error::AppError;

pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(AppError::internal(anyhow::anyhow!("handler panicked: {why}")).into())
        }
    }
}
