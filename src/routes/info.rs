//! `GET /info/{path}`: the source's size, format, bytes and content identity as JSON. The path is
//! resolved by the same rules as `/img/` (see [`Delivery::info`](crate::delivery::Delivery::info)).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::AppError;
use crate::grammar::{below, INFO_PREFIX};
use crate::state::AppState;

pub async fn info(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let raw_path = below(req.uri().path(), INFO_PREFIX).ok_or_else(AppError::not_found)?;
    let info = state.delivery.info(raw_path).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(info))
}
