//! The admin token check, the one implementation every control-plane endpoint uses: the
//! credentials of `Authorization: Bearer <token>` compared with `admin.token` as SHA-256
//! digests with `subtle`, so neither content nor length leaks through timing.

use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Secret, Settings};

/// What a request's credentials prove about the admin token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminToken {
    /// No `admin.token` is configured: nothing can match, and admin-only endpoints do not exist.
    NotConfigured,
    /// The request presents no bearer token.
    Absent,
    /// The request presents a token (or an `Authorization` header) that is not the admin token.
    Wrong,
    Right,
}

impl AdminToken {
    /// The verdict for `req` under `settings`.
    pub fn of(req: &HttpRequest, settings: &Settings) -> Self {
        let Some(token) = &settings.admin.token else {
            return Self::NotConfigured;
        };
        if req.headers().get(AUTHORIZATION).is_none() {
            return Self::Absent;
        }
        match bearer_matches(req, token) {
            true => Self::Right,
            false => Self::Wrong,
        }
    }
}

/// Whether the request carries `Authorization: Bearer <token>`.
pub fn bearer_matches(req: &HttpRequest, token: &Secret) -> bool {
    let Some(presented) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials)
    else {
        return false;
    };
    secrets_equal(presented.as_bytes(), token.expose().as_bytes())
}

/// The credentials of a `Bearer` authorization (the scheme is case-insensitive).
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
        .filter(|c| !c.is_empty())
}

/// Constant-time equality of two secrets of any lengths.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let token = Secret::new("s3cret-token-of-16+".into()).unwrap();
        let req = |v: &str| {
            TestRequest::default()
                .insert_header((AUTHORIZATION, v))
                .to_http_request()
        };
        assert!(bearer_matches(&req("Bearer s3cret-token-of-16+"), &token));
        assert!(bearer_matches(&req("bearer s3cret-token-of-16+"), &token));
        assert!(!bearer_matches(&req("Bearer s3cret-token-of-16"), &token));
        assert!(!bearer_matches(&req("Bearer s3cret-token-of-16++"), &token));
        assert!(!bearer_matches(&req("Basic s3cret-token-of-16+"), &token));
        assert!(!bearer_matches(&req("Bearer "), &token));
        assert!(!bearer_matches(
            &TestRequest::default().to_http_request(),
            &token
        ));
    }

    #[test]
    fn secrets_compare_by_value_whatever_the_length() {
        assert!(secrets_equal(b"s3cret-token", b"s3cret-token"));
        assert!(!secrets_equal(b"s3cret-token", b"s3cret-tokeN"));
        assert!(!secrets_equal(b"s3cret-token", b"s3cret"));
        assert!(!secrets_equal(b"s3cret-token", b""));
    }
}
