//! Reading a request body with a hard size limit, for the admin and webhook endpoints (which
//! read it only after deciding the caller may send one). Over the limit is 413 JSON, announced
//! by `Content-Length` or discovered while streaming.

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::error::{AppError, ErrorCode};

/// Largest admin or webhook body (1 MiB).
pub const CONTROL_BODY_LIMIT: usize = 1 << 20;

/// Whether the request announces a body over `limit` (for endpoints that do not read theirs).
pub fn announced_over(req: &HttpRequest, limit: usize) -> bool {
    announced_length(req).is_some_and(|n| n > limit as u64)
}

fn announced_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

pub fn too_large(limit: usize) -> AppError {
    AppError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body is larger than {limit} bytes"),
    )
}

pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, AppError> {
    if announced_over(req, limit) {
        return Err(too_large(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::invalid("the body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
