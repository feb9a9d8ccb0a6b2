//! The admin API under `/admin/`: git pull and status, cache clear and stats. Every call passes
//! the control plane's gate ([`crate::auth::gate`]): it needs `Authorization: Bearer
//! <admin.token>`; with no token configured the API does not exist (404), a wrong or missing
//! token is 401, and each call leaves an audit line (client IP, action, outcome).

use std::future::Future;

use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;

use crate::auth::body::{announced_over, read_limited, too_large, CONTROL_BODY_LIMIT};
use crate::auth::{AdminToken, ControlCall};
use crate::cache::ClearScope;
use crate::error::{AppError, ErrorCode};
use crate::git_sync::{GitSync, Trigger};
use crate::source::{PathError, RelPath};
use crate::state::AppState;

pub(crate) fn no_such_endpoint() -> HttpResponse {
    AppError::no_such_endpoint().error_response()
}

/// Runs `call` when the token matches, answering 404/401 otherwise; audits the outcome.
pub(crate) async fn guarded(
    req: &HttpRequest,
    state: &AppState,
    action: &str,
    call: impl Future<Output = Result<HttpResponse, AppError>>,
) -> HttpResponse {
    let gate = ControlCall::new(req, &state.settings, action);
    match AdminToken::of(req, &state.settings) {
        AdminToken::NotConfigured => no_such_endpoint(),
        AdminToken::Absent | AdminToken::Wrong => gate.finish(unauthorized(), "denied"),
        AdminToken::Right => {
            // Endpoints that ignore their body still refuse a huge one.
            if announced_over(req.headers(), CONTROL_BODY_LIMIT) {
                return gate.finish_result(Err(too_large(CONTROL_BODY_LIMIT)));
            }
            gate.finish_result(call.await)
        }
    }
}

pub(crate) fn unauthorized() -> HttpResponse {
    let mut response = AppError::new(
        ErrorCode::Unauthorized,
        "missing or wrong admin token (Authorization: Bearer <admin.token>)",
    )
    .error_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Any method an admin route does not serve: 404 while the API is off, else 405.
pub async fn wrong_method(state: web::Data<AppState>) -> HttpResponse {
    match state.settings.admin.token {
        None => no_such_endpoint(),
        Some(_) => AppError::method_not_allowed().error_response(),
    }
}

pub(crate) fn git_service(state: &AppState) -> Result<&std::sync::Arc<GitSync>, AppError> {
    state.git.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::NotAGitRepository,
            "the source folder is not a git repository",
        )
    })
}

pub async fn git_pull(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    guarded(&req, &state, "git.pull", async {
        let report = git_service(&state)?.sync(Trigger::Admin).await?;
        Ok(HttpResponse::Ok().json(&*report))
    })
    .await
}

pub async fn git_status(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    guarded(&req, &state, "git.status", async {
        Ok(HttpResponse::Ok().json(git_service(&state)?.status()))
    })
    .await
}

pub async fn cache_stats(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    guarded(&req, &state, "cache.stats", async {
        Ok(HttpResponse::Ok().json(state.delivery.cache().stats()))
    })
    .await
}

pub async fn cache_clear(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    guarded(&req, &state, "cache.clear", async {
        let body = read_limited(&req, payload, CONTROL_BODY_LIMIT).await?;
        let scope = clear_scope(&body)?;
        let outcome = state.delivery.cache().clear(&scope).await;
        Ok(HttpResponse::Ok().json(outcome))
    })
    .await
}

/// `{"prefix":"cats/"}` or `{"path":"cats/a.jpg"}`; an empty body or `{}` clears everything.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearRequest {
    prefix: Option<String>,
    path: Option<String>,
}

fn clear_scope(body: &[u8]) -> Result<ClearScope, AppError> {
    let request: ClearRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ClearRequest::default()
    } else {
        serde_json::from_slice(body).map_err(|_| {
            AppError::invalid(
                "the body must be empty or JSON: {\"prefix\":\"cats/\"} or {\"path\":\"cats/a.jpg\"}",
            )
        })?
    };
    let parse = |field: &str, text: &str| {
        RelPath::parse(text).map_err(|e| match e {
            PathError::Malformed(why) => AppError::invalid(format!("{field}: {why}")),
            PathError::Hidden => AppError::invalid(format!("{field} names a hidden path")),
        })
    };
    match (request.prefix, request.path) {
        (Some(_), Some(_)) => Err(AppError::invalid("give either prefix or path, not both")),
        (Some(prefix), None) => {
            let prefix = parse("prefix", &prefix)?;
            Ok(if prefix.is_root() {
                ClearScope::All
            } else {
                ClearScope::Prefix(prefix)
            })
        }
        (None, Some(path)) => {
            let path = parse("path", &path)?;
            if path.is_root() {
                return Err(AppError::invalid("path must name a file"));
            }
            Ok(ClearScope::Path(path))
        }
        (None, None) => Ok(ClearScope::All),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(body: &str) -> Result<ClearScope, ErrorCode> {
        clear_scope(body.as_bytes()).map_err(|e| e.code)
    }

    #[test]
    fn clear_bodies() {
        assert_eq!(scope(""), Ok(ClearScope::All));
        assert_eq!(scope("{}"), Ok(ClearScope::All));
        assert_eq!(scope(r#"{"prefix":"/"}"#), Ok(ClearScope::All));
        assert_eq!(
            scope(r#"{"prefix":"cats/"}"#),
            Ok(ClearScope::Prefix(RelPath::parse("cats").unwrap()))
        );
        assert_eq!(
            scope(r#"{"path":"cats/a.jpg"}"#),
            Ok(ClearScope::Path(RelPath::parse("cats/a.jpg").unwrap()))
        );
        for bad in [
            r#"{"path":"../etc/passwd"}"#,
            r#"{"path":".git/config"}"#,
            r#"{"prefix":"a//b"}"#,
            r#"{"path":""}"#,
            r#"{"prefix":"a","path":"b"}"#,
            r#"{"paths":"a"}"#,
            r#"{"path":1}"#,
            "not json",
        ] {
            assert_eq!(scope(bad), Err(ErrorCode::InvalidParameter), "{bad}");
        }
    }
}
