//! `GET /info/{path}`: the source's size, format, bytes and content identity as JSON. The path is
//! resolved by the same rules as `/img/` (see [`Delivery::info`](crate::delivery::Delivery::info));
//! `placeholder=1` adds the image's placeholders.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::delivery::InfoQuery;
use crate::error::AppError;
use crate::grammar::{below, INFO_PREFIX};
use crate::state::AppState;

pub async fn info(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let raw_path = below(req.uri().path(), INFO_PREFIX).ok_or_else(AppError::not_found)?;
    let admission = super::render_admission(&req);
    let query = InfoQuery {
        request_path: req.uri().path(),
        raw_path,
        raw_query: req.query_string(),
        admission: &admission,
    };
    let info = state.delivery.info(query).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(info))
}
