//! One log line per request (target `access`): method, path, query with credentials redacted,
//! status, bytes, duration, cache result, API error code, request id, client IP (resolved
//! through `server.trusted_proxies`) and the TCP peer. Headers are never logged, so tokens and
//! webhook signatures cannot leak here.

use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::RequestId;
use crate::error::AppError;
use crate::limits::client_ip;
use crate::state::AppState;

/// Query parameters whose values are credentials: signatures (`s`) and anything token-like.
const SECRET_PARAMS: &[&str] = &[
    "s",
    "sig",
    "signature",
    "token",
    "access_token",
    "key",
    "secret",
    "password",
];

const REDACTED: &str = "REDACTED";

/// The raw query with the values of [`SECRET_PARAMS`] replaced; names are compared after
/// percent-decoding, so `%73=...` is redacted like `s=...`.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let (raw_name, value) = match pair.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (pair, None),
            };
            let name: String = form_urlencoded::parse(raw_name.as_bytes())
                .next()
                .map(|(n, _)| n.to_ascii_lowercase())
                .unwrap_or_default();
            match value {
                Some(_) if SECRET_PARAMS.contains(&name.as_str()) => {
                    format!("{raw_name}={REDACTED}")
                }
                _ => pair.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // With the access log filtered out, skip the formatting and allocations it needs: they are
    // a measurable share of a cache hit.
    if !tracing::enabled!(target: "access", tracing::Level::INFO) {
        return next.call(req).await;
    }
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();
    let query = redact_query(req.query_string());
    let peer = req.peer_addr().map(|a| a.ip().to_canonical());
    let client = req
        .app_data::<web::Data<AppState>>()
        .map(|state| client_ip(req.request(), &state.settings.server.trusted_proxies))
        .or(peer);
    let fmt_ip = |ip: Option<std::net::IpAddr>| ip.map(|ip| ip.to_string()).unwrap_or_default();
    let (client_ip, peer) = (fmt_ip(client), fmt_ip(peer));
    let res = next.call(req).await;
    // Microsecond precision is plenty and keeps lines short.
    let duration_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let res = match res {
        Ok(res) => res,
        Err(e) => {
            tracing::info!(
                target: "access",
                method,
                path,
                query,
                status = e.as_response_error().status_code().as_u16(),
                duration_ms,
                client_ip,
                peer,
                "request"
            );
            return Err(e);
        }
    };
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let bytes = match res.response().body().size() {
        BodySize::Sized(n) => n,
        _ => 0,
    };
    let cache = res
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .map(|e| e.code.as_str())
        .unwrap_or("-");
    tracing::info!(
        target: "access",
        method,
        path,
        query,
        status = res.status().as_u16(),
        bytes,
        duration_ms,
        cache,
        error,
        request_id,
        client_ip,
        peer,
        "request"
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_query("w=400&s=abcDEF123&fmt=webp"),
            "w=400&s=REDACTED&fmt=webp"
        );
        assert_eq!(
            redact_query("%73=abc&TOKEN=t0k"),
            "%73=REDACTED&TOKEN=REDACTED"
        );
        assert_eq!(redact_query("sig=1&key=2&w"), "sig=REDACTED&key=REDACTED&w");
        assert_eq!(redact_query(""), "");
        assert_eq!(redact_query("size=3&ws=4"), "size=3&ws=4");
    }
}
