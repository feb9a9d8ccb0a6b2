//! The studio page's shell: `GET`/`HEAD /` and `/ui/{name}` (the files are [`crate::ui::assets`]).
//! Open whenever the page is on ([`crate::ui::access`]); its JSON data is [`super::api`].

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{AppError, ErrorCode};
use crate::state::AppState;
use crate::ui::access::{check, Need};
use crate::ui::assets;

/// `GET`/`HEAD /`: the page.
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    check(&state.settings, &req, Need::Page)?;
    Ok(assets::index(&req))
}

/// `GET`/`HEAD /ui/{name}`: its stylesheet, script and icon.
pub async fn asset(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    check(&state.settings, &req, Need::Page)?;
    let name = req.match_info().get("name").unwrap_or("");
    assets::file(&req, name).ok_or_else(|| AppError::new(ErrorCode::NotFound, "no such file"))
}
