//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the source can be read;
//! the cache's writability is reported but, since an unwritable cache never fails a request,
//! does not make the service unready).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let probed = state.clone();
    let (source, cache) = web::block(move || {
        (
            probed.delivery.source().is_readable(),
            probed.cache_probe.writable(),
        )
    })
    .await
    .unwrap_or((false, false));
    let body = json!({"ready": source, "source_readable": source, "cache_writable": cache});
    let mut res = if source {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("Cache-Control", "no-store")).json(body)
}
