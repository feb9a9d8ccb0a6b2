//! Thin HTTP handlers: each adapts a request to a service call and the result to a response.
//! No image logic lives here.

pub mod admin;
pub mod api;
pub mod goimgserver_cmd;
pub mod health;
pub mod hooks;
pub mod image;
pub mod info;
pub mod metrics;
pub mod srcset;
pub mod studio;

use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use crate::error::AppError;
use crate::limits::RenderAdmission;

/// For any method a route does not serve.
pub async fn method_not_allowed() -> Result<HttpResponse, AppError> {
    Err(AppError::method_not_allowed())
}

/// For any path no route serves.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::no_such_endpoint())
}

/// What the front door granted this image request to spend on renders (the client's render
/// rate and heavy slots); unlimited where no front door runs.
fn render_admission(req: &HttpRequest) -> RenderAdmission {
    req.extensions()
        .get::<RenderAdmission>()
        .cloned()
        .unwrap_or_default()
}
