//! The studio page's JSON endpoints (README "Studio page"): `GET /api/status` (what the page
//! needs to know about this server), `GET /api/tree?path=` (one folder of the gallery) and
//! `POST /api/sign` (signed URLs, admin token only). Who may call them is decided in
//! [`crate::ui::access`]; a call that tries or needs the token passes the control plane's gate
//! ([`crate::auth::gate`]: admin rate limit, audit line); everything answered is
//! `Cache-Control: no-store`.

use std::future::Future;

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};

use crate::auth::body::read_limited;
use crate::auth::{no_store, AdminToken, ControlCall};
use crate::config::FormatQualities;
use crate::error::{AppError, ErrorCode};
use crate::request::parse_query;
use crate::source::{check_component, decode_url_segments, RelPath};
use crate::state::AppState;
use crate::ui::access::{self, Caller, Need};
use crate::ui::gallery;
use crate::ui::links::Links;
use crate::ui::source_status::{self, SourceStatus};

/// Largest `POST /api/sign` body.
pub const MAX_SIGN_BODY: usize = 64 * 1024;
/// Most URLs signed by one request (an editor needs about twenty).
pub const MAX_SIGN_URLS: usize = 100;
/// Longest URL signed; image URLs over 8 KiB are refused anyway.
const MAX_SIGN_URL_LEN: usize = 4096;

#[derive(Serialize)]
struct Status<'a> {
    version: &'static str,
    /// Transforming URLs need `s` (ask `/api/sign`).
    signing: bool,
    sign_originals: bool,
    /// An admin token is configured (admin actions exist).
    admin: bool,
    require_token: bool,
    images: ImageLimits<'a>,
    source: SourceStatus,
}

#[derive(Serialize)]
struct ImageLimits<'a> {
    max_width: u32,
    max_height: u32,
    default_quality: u8,
    /// The default of each lossy format (`images.quality.*`).
    quality: FormatQualities,
    allowed_widths: &'a [u32],
    allowed_heights: &'a [u32],
    snap_to_allowed: bool,
    presets_only: bool,
    presets: &'a std::collections::BTreeMap<String, String>,
}

/// Runs `handler` for the caller the gate lets through, and ends the call: the audit line when
/// the token was tried or needed, `no-store` always.
async fn studio_call<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    action: &str,
    need: Need,
    handler: F,
) -> HttpResponse
where
    F: FnOnce(Caller) -> Fut,
    Fut: Future<Output = Result<HttpResponse, AppError>>,
{
    let visit = access::visit(&state.settings, req, need);
    let result = match visit.caller {
        Ok(caller) => handler(caller).await,
        Err(refusal) => Err(refusal),
    };
    if !visit.audited {
        return no_store(match result {
            Ok(response) => response,
            Err(e) => e.error_response(),
        });
    }
    let gate = ControlCall::new(req, &state.settings, action);
    let denied = visit.token != AdminToken::Right;
    match result {
        Ok(response) if denied => gate.finish(response, "denied"),
        Err(e) if e.code == ErrorCode::Unauthorized => gate.finish(e.error_response(), "denied"),
        result => gate.finish_result(result),
    }
}

/// `GET /api/status`
pub async fn status(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    studio_call(&req, &state, "api.status", Need::Data, |_| {
        status_of(state.clone())
    })
    .await
}

async fn status_of(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = &state.settings;
    let served = state
        .git
        .as_ref()
        .and_then(|git| source_status::from_sync(&git.status()));
    let source = match served {
        Some(source) => source,
        None => {
            let dir = settings.source.dir.clone();
            web::block(move || source_status::read(&dir))
                .await
                .map_err(AppError::internal)?
        }
    };
    let images = &settings.images;
    Ok(HttpResponse::Ok().json(Status {
        version: env!("CARGO_PKG_VERSION"),
        signing: settings.security.signing_key.is_some(),
        sign_originals: settings.security.signing_key.is_some() && settings.security.sign_originals,
        admin: settings.admin.token.is_some(),
        require_token: settings.ui.require_token,
        images: ImageLimits {
            max_width: images.max_width,
            max_height: images.max_height,
            default_quality: images.default_quality,
            quality: images.quality,
            allowed_widths: &images.allowed_widths,
            allowed_heights: &images.allowed_heights,
            snap_to_allowed: images.snap_to_allowed,
            presets_only: images.presets_only,
            presets: &images.presets,
        },
        source,
    }))
}

/// `GET /api/tree?path=cats`
pub async fn tree(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    studio_call(&req, &state, "api.tree", Need::Data, |caller| {
        tree_of(state.clone(), req.query_string().to_string(), caller)
    })
    .await
}

async fn tree_of(
    state: web::Data<AppState>,
    query: String,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    let dir = folder_param(&query)?;
    let source = state.delivery.source().clone();
    let settings = state.settings.clone();
    let folder = web::block(move || gallery::folder(source.as_ref(), &settings, &dir, caller))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| match AppError::from(e) {
            e if e.code == ErrorCode::NotFound => {
                AppError::new(ErrorCode::NotFound, "no such folder")
            }
            e => e,
        })?;
    Ok(HttpResponse::Ok().json(folder))
}

/// The one `path` parameter of `/api/tree`, decoded once and checked like any request path.
fn folder_param(query: &str) -> Result<RelPath, AppError> {
    let mut path = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "path" if path.is_none() => path = Some(value.into_owned()),
            "path" => return Err(AppError::invalid("path given twice")),
            _ => return Err(AppError::invalid("the only parameter is path")),
        }
    }
    Ok(RelPath::parse(path.as_deref().unwrap_or(""))?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    url: Option<String>,
    urls: Option<Vec<String>>,
}

#[derive(Serialize)]
struct SignReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    urls: Option<Vec<String>>,
}

/// `POST /api/sign` with `{"url": "/img/a.jpg?w=400"}` or `{"urls": [...]}`: the same URLs with
/// `s` added where this configuration needs one.
pub async fn sign(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    studio_call(&req, &state, "api.sign", Need::Admin, |caller| {
        sign_for(&req, &state, payload, caller)
    })
    .await
}

async fn sign_for(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    let settings = &state.settings;
    let body = read_limited(req, payload, MAX_SIGN_BODY).await?;
    let request: SignRequest = serde_json::from_slice(&body).map_err(|_| {
        AppError::invalid("the body must be JSON: {\"url\": \"/img/...\"} or {\"urls\": [...]}")
    })?;
    let links = Links::new(settings, caller);
    let sign_one = |url: String| -> Result<String, AppError> {
        check_image_url(&url, settings.images.max_width, settings.images.max_height)?;
        Ok(links.finish(url))
    };
    let reply = match (request.url, request.urls) {
        (Some(url), None) => SignReply {
            url: Some(sign_one(url)?),
            urls: None,
        },
        (None, Some(urls)) if urls.len() <= MAX_SIGN_URLS => SignReply {
            url: None,
            urls: Some(urls.into_iter().map(sign_one).collect::<Result<_, _>>()?),
        },
        (None, Some(_)) => {
            return Err(AppError::invalid(format!(
                "at most {MAX_SIGN_URLS} URLs per request"
            )))
        }
        _ => return Err(AppError::invalid("give either url or urls")),
    };
    Ok(HttpResponse::Ok().json(reply))
}

/// Only well-formed image URLs of this server are signed: `/img/` + a safe path + a valid query.
fn check_image_url(url: &str, max_width: u32, max_height: u32) -> Result<(), AppError> {
    let not_image_url = || AppError::invalid("only /img/ URLs of this server are signed");
    if url.len() > MAX_SIGN_URL_LEN || url.contains('#') {
        return Err(not_image_url());
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let raw = path.strip_prefix("/img/").ok_or_else(not_image_url)?;
    let segments = decode_url_segments(raw)?;
    if segments.is_empty() {
        return Err(not_image_url());
    }
    for segment in &segments {
        check_component(segment)?;
    }
    parse_query(query, max_width, max_height)?;
    Ok(())
}
