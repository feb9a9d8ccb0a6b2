//! `POST /hooks/git`: a forge's push webhook triggers a sync (202; the sync runs in the
//! background and joins any sync already running). Off (404) while `webhook.secret` is unset.
//! The request must prove its origin (GitHub `X-Hub-Signature-256`, Gitea/Forgejo
//! `X-Gitea-Signature`, GitLab `X-Gitlab-Token`; see [`crate::auth::verify_webhook`]), else
//! 401. Pings, other events, tag pushes and pushes to other branches are acknowledged (200) and
//! ignored. Bodies over 1 MiB are 413. Like every control-plane call it passes the gate
//! ([`crate::auth::gate`]): the admin rate limit, the audit line, `no-store`.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::body::{read_limited, CONTROL_BODY_LIMIT};
use crate::auth::{verify_webhook, ControlCall, Forge};
use crate::error::{AppError, ErrorCode};
use crate::git_sync::Trigger;
use crate::state::AppState;

use super::admin::{git_service, no_such_endpoint};

/// Any method the webhook does not serve: 404 while webhooks are off, else 405.
pub async fn wrong_method(state: web::Data<AppState>) -> HttpResponse {
    match state.settings.webhook.secret {
        None => no_such_endpoint(),
        Some(_) => AppError::method_not_allowed().error_response(),
    }
}

pub async fn git(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(secret) = &state.settings.webhook.secret else {
        return no_such_endpoint();
    };
    let gate = ControlCall::new(&req, &state.settings, "hooks.git");
    match handle(&req, payload, &state, secret).await {
        Ok((response, outcome)) => gate.finish(response, outcome),
        Err(e) => gate.finish(e.error_response(), e.code.as_str()),
    }
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    secret: &crate::config::Secret,
) -> Result<(HttpResponse, &'static str), AppError> {
    let body = read_limited(req, payload, CONTROL_BODY_LIMIT).await?;
    let Some(forge) = verify_webhook(req.headers(), &body, secret) else {
        return Err(AppError::new(
            ErrorCode::Unauthorized,
            "missing or invalid webhook signature",
        ));
    };
    let git = git_service(state)?.clone();
    let ignored = |reason: &str| {
        let response = HttpResponse::Ok().json(json!({"status": "ignored", "reason": reason}));
        Ok((response, "ignored"))
    };
    let push = match event(req, forge) {
        Event::Push => push_ref(req, &body),
        Event::Ping => return ignored("ping"),
        Event::Other => return ignored("not a push event"),
    };
    let branch = match push.as_deref().map(classify_ref) {
        Some(Ref::Branch(branch)) => Some(branch),
        Some(Ref::Other) => return ignored("not a branch push"),
        None => None,
    };
    if let (Some(pushed), Some(followed)) = (&branch, git.branch()) {
        if *pushed != followed {
            return ignored("push to another branch");
        }
    }
    tokio::spawn(async move {
        // The outcome is logged and kept in the status by the sync itself.
        let _ = git.sync(Trigger::Webhook).await;
    });
    let response = HttpResponse::Accepted().json(json!({"status": "accepted", "branch": branch}));
    Ok((response, "accepted"))
}

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Push,
    Ping,
    Other,
}

/// The event a forge says it sends; a request without an event header counts as a push.
fn event(req: &HttpRequest, forge: Forge) -> Event {
    let names: &[&str] = match forge {
        Forge::GitHub => &["x-github-event"],
        Forge::Gitea => &["x-gitea-event", "x-forgejo-event", "x-gogs-event"],
        Forge::GitLab => &["x-gitlab-event"],
    };
    let Some(kind) = names
        .iter()
        .find_map(|name| req.headers().get(*name))
        .and_then(|v| v.to_str().ok())
    else {
        return Event::Push;
    };
    match kind.trim().to_ascii_lowercase().as_str() {
        "push" | "push hook" => Event::Push,
        "ping" => Event::Ping,
        _ => Event::Other,
    }
}

/// The `ref` a push names, from a JSON body or GitHub's form-encoded `payload=` body.
fn push_ref(req: &HttpRequest, body: &[u8]) -> Option<String> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let json: serde_json::Value = if is_form {
        let payload = form_urlencoded::parse(body)
            .find(|(k, _)| k == "payload")?
            .1;
        serde_json::from_str(&payload).ok()?
    } else {
        serde_json::from_slice(body).ok()?
    };
    json.get("ref")?.as_str().map(String::from)
}

#[derive(Debug, PartialEq, Eq)]
enum Ref {
    Branch(String),
    Other,
}

fn classify_ref(name: &str) -> Ref {
    match name.strip_prefix("refs/heads/") {
        Some(branch) => Ref::Branch(branch.to_string()),
        None => Ref::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn refs_and_events() {
        assert_eq!(classify_ref("refs/heads/main"), Ref::Branch("main".into()));
        assert_eq!(
            classify_ref("refs/heads/feature/x"),
            Ref::Branch("feature/x".into())
        );
        assert_eq!(classify_ref("refs/tags/v1"), Ref::Other);
        let req = |k: &str, v: &str| {
            TestRequest::default()
                .insert_header((k, v))
                .to_http_request()
        };
        assert_eq!(
            event(&req("X-GitHub-Event", "push"), Forge::GitHub),
            Event::Push
        );
        assert_eq!(
            event(&req("X-GitHub-Event", "ping"), Forge::GitHub),
            Event::Ping
        );
        assert_eq!(
            event(&req("X-GitHub-Event", "issues"), Forge::GitHub),
            Event::Other
        );
        assert_eq!(
            event(&req("X-Gitlab-Event", "Push Hook"), Forge::GitLab),
            Event::Push
        );
        assert_eq!(
            event(&req("X-Gitea-Event", "push"), Forge::Gitea),
            Event::Push
        );
        assert_eq!(
            event(&TestRequest::default().to_http_request(), Forge::GitLab),
            Event::Push
        );
    }

    #[test]
    fn the_ref_comes_from_json_or_a_form_payload() {
        let json = TestRequest::default().to_http_request();
        assert_eq!(
            push_ref(&json, br#"{"ref":"refs/heads/main"}"#).as_deref(),
            Some("refs/heads/main")
        );
        assert_eq!(push_ref(&json, b"not json"), None);
        let form = TestRequest::default()
            .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .to_http_request();
        assert_eq!(
            push_ref(&form, b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fdev%22%7D").as_deref(),
            Some("refs/heads/dev")
        );
    }
}
