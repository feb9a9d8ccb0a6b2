//! Who may reach what the studio serves. The page's shell (HTML, CSS, JS) names no file, so it is
//! open whenever the page is on; its data (`/api/status`, `/api/tree`) reveals file names and so
//! asks for the admin token when `ui.require_token` is set; its admin actions (`/api/sign`)
//! always do. A page that is off, or an admin action with no token configured, answers 404 as if
//! it did not exist. The token is checked by the control plane's gate ([`crate::auth`]): a
//! request that presents one, or needs one, is charged to `limits.admin_per_minute` by the front
//! door and audited by the handler ([`Visit::audited`]).

use actix_web::HttpRequest;

use crate::auth::AdminToken;
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

/// Who is calling, as far as what the studio hands out depends on it: an anonymous caller only
/// gets URLs it could fetch without the studio ([`crate::ui::links`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    /// The request carries the admin token.
    Admin,
}

/// The gate's verdict on one studio request.
#[derive(Debug)]
pub struct Visit {
    /// Who may proceed, or the error to answer with.
    pub caller: Result<Caller, AppError>,
    /// What the request's credentials proved.
    pub token: AdminToken,
    /// Whether the token was tried or needed (the call leaves an audit line).
    pub audited: bool,
}

/// `Ok` with the caller when the request may reach `need`; otherwise the error to answer with.
pub fn check(settings: &Settings, req: &HttpRequest, need: Need) -> Result<Caller, AppError> {
    visit(settings, req, need).caller
}

/// The full verdict on a request for `need`.
pub fn visit(settings: &Settings, req: &HttpRequest, need: Need) -> Visit {
    let token = AdminToken::of(req, settings);
    let verdict = |caller, audited| Visit {
        caller,
        token,
        audited,
    };
    if !settings.ui.enabled {
        return verdict(Err(AppError::no_such_endpoint()), false);
    }
    match need {
        Need::Page => verdict(Ok(Caller::Anonymous), false),
        Need::Admin if token == AdminToken::NotConfigured => {
            verdict(Err(AppError::no_such_endpoint()), false)
        }
        Need::Admin => verdict(required(token), true),
        // With `require_token` but no token configured nothing can match: the page stays locked
        // rather than open.
        Need::Data if settings.ui.require_token => verdict(required(token), true),
        // Open data: a wrong token is served as anonymous (a stale token in the page must not
        // lock it), but it was a guess all the same.
        Need::Data => match token {
            AdminToken::Right => verdict(Ok(Caller::Admin), true),
            AdminToken::Wrong => verdict(Ok(Caller::Anonymous), true),
            AdminToken::Absent | AdminToken::NotConfigured => verdict(Ok(Caller::Anonymous), false),
        },
    }
}

fn required(token: AdminToken) -> Result<Caller, AppError> {
    match token {
        AdminToken::Right => Ok(Caller::Admin),
        AdminToken::Absent => Err(AppError::new(
            ErrorCode::Unauthorized,
            "this needs the admin token (Authorization: Bearer <token>)",
        )),
        AdminToken::Wrong | AdminToken::NotConfigured => Err(AppError::new(
            ErrorCode::Unauthorized,
            "the admin token is wrong",
        )),
    }
}
