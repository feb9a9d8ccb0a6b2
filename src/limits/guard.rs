//! The front door: a middleware run before routing on every request. It refuses oversized
//! requests (URL over 8 KiB: 414, headers over 16 KiB: 431, admin and webhook bodies over 1 MiB:
//! 413), works out the [`ClientIp`], and applies the per-client rate limits by path: the image
//! limit on `/img/` and `/info/`, the admin limit on `/admin/`, `/hooks/` and `/cmd/`. Image
//! requests also get the client's [`RenderAdmission`], which the image path charges only when it
//! is about to render.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use ipnet::IpNet;

use crate::config::Settings;
use crate::error::{AppError, ErrorCode};

use super::client_ip::{self, ClientIp};
use super::rate_limit::{RateLimits, RenderAdmission};
use crate::metrics::{LimitMetrics, RateLimit};

/// Longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header block accepted (names, values and their separators).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest body accepted by the admin and webhook endpoints.
pub const MAX_ADMIN_BODY_BYTES: u64 = 1024 * 1024;

const IMAGE_PREFIXES: [&str; 2] = ["/img", "/info"];
const ADMIN_PREFIXES: [&str; 3] = ["/admin", "/hooks", "/cmd"];

/// What the middleware needs, shared by every worker (registered as `web::Data<Guard>`).
pub struct Guard {
    trusted_proxies: Vec<IpNet>,
    limits: Arc<RateLimits>,
}

impl Guard {
    pub fn new(settings: &Settings, metrics: LimitMetrics) -> Self {
        Self {
            trusted_proxies: settings.server.trusted_proxies.clone(),
            limits: Arc::new(RateLimits::from_settings(&settings.limits).with_metrics(metrics)),
        }
    }

    pub fn limits(&self) -> &Arc<RateLimits> {
        &self.limits
    }

    fn client_ip(&self, req: &ServiceRequest) -> IpAddr {
        client_ip::client_ip(req.request(), &self.trusted_proxies)
    }
}

/// Whether `path` is `prefix` or lies below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn uri_len(req: &ServiceRequest) -> usize {
    let uri = req.uri();
    uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
}

fn header_block_len(req: &ServiceRequest) -> usize {
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// The middleware (`from_fn(guard)`); without a registered [`Guard`] it only checks sizes.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match admit(&mut req) {
        Ok(()) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Err(refusal) => Ok(req
            .into_response(refusal.error_response())
            .map_into_right_body()),
    }
}

fn admit(req: &mut ServiceRequest) -> Result<(), AppError> {
    if uri_len(req) > MAX_URI_BYTES {
        return Err(AppError::new(
            ErrorCode::UriTooLong,
            format!("the URL is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    if header_block_len(req) > MAX_HEADER_BYTES {
        return Err(AppError::new(
            ErrorCode::HeadersTooLarge,
            format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        ));
    }
    let Some(guard) = req.app_data::<web::Data<Guard>>().cloned() else {
        return Ok(());
    };
    let client = guard.client_ip(req);
    req.extensions_mut().insert(ClientIp(client));
    // The routed path (percent-decoded like the router sees it), so `/%61dmin/` is `/admin/`.
    let path = req.match_info().as_str().to_string();
    if IMAGE_PREFIXES.iter().any(|p| under(&path, p)) {
        guard.limits.check(RateLimit::Hit, client)?;
        // Also with the render limit off: heavy renders are counted per client all the same.
        req.extensions_mut()
            .insert(RenderAdmission::new(guard.limits.clone(), client));
    } else if ADMIN_PREFIXES.iter().any(|p| under(&path, p)) {
        guard.limits.check(RateLimit::Admin, client)?;
        cap_body(req)?;
    }
    Ok(())
}

/// Refuses a declared length over the cap at once, and cuts a streamed (chunked) body off at it.
fn cap_body(req: &mut ServiceRequest) -> Result<(), AppError> {
    let too_large = || {
        AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {MAX_ADMIN_BODY_BYTES} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_ADMIN_BODY_BYTES) {
        return Err(too_large());
    }
    let mut seen: u64 = 0;
    let limited = req.take_payload().map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > MAX_ADMIN_BODY_BYTES {
            Err(PayloadError::Overflow)
        } else {
            Ok(chunk)
        }
    });
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(limited);
    req.set_payload(Payload::from(boxed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/admin", "/admin"));
        assert!(under("/admin/cache", "/admin"));
        assert!(!under("/administrator", "/admin"));
        assert!(under("/img/a.jpg", "/img"));
        assert!(!under("/imgx/a.jpg", "/img"));
    }
}
