//! Which forge signed a webhook: GitHub's and Gitea/Forgejo's HMAC-SHA256 signatures are checked
//! with `hmac`'s constant-time verification, GitLab's token with [`secrets_equal`].

use actix_web::http::header::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

use super::token::secrets_equal;

/// The forge a webhook request proved it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    /// Gitea, Forgejo and Gogs sign alike.
    Gitea,
    GitLab,
}

/// Which forge signed `body` with `secret`, if any header proves it: GitHub's
/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`, Gitea/Forgejo's `X-Gitea-Signature`
/// (also `X-Forgejo-Signature`, `X-Gogs-Signature`: bare hex HMAC-SHA256), or GitLab's
/// `X-Gitlab-Token: <secret>`.
pub fn verify_webhook(headers: &HeaderMap, body: &[u8], secret: &Secret) -> Option<Forge> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(signature) = header("x-hub-signature-256") {
        if let Some(hex) = signature.trim().strip_prefix("sha256=") {
            if hmac_matches(secret, body, hex) {
                return Some(Forge::GitHub);
            }
        }
    }
    for name in [
        "x-gitea-signature",
        "x-forgejo-signature",
        "x-gogs-signature",
    ] {
        if header(name).is_some_and(|hex| hmac_matches(secret, body, hex.trim())) {
            return Some(Forge::Gitea);
        }
    }
    if header("x-gitlab-token")
        .is_some_and(|token| secrets_equal(token.as_bytes(), secret.expose().as_bytes()))
    {
        return Some(Forge::GitLab);
    }
    None
}

fn hmac_matches(secret: &Secret, body: &[u8], signature_hex: &str) -> bool {
    let Ok(signature) = hex::decode(signature_hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn secret(s: &str) -> Secret {
        Secret::new(s.into()).unwrap()
    }

    fn github_signature(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn webhook_signatures_of_each_forge() {
        let s = secret("hook");
        let body = br#"{"ref":"refs/heads/main"}"#;
        let verify = |pairs: &[(&str, String)]| {
            let mut req = TestRequest::default();
            for (k, v) in pairs {
                req = req.insert_header((*k, v.as_str()));
            }
            verify_webhook(req.to_http_request().headers(), body, &s)
        };
        let good = github_signature("hook", body);
        let bad = github_signature("other", body);
        assert_eq!(
            verify(&[("X-Hub-Signature-256", good.clone())]),
            Some(Forge::GitHub)
        );
        assert_eq!(verify(&[("X-Hub-Signature-256", bad)]), None);
        let gitea = good.trim_start_matches("sha256=").to_string();
        assert_eq!(
            verify(&[("X-Gitea-Signature", gitea.clone())]),
            Some(Forge::Gitea)
        );
        assert_eq!(
            verify(&[("X-Forgejo-Signature", gitea)]),
            Some(Forge::Gitea)
        );
        assert_eq!(verify(&[("X-Gitea-Signature", "zz".into())]), None);
        assert_eq!(
            verify(&[("X-Gitlab-Token", "hook".into())]),
            Some(Forge::GitLab)
        );
        assert_eq!(verify(&[("X-Gitlab-Token", "hoo".into())]), None);
        assert_eq!(verify(&[]), None);
    }
}
