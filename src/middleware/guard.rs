//! The front door: a middleware run before routing on every request. It refuses oversized
//! requests (URL over 8 KiB: 414, headers over 16 KiB: 431), works out the [`ClientIp`], and
//! applies the per-client rate limits by path: the image limit on `/img/`, `/info/` and a public
//! `/srcset/`, the admin limit on what the control plane's gate governs
//! ([`ControlPlane::governs`]: `/admin/`, `/hooks/`, `/cmd/`, `/srcset/` while it signs, and
//! `/api/` when a token is presented or needed), whose bodies it also caps
//! ([`crate::auth::body`]). Image requests also get the client's [`RenderAdmission`], which the
//! image path charges only when it is about to render.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use ipnet::IpNet;

use crate::auth::{audit, body::cap_payload, ControlPlane};
use crate::config::Settings;
use crate::error::{AppError, ErrorCode};
use crate::grammar::{under, IMAGE_PREFIXES, SRCSET_PREFIX};
use crate::limits::client_ip::{self, ClientIp};
use crate::limits::{RateLimits, RenderAdmission};
use crate::metrics::{LimitMetrics, RateLimit};

/// Longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header block accepted (names, values and their separators).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// What the middleware needs, shared by every worker (registered as `web::Data<Guard>`).
pub struct Guard {
    trusted_proxies: Vec<IpNet>,
    limits: Arc<RateLimits>,
    control: ControlPlane,
}

impl Guard {
    pub fn new(settings: &Settings, metrics: LimitMetrics) -> Self {
        Self {
            trusted_proxies: settings.server.trusted_proxies.clone(),
            limits: Arc::new(RateLimits::from_settings(&settings.limits).with_metrics(metrics)),
            control: ControlPlane::new(settings),
        }
    }

    pub fn limits(&self) -> &Arc<RateLimits> {
        &self.limits
    }

    fn client_ip(&self, req: &ServiceRequest) -> IpAddr {
        client_ip::client_ip(req.request(), &self.trusted_proxies)
    }
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
    } else if guard.control.governs(&path, req.headers()) {
        if let Err(limited) = guard.limits.check(RateLimit::Admin, client) {
            // Guesses of a secret go on being recorded once they are refused.
            let refusal = AppError::from(limited);
            let area = ControlPlane::area(&path);
            audit(
                req.request(),
                &guard.trusted_proxies,
                area,
                refusal.status_code(),
                refusal.code.as_str(),
            );
            return Err(refusal);
        }
        cap_payload(req)?;
    } else if under(&path, SRCSET_PREFIX) {
        // Public while it signs nothing: limited like `/info`.
        guard.limits.check(RateLimit::Hit, client)?;
    }
    if under(&path, SRCSET_PREFIX) {
        // Its placeholders are renders, signed or not.
        req.extensions_mut()
            .insert(RenderAdmission::new(guard.limits.clone(), client));
    }
    Ok(())
}
