//! The request metrics middleware: counts every response by route template, method and status,
//! times it, and reads the API error code of a refusal (overload and render timeouts are counted
//! as rejections). The families are [`crate::metrics::HttpMetrics`].

use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};
use prometheus::IntGauge;

use crate::error::{AppError, ErrorCode};
use crate::metrics::Rejection;
use crate::state::AppState;

/// Keeps `imgserver_http_requests_in_flight` right even when the client goes away mid-request
/// and the request future is dropped.
struct InFlight(IntGauge);

impl InFlight {
    fn enter(gauge: &IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The route a request matched, as a bounded label: the resource pattern up to its first
/// dynamic segment (`/img/{path:.*}` → `/img`), or `unmatched`.
fn route_label(req: &HttpRequest) -> String {
    match req.match_pattern() {
        Some(pattern) => {
            let fixed = pattern.split('{').next().unwrap_or("");
            let trimmed = fixed.trim_end_matches('/');
            if trimmed.is_empty() {
                "/".to_string()
            } else {
                trimmed.to_string()
            }
        }
        None => "unmatched".to_string(),
    }
}

/// The API error code a response was made from, if any.
fn error_code(res: &ServiceResponse<impl MessageBody>) -> Option<ErrorCode> {
    res.response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .map(|e| e.code)
}

pub async fn request_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let metrics = &state.metrics;
    let started = Instant::now();
    let _in_flight = InFlight::enter(metrics.http().in_flight());
    let route = route_label(req.request());
    let method = req.method().clone();
    let result = next.call(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let res = match result {
        Ok(res) => res,
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            metrics.http().record(&route, &method, status, seconds, 0);
            return Err(e);
        }
    };
    let bytes = match res.response().body().size() {
        BodySize::Sized(n) => n,
        _ => 0,
    };
    metrics
        .http()
        .record(&route, &method, res.status().as_u16(), seconds, bytes);
    match error_code(&res) {
        Some(ErrorCode::Overloaded) => metrics.limits().rejected(Rejection::Overloaded),
        Some(ErrorCode::RenderTimeout) => metrics.limits().rejected(Rejection::RenderTimeout),
        _ => {}
    }
    Ok(res)
}
