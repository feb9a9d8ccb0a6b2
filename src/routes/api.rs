//! The studio page's JSON endpoints (README "Studio page"): `GET /api/status` (what the page
//! needs to know about this server), `GET /api/tree?path=` (one folder of the gallery) and
//! `POST /api/sign` (signed URLs, admin token only). Who may call them is decided in
//! [`crate::ui::access`]; everything answered is `Cache-Control: no-store`.

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, ErrorCode};
use crate::request::parse_query;
use crate::source::{check_component, decode_url_segments, RelPath};
use crate::state::AppState;
use crate::ui::access::{check, Need};
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
    allowed_widths: &'a [u32],
    allowed_heights: &'a [u32],
    snap_to_allowed: bool,
    presets_only: bool,
    presets: &'a std::collections::BTreeMap<String, String>,
}

/// `GET /api/status`
pub async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let settings = &state.settings;
    check(settings, &req, Need::Data)?;
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
    Ok(no_store().json(Status {
        version: env!("CARGO_PKG_VERSION"),
        signing: settings.security.signing_key.is_some(),
        sign_originals: settings.security.signing_key.is_some() && settings.security.sign_originals,
        admin: settings.admin.token.is_some(),
        require_token: settings.ui.require_token,
        images: ImageLimits {
            max_width: images.max_width,
            max_height: images.max_height,
            default_quality: images.default_quality,
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
pub async fn tree(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    check(&state.settings, &req, Need::Data)?;
    let dir = folder_param(req.query_string())?;
    let source = state.delivery.source().clone();
    let settings = state.settings.clone();
    let folder = web::block(move || gallery::folder(source.as_ref(), &settings, &dir))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| match AppError::from(e) {
            e if e.code == ErrorCode::NotFound => {
                AppError::new(ErrorCode::NotFound, "no such folder")
            }
            e => e,
        })?;
    Ok(no_store().json(folder))
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
) -> Result<HttpResponse, AppError> {
    let settings = &state.settings;
    check(settings, &req, Need::Admin)?;
    let body = read_body(payload, MAX_SIGN_BODY).await?;
    let request: SignRequest = serde_json::from_slice(&body).map_err(|_| {
        AppError::invalid("the body must be JSON: {\"url\": \"/img/...\"} or {\"urls\": [...]}")
    })?;
    let links = Links::new(settings);
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
    Ok(no_store().json(reply))
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

/// The request body, refused with 413 past `limit` bytes.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, AppError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::invalid("the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is over {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn no_store() -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    res.insert_header(("Cache-Control", "no-store"));
    res
}
