//! The gate of the control plane: every endpoint that accepts the admin token or the webhook
//! secret (`/admin/`, `/hooks/`, goimgserver's `/cmd/`, `/srcset/` while it signs URLs, and the
//! studio's `/api/` whenever a token is presented or needed) passes it. The front door asks [`ControlPlane::governs`] before
//! routing and charges those calls to `limits.admin_per_minute` and caps their bodies
//! ([`super::body`]); the handlers check the token ([`super::AdminToken`]) and end each call
//! with [`ControlCall::finish`]: the audit line and `Cache-Control: no-store`.

use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION, CACHE_CONTROL};
use actix_web::HttpRequest;
use actix_web::{HttpResponse, ResponseError};
use ipnet::IpNet;

use crate::config::Settings;
use crate::error::AppError;
use crate::grammar::{under, API_PREFIX, API_SIGN, CONTROL_PREFIXES, SRCSET_PREFIX};

use super::audit;

/// The studio's JSON endpoints: a control-plane call when a token is presented or needed.
const STUDIO_API: &str = API_PREFIX;
/// The studio's actions for the admin only.
const STUDIO_ADMIN_ACTIONS: [&str; 1] = [API_SIGN];

/// Which requests are control-plane calls, decided from the routed path and the headers.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    /// `ui.require_token`: the studio's data asks for the token too.
    studio_data_needs_token: bool,
    /// `security.signing_key` is set: `/srcset` mints signed URLs, for the admin only.
    srcset_signs: bool,
}

impl ControlPlane {
    pub fn new(settings: &Settings) -> Self {
        Self {
            studio_data_needs_token: settings.ui.require_token,
            srcset_signs: settings.security.signing_key.is_some(),
        }
    }

    /// Whether a request to `path` (decoded, as the router sees it) is a control-plane call.
    /// An anonymous read of the studio's open data (no `Authorization`, no token needed) is not:
    /// it tries no secret.
    pub fn governs(&self, path: &str, headers: &HeaderMap) -> bool {
        if CONTROL_PREFIXES.iter().any(|p| under(path, p)) {
            return true;
        }
        if under(path, SRCSET_PREFIX) {
            return self.srcset_signs;
        }
        under(path, STUDIO_API)
            && (headers.contains_key(AUTHORIZATION)
                || self.studio_data_needs_token
                || STUDIO_ADMIN_ACTIONS.iter().any(|p| under(path, p)))
    }

    /// The action an audit line names for a call refused before routing (`admin`, `api`, ...).
    pub fn area(path: &str) -> &str {
        path.trim_start_matches('/').split('/').next().unwrap_or("")
    }
}

/// One call through the gate; [`finish`](Self::finish) writes its audit line and marks the
/// response `no-store`.
pub struct ControlCall<'a> {
    req: &'a HttpRequest,
    trusted: &'a [IpNet],
    action: &'a str,
}

impl<'a> ControlCall<'a> {
    pub fn new(req: &'a HttpRequest, settings: &'a Settings, action: &'a str) -> Self {
        Self {
            req,
            trusted: &settings.server.trusted_proxies,
            action,
        }
    }

    /// Ends the call with `response`; `outcome` is what the audit line says (`ok`, `denied`,
    /// an error code).
    pub fn finish(self, response: HttpResponse, outcome: &str) -> HttpResponse {
        audit(
            self.req,
            self.trusted,
            self.action,
            response.status(),
            outcome,
        );
        no_store(response)
    }

    /// Ends the call with a handler's result: `ok`, or the error's code as the outcome.
    pub fn finish_result(self, result: Result<HttpResponse, AppError>) -> HttpResponse {
        match result {
            Ok(response) => self.finish(response, "ok"),
            Err(e) => self.finish(e.error_response(), e.code.as_str()),
        }
    }
}

/// Marks a control-plane answer as never to be stored by a cache.
pub fn no_store(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadOptions;
    use actix_web::http::header::HeaderName;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn what_the_gate_governs() {
        let open = ControlPlane::new(&Settings::load(&LoadOptions::default()).unwrap());
        let none = headers(&[]);
        let token = headers(&[("authorization", "Bearer x")]);
        for path in [
            "/admin/cache/stats",
            "/hooks/git",
            "/cmd/clear",
            "/cmd",
            "/api/sign",
        ] {
            assert!(open.governs(path, &none), "{path}");
        }
        assert!(!open.governs("/api/tree", &none), "anonymous open data");
        assert!(open.governs("/api/tree", &token), "a token is tried");
        assert!(open.governs("/api/status", &token));
        assert!(!open.governs("/img/a.jpg", &token));
        assert!(!open.governs("/apis", &token));
        assert!(
            !open.governs("/srcset/a.jpg", &token),
            "public without signing"
        );
        let locked = ControlPlane {
            studio_data_needs_token: true,
            srcset_signs: true,
        };
        assert!(locked.governs("/api/tree", &none));
        assert!(locked.governs("/srcset/a.jpg", &none), "mints signed URLs");
        assert!(!locked.governs("/srcsets", &none));
        assert_eq!(ControlPlane::area("/api/tree"), "api");
        assert_eq!(ControlPlane::area("/cmd/clear"), "cmd");
    }
}
