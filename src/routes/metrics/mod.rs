//! `GET /metrics`: the exposition, for addresses in `metrics.allow` only (403 for others, 404
//! when `metrics.enabled` is off). The address is the client's as resolved through
//! `server.trusted_proxies`, so a scrape relayed by a local reverse proxy is judged by its real
//! origin, not by the proxy's loopback address.

mod snapshot;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{AppError, ErrorCode};
use crate::limits::client_ip;
use crate::state::AppState;

pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = &state.settings;
    if !settings.metrics.enabled {
        return Err(AppError::no_such_endpoint());
    }
    let ip = client_ip(&req, &settings.server.trusted_proxies);
    if !settings.metrics.allow.iter().any(|net| net.contains(&ip)) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "metrics are not served to this address",
        ));
    }
    let body = state.metrics.render(snapshot::families(&state.delivery));
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}
