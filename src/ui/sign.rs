//! Signing the URLs the page hands out when `security.signing_key` is set: `s` is the unpadded
//! base64url HMAC-SHA256 of `PATH?QUERY`, where QUERY is the URL's parameters other than `s`
//! sorted by name, then value (as written in the URL, percent-encoding untouched).
//! [`signed_url`] is the one entry point, so the service's own signing code can replace it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `url` (`/img/a.jpg?w=400`) with a fresh `s` for `key`; an `s` already present is replaced.
/// The other parameters keep their order, so the URL reads as the user wrote it.
pub fn signed_url(key: &[u8], url: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && name_of(p) != "s")
        .collect();
    let mut sorted = params.clone();
    sorted.sort_by(|a, b| {
        let (an, av) = a.split_once('=').unwrap_or((a, ""));
        let (bn, bv) = b.split_once('=').unwrap_or((b, ""));
        (an, av).cmp(&(bn, bv))
    });
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(path.as_bytes());
    mac.update(b"?");
    mac.update(sorted.join("&").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let mut out = String::with_capacity(url.len() + 48);
    out.push_str(path);
    out.push('?');
    for p in &params {
        out.push_str(p);
        out.push('&');
    }
    out.push_str("s=");
    out.push_str(&signature);
    out
}

fn name_of(param: &str) -> &str {
    param.split_once('=').map_or(param, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s_of(url: &str) -> &str {
        url.rsplit_once("s=").unwrap().1
    }

    #[test]
    fn signature_is_the_hmac_of_the_sorted_query() {
        let url = signed_url(b"key", "/img/a.jpg?w=400&fmt=webp");
        assert!(url.starts_with("/img/a.jpg?w=400&fmt=webp&s="), "{url}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"/img/a.jpg?fmt=webp&w=400");
        assert_eq!(
            s_of(&url),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert_eq!(s_of(&url).len(), 43, "unpadded base64 of 32 bytes");
    }

    #[test]
    fn order_and_an_old_signature_do_not_matter() {
        let a = signed_url(b"key", "/img/a.jpg?w=400&fmt=webp");
        let b = signed_url(b"key", "/img/a.jpg?s=stale&fmt=webp&w=400");
        assert_eq!(s_of(&a), s_of(&b));
        assert_eq!(b.matches("s=").count(), 1);
    }

    #[test]
    fn key_path_and_values_all_count() {
        let base = signed_url(b"key", "/img/a.jpg?w=400");
        for other in [
            signed_url(b"yek", "/img/a.jpg?w=400"),
            signed_url(b"key", "/img/b.jpg?w=400"),
            signed_url(b"key", "/img/a.jpg?w=401"),
        ] {
            assert_ne!(s_of(&base), s_of(&other));
        }
    }
}
