//! `GET /srcset/{path}`: the responsive markup of an image ([`Delivery::srcset`]), as JSON, or
//! as the `<picture>` element for `Accept: text/html` or `format=html`. While URLs are signed
//! it mints signatures, so it is a control-plane call: the admin token, the audit line,
//! `no-store` (the gate governs it, with the admin rate limit); otherwise it is public.
//!
//! [`Delivery::srcset`]: crate::delivery::Delivery::srcset

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::delivery::SrcsetReply;
use crate::error::AppError;
use crate::grammar::{below, SRCSET_PREFIX};
use crate::request::SrcsetForm;
use crate::state::AppState;

use super::admin::guarded;

pub async fn srcset(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = async {
        let raw_path = below(req.uri().path(), SRCSET_PREFIX).ok_or_else(AppError::not_found)?;
        let admission = super::render_admission(&req);
        let reply = state
            .delivery
            .srcset(raw_path, req.query_string(), &admission)
            .await?;
        Ok(respond(&req, reply))
    };
    if state.settings.security.signing_key.is_none() {
        return answer
            .await
            .unwrap_or_else(|e: AppError| actix_web::ResponseError::error_response(&e));
    }
    guarded(&req, &state, "srcset", answer).await
}

fn respond(req: &HttpRequest, reply: SrcsetReply) -> HttpResponse {
    let html = match reply.form {
        Some(form) => form == SrcsetForm::Html,
        None => wants_html(req),
    };
    let mut res = HttpResponse::Ok();
    // Revalidated, so a sync that changes the image changes the markup at once.
    res.insert_header((header::CACHE_CONTROL, "no-cache"));
    if reply.form.is_none() {
        res.insert_header((header::VARY, "Accept"));
    }
    match html {
        true => res.content_type(ContentType::html()).body(reply.to_html()),
        false => res.json(reply),
    }
}

/// Whether `Accept` names HTML (a browser's navigation, or a build tool asking for markup).
fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|item| item.split(';').next().unwrap_or("").trim() == "text/html")
        })
}
