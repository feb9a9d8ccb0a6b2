//! `GET`/`HEAD /img/{path}`: adapts the request to [`Delivery::image`](crate::delivery::Delivery::image)
//! and the reply to HTTP headers (`Content-Type`, `ETag`, `Cache-Control`, `Vary`, `X-Cache`,
//! `Server-Timing`, and for SVG `Content-Security-Policy`). HEAD is answered by the same
//! handler; actix drops the body and keeps `Content-Length`. An original's body is a stream of
//! known length, read as it is sent.

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::delivery::{ImageQuery, ImageReply, ReplyBody};
use crate::error::AppError;
use crate::grammar::{below, IMG_PREFIX};
use crate::pipeline::ImageFormat;
use crate::state::AppState;

pub async fn image(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let header = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let admission = super::render_admission(&req);
    // The router matched the decoded path; a prefix that was itself percent-encoded
    // (`/%69mg/...`) is not a spelling we serve.
    let raw_path = below(req.uri().path(), IMG_PREFIX).ok_or_else(AppError::not_found)?;
    let query = ImageQuery {
        request_path: req.uri().path(),
        raw_path,
        raw_query: req.query_string(),
        accept: header(header::ACCEPT),
        if_none_match: header(header::IF_NONE_MATCH),
        admission: &admission,
    };
    let reply = state.delivery.image(query).await?;
    // A stand-in for a missing image must not outlive the image's arrival in caches (a CDN
    // would keep serving it under the real URL), whatever status it goes out with.
    let cache_control = if reply.fallback {
        &state.settings.images.fallback_cache_control
    } else {
        &state.settings.http.cache_control
    };
    Ok(respond(reply, cache_control))
}

/// Sent with every SVG body (only sanitised ones are served): opened as a document, it may load
/// nothing, run nothing and style itself only inline, whatever the sanitiser might have missed.
pub const SVG_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; sandbox";

fn respond(reply: ImageReply, cache_control: &str) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    if let Ok(etag) = HeaderValue::from_str(&reply.etag) {
        res.insert_header((header::ETAG, etag));
    }
    res.insert_header((header::CACHE_CONTROL, cache_control));
    if reply.vary_accept {
        res.insert_header((header::VARY, "Accept"));
    }
    if status != StatusCode::NOT_MODIFIED {
        res.insert_header(("X-Cache", reply.cache));
    }
    if reply.content_type == ImageFormat::Svg.mime() {
        res.insert_header((header::CONTENT_SECURITY_POLICY, SVG_CONTENT_SECURITY_POLICY));
    }
    if let Some(t) = reply.render_time {
        res.insert_header((
            "Server-Timing",
            format!("render;dur={:.1}", t.as_secs_f64() * 1000.0),
        ));
    }
    match reply.body {
        Some(ReplyBody::Variant(bytes)) => res.content_type(reply.content_type).body(bytes),
        Some(ReplyBody::Original(stream)) => res
            .content_type(reply.content_type)
            .body(SizedStream::new(stream.len(), stream)),
        None => res.finish(),
    }
}
