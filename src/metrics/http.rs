//! Request metrics: one middleware counts every response by route template, method and status,
//! times it, and reads the API error code of a refusal. Render times are not taken from
//! responses (many requests can share one render): the render pool observes them, once per
//! render.

use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

use super::{register, Rejection, LATENCY_BUCKETS};
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

#[derive(Clone)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    response_bytes: IntCounterVec,
    in_flight: IntGauge,
}

impl HttpMetrics {
    pub(super) fn register(registry: &Registry) -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "imgserver_http_requests_total",
                "HTTP requests answered, by route template, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "imgserver_http_request_duration_seconds",
                "Time from request to response head, by route template.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let response_bytes = IntCounterVec::new(
            Opts::new(
                "imgserver_http_response_bytes_total",
                "Response body bytes sent, by route template.",
            ),
            &["route"],
        )
        .expect("valid metric");
        let in_flight = IntGauge::new(
            "imgserver_http_requests_in_flight",
            "Requests being answered right now.",
        )
        .expect("valid metric");
        register(registry, requests.clone());
        register(registry, duration.clone());
        register(registry, response_bytes.clone());
        register(registry, in_flight.clone());
        Self {
            requests,
            duration,
            response_bytes,
            in_flight,
        }
    }

    fn record(&self, route: &str, method: &Method, status: u16, seconds: f64, bytes: u64) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[route, method_label(method), status.as_str()])
            .inc();
        self.duration.with_label_values(&[route]).observe(seconds);
        self.response_bytes
            .with_label_values(&[route])
            .inc_by(bytes);
    }
}

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
pub fn route_label(req: &HttpRequest) -> String {
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

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        // Any token is a valid method: do not let clients mint label values.
        _ => "other",
    }
}

/// The API error code a response was made from, if any.
pub(crate) fn error_code(res: &ServiceResponse<impl MessageBody>) -> Option<ErrorCode> {
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
    let _in_flight = InFlight::enter(&metrics.http().in_flight);
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
