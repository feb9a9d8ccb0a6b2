//! goimgserver's commands, `POST /cmd/clear` and `POST /cmd/gitupdate`, for scripts written
//! against it: the same work as `/admin/cache/clear` and `/admin/git/pull`, behind the same
//! admin token, answered in goimgserver's JSON shapes (`success`, `message`, `error`, `code`).
//! Statuses follow the admin API (401, 409, 502, 504), which goimgserver lacked. The commands
//! pass the control plane's gate like the admin API ([`crate::auth::gate`]): its rate limit,
//! token check, body limit, audit line and `no-store`.

use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::auth::body::{announced_over, too_large, CONTROL_BODY_LIMIT};
use crate::auth::{AdminToken, ControlCall};
use crate::cache::ClearScope;
use crate::error::ErrorCode;
use crate::git_sync::{SyncError, Trigger};
use crate::state::AppState;

use super::admin::no_such_endpoint;

/// Longest command name echoed back in an `invalid command` error.
const MAX_ECHOED_NAME: usize = 64;

pub async fn command(
    req: HttpRequest,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let action = match name.as_str() {
        "clear" => "cmd.clear",
        "gitupdate" => "cmd.gitupdate",
        _ => "cmd.invalid",
    };
    let gate = ControlCall::new(&req, &state.settings, action);
    let (response, outcome) = match AdminToken::of(&req, &state.settings) {
        AdminToken::NotConfigured => return no_such_endpoint(),
        AdminToken::Absent | AdminToken::Wrong => {
            let mut response = failure(
                StatusCode::UNAUTHORIZED,
                "missing or wrong admin token (Authorization: Bearer <admin.token>)",
                "UNAUTHORIZED",
            );
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            (response, "denied")
        }
        AdminToken::Right if announced_over(req.headers(), CONTROL_BODY_LIMIT) => {
            let refusal = too_large(CONTROL_BODY_LIMIT);
            (
                failure(refusal.code.status(), &refusal.message, "PAYLOAD_TOO_LARGE"),
                refusal.code.as_str(),
            )
        }
        AdminToken::Right => match name.as_str() {
            "clear" => (clear(&state).await, "ok"),
            "gitupdate" => git_update(&state).await,
            other => {
                let shown: String = other.chars().take(MAX_ECHOED_NAME).collect();
                (
                    failure(
                        StatusCode::BAD_REQUEST,
                        &format!("invalid command: {shown}"),
                        "INVALID_COMMAND",
                    ),
                    ErrorCode::InvalidParameter.as_str(),
                )
            }
        },
    };
    gate.finish(response, outcome)
}

async fn clear(state: &AppState) -> HttpResponse {
    let outcome = state.delivery.cache().clear(&ClearScope::All).await;
    HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Cache cleared successfully",
        "cleared_files": outcome.removed_entries,
        "freed_space": human_bytes(outcome.freed_bytes),
    }))
}

async fn git_update(state: &AppState) -> (HttpResponse, &'static str) {
    let Some(git) = &state.git else {
        return (
            failure(
                ErrorCode::NotAGitRepository.status(),
                "Images directory is not a git repository",
                "GIT_NOT_FOUND",
            ),
            ErrorCode::NotAGitRepository.as_str(),
        );
    };
    match git.sync(Trigger::Admin).await {
        Ok(report) => (
            HttpResponse::Ok().json(json!({
                "success": true,
                "message": "Git update completed",
                "changes": u8::from(report.updated),
                "branch": report.branch,
                "last_commit": &report.to[..7.min(report.to.len())],
            })),
            "ok",
        ),
        Err(e) => {
            let code = e.code();
            // Internal causes are logged by the sync; the client gets no detail.
            let message = match e {
                SyncError::Local(_) => "git update failed".to_string(),
                other => format!("git update failed: {other}"),
            };
            (
                failure(code.status(), &message, "GIT_UPDATE_FAILED"),
                code.as_str(),
            )
        }
    }
}

fn failure(status: StatusCode, error: &str, code: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"success": false, "error": error, "code": code}))
}

/// goimgserver's size text: 1024-based, one decimal above bytes ("512 B", "1.5 KB", "2.0 MB").
fn human_bytes(n: u64) -> String {
    const UNIT: u64 = 1024;
    if n < UNIT {
        return format!("{n} B");
    }
    let (mut divisor, mut exponent) = (UNIT, 0);
    let mut rest = n / UNIT;
    while rest >= UNIT && exponent < 5 {
        divisor *= UNIT;
        exponent += 1;
        rest /= UNIT;
    }
    let unit = ["K", "M", "G", "T", "P", "E"][exponent];
    format!("{:.1} {unit}B", n as f64 / divisor as f64)
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_like_goimgserver() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KB");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(2 * 1024 * 1024), "2.0 MB");
        assert_eq!(human_bytes(3 << 30), "3.0 GB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EB");
    }
}
