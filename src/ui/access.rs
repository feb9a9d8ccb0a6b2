//! Who may reach what the studio serves. The page's shell (HTML, CSS, JS) names no file, so it is
//! open whenever the page is on; its data (`/api/status`, `/api/tree`) reveals file names and so
//! asks for the admin token when `ui.require_token` is set; its admin actions (`/api/sign`)
//! always do. A page that is off, or an admin action with no token configured, answers 404 as if
//! it did not exist.

use actix_web::http::header;
use actix_web::HttpRequest;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Settings;
use crate::error::{AppError, ErrorCode};

/// What a request wants to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The page's static assets.
    Page,
    /// File names and settings the gallery shows.
    Data,
    /// Actions for the admin only (signing URLs).
    Admin,
}

/// `Ok` when the request may reach `need`; otherwise the error to answer with.
pub fn check(settings: &Settings, req: &HttpRequest, need: Need) -> Result<(), AppError> {
    if !settings.ui.enabled {
        return Err(no_such_endpoint());
    }
    let wants_token = match need {
        Need::Page => false,
        Need::Data => settings.ui.require_token,
        Need::Admin => {
            if settings.admin.token.is_none() {
                return Err(no_such_endpoint());
            }
            true
        }
    };
    if !wants_token {
        return Ok(());
    }
    // With `require_token` but no token configured nothing can match: the page stays locked
    // rather than open.
    let expected = settings.admin.token.as_ref().map(|t| t.expose());
    match (expected, bearer(req)) {
        (Some(expected), Some(given)) if same_secret(expected, given) => Ok(()),
        (_, None) => Err(AppError::new(
            ErrorCode::Unauthorized,
            "this needs the admin token (Authorization: Bearer <token>)",
        )),
        _ => Err(AppError::new(
            ErrorCode::Unauthorized,
            "the admin token is wrong",
        )),
    }
}

fn no_such_endpoint() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such endpoint")
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares two secrets in time independent of where they differ and of their lengths (both
/// are hashed to the same length first).
pub fn same_secret(expected: &str, given: &str) -> bool {
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_value_whatever_the_length() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-token", "s3cret-tokeN"));
        assert!(!same_secret("s3cret-token", "s3cret"));
        assert!(!same_secret("s3cret-token", ""));
    }
}
