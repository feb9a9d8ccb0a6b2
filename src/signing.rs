//! Signed URLs. With `security.signing_key` set, every transforming image URL must carry `s`, the
//! unpadded base64url HMAC-SHA256 (keyed with the signing key) of the message `PATH?QUERY`:
//!
//! - PATH is the request path exactly as sent, from `/img/` on, percent-encoding kept;
//! - QUERY is every query parameter but `s`, as sent (still encoded), sorted by name then value
//!   (bytewise) and joined as `name=value` with `&`; empty when there are none (the `?` stays).
//!
//! Originals (no transform) need no signature unless `security.sign_originals` is set. The
//! signature is checked in constant time. [`UrlSigner::sign_url`] is what `imgserver sign` runs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::SecuritySettings;
use crate::error::{AppError, ErrorCode};
use crate::grammar::IMG_PREFIX;

type HmacSha256 = Hmac<Sha256>;

/// The name of the signature parameter.
pub const SIGNATURE_PARAM: &str = "s";

/// Why a request's signature was not accepted (HTTP 403 `bad_signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("this URL must be signed")]
    Missing,
    #[error("the URL signature is wrong")]
    Invalid,
}

impl From<SignatureError> for AppError {
    fn from(e: SignatureError) -> Self {
        AppError::new(ErrorCode::BadSignature, e.to_string())
    }
}

/// Why `imgserver sign` could not sign a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignUrlError {
    #[error("the URL's path must start with /img/")]
    NotAnImageUrl,
    #[error("security.signing_key is not set")]
    NoKey,
}

/// What `imgserver sign <url>` prints: the URL signed with the configured key.
pub fn sign_url_with(security: &SecuritySettings, url: &str) -> Result<String, SignUrlError> {
    let key = security.signing_key.as_ref().ok_or(SignUrlError::NoKey)?;
    UrlSigner::new(key.expose().as_bytes()).sign_url(url.trim())
}

/// The `name=value` pieces of a raw query string, as sent, without empty pieces.
fn raw_params(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
}

/// The signed message for a request path and raw query (`s` left out).
pub fn message(path: &str, raw_query: &str) -> String {
    let mut params: Vec<(&str, &str)> = raw_params(raw_query)
        .filter(|(name, _)| *name != SIGNATURE_PARAM)
        .collect();
    params.sort_unstable();
    let mut message = String::with_capacity(path.len() + raw_query.len() + 1);
    message.push_str(path);
    message.push('?');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            message.push('&');
        }
        message.push_str(name);
        message.push('=');
        message.push_str(value);
    }
    message
}

/// Whether the raw query has a parameter other than the signature.
fn has_transform_params(raw_query: &str) -> bool {
    raw_params(raw_query).any(|(name, _)| name != SIGNATURE_PARAM)
}

/// Signs and checks URLs with one key.
#[derive(Clone)]
pub struct UrlSigner {
    mac: HmacSha256,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(***)")
    }
}

impl UrlSigner {
    pub fn new(key: &[u8]) -> Self {
        Self {
            // HMAC takes keys of any length.
            mac: HmacSha256::new_from_slice(key).expect("HMAC accepts any key length"),
        }
    }

    fn mac_of(&self, path: &str, raw_query: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(message(path, raw_query).as_bytes());
        mac
    }

    /// The value of `s` for this path and query.
    pub fn signature(&self, path: &str, raw_query: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac_of(path, raw_query).finalize().into_bytes())
    }

    /// Checks the `s` of a request: exactly one, unpadded base64url, the right MAC.
    pub fn verify(&self, path: &str, raw_query: &str) -> Result<(), SignatureError> {
        let mut given = raw_params(raw_query).filter(|(name, _)| *name == SIGNATURE_PARAM);
        let (Some((_, signature)), None) = (given.next(), given.next()) else {
            return Err(
                match raw_params(raw_query).any(|(n, _)| n == SIGNATURE_PARAM) {
                    true => SignatureError::Invalid,
                    false => SignatureError::Missing,
                },
            );
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SignatureError::Invalid)?;
        // `verify_slice` compares in constant time.
        self.mac_of(path, raw_query)
            .verify_slice(&bytes)
            .map_err(|_| SignatureError::Invalid)
    }

    /// Signs a URL (`https://host/img/...?...` or `/img/...?...`): any `s` it had is replaced and
    /// the new one appended last.
    pub fn sign_url(&self, url: &str) -> Result<String, SignUrlError> {
        let (url, fragment) = match url.find('#') {
            Some(i) => url.split_at(i),
            None => (url, ""),
        };
        let path_start = match url.find("://") {
            Some(i) => url[i + 3..].find('/').map(|j| i + 3 + j),
            None => Some(0),
        }
        .ok_or(SignUrlError::NotAnImageUrl)?;
        let (origin, target) = url.split_at(path_start);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if !path
            .strip_prefix(IMG_PREFIX)
            .is_some_and(|rest| rest.starts_with('/'))
        {
            return Err(SignUrlError::NotAnImageUrl);
        }
        let kept: Vec<&str> = query
            .split('&')
            .filter(|piece| !piece.is_empty() && piece.split('=').next() != Some(SIGNATURE_PARAM))
            .collect();
        let query = kept.join("&");
        let signature = self.signature(path, &query);
        let separator = if query.is_empty() { "" } else { "&" };
        Ok(format!(
            "{origin}{path}?{query}{separator}{SIGNATURE_PARAM}={signature}{fragment}"
        ))
    }
}

/// When a request needs a signature, per `security.*`.
#[derive(Debug, Clone)]
pub struct SignaturePolicy {
    signer: Option<UrlSigner>,
    sign_originals: bool,
}

impl SignaturePolicy {
    pub fn from_settings(security: &SecuritySettings) -> Self {
        Self {
            signer: security
                .signing_key
                .as_ref()
                .map(|key| UrlSigner::new(key.expose().as_bytes())),
            sign_originals: security.sign_originals,
        }
    }

    /// The signer of the configured key, for the URLs the server hands out.
    pub fn signer(&self) -> Option<&UrlSigner> {
        self.signer.as_ref()
    }

    /// No signatures required.
    pub fn off() -> Self {
        Self {
            signer: None,
            sign_originals: false,
        }
    }

    /// Checks what can be checked before the path is resolved: every request when originals are
    /// signed too, else every request whose query transforms. `Ok(true)` when it was checked.
    pub fn check_query(&self, path: &str, raw_query: &str) -> Result<bool, SignatureError> {
        match &self.signer {
            Some(signer) if self.sign_originals || has_transform_params(raw_query) => {
                signer.verify(path, raw_query).map(|()| true)
            }
            _ => Ok(false),
        }
    }

    /// Checks a request once it is known to transform (path-grammar parameters included).
    pub fn check_transform(
        &self,
        path: &str,
        raw_query: &str,
        transforms: bool,
    ) -> Result<(), SignatureError> {
        match &self.signer {
            Some(signer) if transforms || self.sign_originals => signer.verify(path, raw_query),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sorts_and_drops_the_signature() {
        assert_eq!(
            message("/img/a%20b.jpg", "w=400&fmt=webp&s=xyz&h=3"),
            "/img/a%20b.jpg?fmt=webp&h=3&w=400"
        );
        assert_eq!(message("/img/a.jpg", ""), "/img/a.jpg?");
        assert_eq!(message("/img/a.jpg", "s=1"), "/img/a.jpg?");
        assert_eq!(
            message("/img/a.jpg", "b=2&a=9&a=1&flag&&c=%2F"),
            "/img/a.jpg?a=1&a=9&b=2&c=%2F&flag="
        );
    }

    /// Computed independently: printf '%s' '/img/cats/a.jpg?fmt=webp&w=400' |
    /// openssl dgst -sha256 -hmac 'secret' -binary | base64 | tr '+/' '-_' | tr -d '='
    #[test]
    fn matches_openssl() {
        let signer = UrlSigner::new(b"secret");
        assert_eq!(
            signer.signature("/img/cats/a.jpg", "w=400&fmt=webp"),
            OPENSSL_VECTOR
        );
        // The same with no parameters: the message is "/img/cats/a.jpg?".
        assert_eq!(
            signer.signature("/img/cats/a.jpg", ""),
            "pG2gcmVLyzZlgvLUy9xZL8nOVN1APr9G-N-5eBut32U"
        );
    }
    const OPENSSL_VECTOR: &str = "ya3z4Onq7iy8SbqJDLP454n59nH6o5yR1VxhXG8dYlI";

    #[test]
    fn verify_accepts_any_order_and_refuses_tampering() {
        let signer = UrlSigner::new(b"k");
        let s = signer.signature("/img/a.jpg", "w=10&h=20");
        assert_eq!(
            signer.verify("/img/a.jpg", &format!("h=20&s={s}&w=10")),
            Ok(())
        );
        assert_eq!(
            signer.verify("/img/a.jpg", &format!("h=21&s={s}&w=10")),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify("/img/b.jpg", &format!("h=20&s={s}&w=10")),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify("/img/a.jpg", "h=20&w=10"),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            signer.verify("/img/a.jpg", &format!("h=20&w=10&s={s}&s={s}")),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify("/img/a.jpg", &format!("h=20&w=10&s={s}=")),
            Err(SignatureError::Invalid),
            "padding is not accepted"
        );
        assert_eq!(
            UrlSigner::new(b"other").verify("/img/a.jpg", &format!("h=20&w=10&s={s}")),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn sign_url_forms() {
        let signer = UrlSigner::new(b"k");
        let signed = signer
            .sign_url("https://cdn.example.com/img/a.jpg?w=10&s=old")
            .unwrap();
        let s = signer.signature("/img/a.jpg", "w=10");
        assert_eq!(
            signed,
            format!("https://cdn.example.com/img/a.jpg?w=10&s={s}")
        );
        let s = signer.signature("/img/a.jpg", "");
        assert_eq!(
            signer.sign_url("/img/a.jpg").unwrap(),
            format!("/img/a.jpg?s={s}")
        );
        assert_eq!(
            signer.sign_url("https://cdn.example.com/other/a.jpg"),
            Err(SignUrlError::NotAnImageUrl)
        );
        assert_eq!(
            signer.sign_url("https://cdn.example.com"),
            Err(SignUrlError::NotAnImageUrl)
        );
    }

    #[test]
    fn policy_decides_what_needs_a_signature() {
        let signer = UrlSigner::new(b"k");
        let policy = SignaturePolicy {
            signer: Some(signer.clone()),
            sign_originals: false,
        };
        assert_eq!(policy.check_query("/img/a.jpg", ""), Ok(false));
        assert_eq!(policy.check_query("/img/a.jpg", "s=zz"), Ok(false));
        assert_eq!(
            policy.check_query("/img/a.jpg", "w=1"),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            policy.check_transform("/img/a.jpg/400", "", true),
            Err(SignatureError::Missing)
        );
        assert_eq!(policy.check_transform("/img/a.jpg", "", false), Ok(()));
        let strict = SignaturePolicy {
            signer: Some(signer),
            sign_originals: true,
        };
        assert_eq!(
            strict.check_query("/img/a.jpg", ""),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            SignaturePolicy::off().check_query("/img/a.jpg", "w=1"),
            Ok(false)
        );
    }
}
