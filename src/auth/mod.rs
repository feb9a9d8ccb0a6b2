//! Who may call the control plane, and the traces each call leaves: the admin token check
//! ([`token`]), the webhook signatures of each forge ([`webhook`]), the one gate every
//! control-plane endpoint passes ([`gate`]: which requests it governs, the audit line,
//! `no-store`) and the one body limit ([`body`]).
//!
//! Every secret comparison is constant time (SHA-256 digests compared with `subtle`, HMACs
//! verified by `hmac`).

pub mod body;
pub mod gate;
mod token;
mod webhook;

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest};
use ipnet::IpNet;

use crate::telemetry::RequestId;

pub use gate::{no_store, ControlCall, ControlPlane};
pub use token::{bearer_matches, secrets_equal, AdminToken};
pub use webhook::{verify_webhook, Forge};

/// The audit line of one control-plane call: who (client IP), what, and the outcome.
pub fn audit(
    req: &HttpRequest,
    trusted: &[IpNet],
    action: &str,
    status: StatusCode,
    outcome: &str,
) {
    let client_ip = crate::limits::client_ip(req, trusted).to_string();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    tracing::info!(
        target: "audit",
        client_ip,
        action,
        status = status.as_u16(),
        outcome,
        request_id,
        "admin call"
    );
}
