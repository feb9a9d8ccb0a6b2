//! The page's files, compiled in from `ui/`: `/` is `index.html`, the rest live under `/ui/`.
//! Each answer carries its content type, a strong `ETag` (a digest of the bytes, so a new build
//! is never served from an old cache: `Cache-Control: no-cache` makes browsers revalidate, and
//! revalidation is a 304), and a Content-Security-Policy that allows nothing but this origin:
//! no inline script or style, no other host, no framing.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::delivery::etag_matches;

/// `img-src blob:` is the editor's preview (fetched, to read its headers, then shown from a
/// blob); `data:` is for small inline icons in the stylesheet.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let digest = Sha256::digest(bytes);
        Self {
            name,
            content_type,
            bytes,
            etag: format!("\"ui-{}\"", hex::encode(&digest[..12])),
        }
    }
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../ui/index.html"),
    )
});

static FILES: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        Asset::new(
            "studio.css",
            "text/css; charset=utf-8",
            include_bytes!("../../ui/studio.css"),
        ),
        Asset::new(
            "studio.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../ui/studio.js"),
        ),
        Asset::new(
            "icon.svg",
            "image/svg+xml",
            include_bytes!("../../ui/icon.svg"),
        ),
    ]
});

/// The page itself (`index.html`).
pub fn index(req: &HttpRequest) -> HttpResponse {
    respond(req, &INDEX)
}

/// One of the page's files by name (stylesheet, script, icon); `None` for any other name.
pub fn file(req: &HttpRequest, name: &str) -> Option<HttpResponse> {
    FILES
        .iter()
        .find(|a| a.name == name)
        .map(|asset| respond(req, asset))
}

fn respond(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let mut res = if etag_matches(if_none_match, &asset.etag) {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header(("Cross-Origin-Opener-Policy", "same-origin"));
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        res.insert_header((header::ETAG, etag));
    }
    if etag_matches(if_none_match, &asset.etag) {
        return res.finish();
    }
    res.content_type(asset.content_type).body(asset.bytes)
}
