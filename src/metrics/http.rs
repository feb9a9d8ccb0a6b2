//! Request metrics: the families the request middleware
//! ([`crate::middleware::request_metrics`]) records every response in, by route template,
//! method and status. Render times are not taken from responses (many requests can share one
//! render): the render pool observes them, once per render.

use actix_web::http::Method;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

use super::{register, LATENCY_BUCKETS};

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

    /// One answered request.
    pub fn record(&self, route: &str, method: &Method, status: u16, seconds: f64, bytes: u64) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[route, method_label(method), status.as_str()])
            .inc();
        self.duration.with_label_values(&[route]).observe(seconds);
        self.response_bytes
            .with_label_values(&[route])
            .inc_by(bytes);
    }

    /// The gauge of requests being answered.
    pub fn in_flight(&self) -> &IntGauge {
        &self.in_flight
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
