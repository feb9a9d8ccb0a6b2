//! The body limit of the control plane, its one implementation and message: the front door
//! ([`cap_payload`]) refuses a declared length over [`CONTROL_BODY_LIMIT`] and cuts a streamed
//! body off at it, and the handlers read theirs with [`read_limited`] (with that limit or a
//! smaller one of their own). Over the limit is 413 `payload_too_large`.

use std::pin::Pin;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderMap, CONTENT_LENGTH};
use actix_web::{web, HttpMessage, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::error::{AppError, ErrorCode};

/// Largest body of an admin, webhook, command or studio API call (1 MiB).
pub const CONTROL_BODY_LIMIT: usize = 1 << 20;

/// Whether the headers announce a body over `limit` (for endpoints that do not read theirs).
pub fn announced_over(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// The refusal of a body over `limit`.
pub fn too_large(limit: usize) -> AppError {
    AppError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body is larger than {limit} bytes"),
    )
}

/// The whole body, refused once it is announced or seen to be over `limit`.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, AppError> {
    if announced_over(req.headers(), limit) {
        return Err(too_large(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Overflow => too_large(limit.min(CONTROL_BODY_LIMIT)),
            _ => AppError::invalid("the body could not be read"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// For the front door: refuses a declared length over [`CONTROL_BODY_LIMIT`] at once, and cuts
/// a streamed (chunked) body off at it.
pub fn cap_payload(req: &mut ServiceRequest) -> Result<(), AppError> {
    if announced_over(req.headers(), CONTROL_BODY_LIMIT) {
        return Err(too_large(CONTROL_BODY_LIMIT));
    }
    let mut seen: usize = 0;
    let limited = req.take_payload().map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len();
        if seen > CONTROL_BODY_LIMIT {
            Err(PayloadError::Overflow)
        } else {
            Ok(chunk)
        }
    });
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(limited);
    req.set_payload(Payload::from(boxed));
    Ok(())
}
