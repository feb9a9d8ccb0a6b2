//! The one mapping from failures to HTTP: every handler returns [`AppError`], which carries a
//! stable machine code, an HTTP status and a message safe to show. Server-side causes (5xx) are
//! logged here and replaced by a generic message; paths and internals never reach a client.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The error codes of the API, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidParameter,
    Unauthorized,
    Forbidden,
    BadSignature,
    NotFound,
    MethodNotAllowed,
    NotAGitRepository,
    Conflict,
    PayloadTooLarge,
    UriTooLong,
    HeadersTooLarge,
    UnsupportedSource,
    SourceTooLarge,
    RateLimited,
    Internal,
    GitRemoteError,
    Overloaded,
    RenderTimeout,
    GitTimeout,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidParameter => "invalid_parameter",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::BadSignature => "bad_signature",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotAGitRepository => "not_a_git_repository",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::UnsupportedSource => "unsupported_source",
            Self::SourceTooLarge => "source_too_large",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::GitRemoteError => "git_remote_error",
            Self::Overloaded => "overloaded",
            Self::RenderTimeout => "render_timeout",
            Self::GitTimeout => "git_timeout",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidParameter => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::BadSignature => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAGitRepository | Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UnsupportedSource | Self::SourceTooLarge => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::GitRemoteError => StatusCode::BAD_GATEWAY,
            Self::Overloaded | Self::RenderTimeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::GitTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// A failure on its way to the client.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct AppError {
    pub code: ErrorCode,
    /// Shown to the client for 4xx; for 5xx a generic text is shown instead.
    pub message: String,
    /// Sent as `Retry-After` (429, 503).
    pub retry_after: Option<Duration>,
    /// The server-side cause, logged for 5xx, never sent.
    #[source]
    pub cause: Option<anyhow::Error>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "no such image")
    }

    /// A path (or a disabled feature's path) that nothing answers: the same 404 everywhere, so
    /// an endpoint that is off cannot be told from one that never existed.
    pub fn no_such_endpoint() -> Self {
        Self::new(ErrorCode::NotFound, "no such endpoint")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(ErrorCode::MethodNotAllowed, "method not allowed")
    }

    /// A 500 whose cause is logged and whose body says nothing about it.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(ErrorCode::Internal, "internal error")
        }
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    fn public_message(&self) -> &str {
        match self.code {
            ErrorCode::Internal => "internal error",
            _ => &self.message,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// The JSON body every error response carries.
pub fn error_body(code: ErrorCode, message: &str) -> String {
    serde_json::to_string(&ErrorBody {
        error: ErrorDetail {
            code: code.as_str(),
            message,
        },
    })
    .unwrap_or_else(|_| {
        String::from("{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}")
    })
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            match &self.cause {
                Some(cause) => tracing::error!(
                    code = self.code.as_str(),
                    error = format!("{cause:#}"),
                    "request failed"
                ),
                None => {
                    tracing::warn!(code = self.code.as_str(), message = %self.message, "request failed")
                }
            }
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/json"));
        if let Some(after) = self.retry_after {
            // Whole seconds, rounded up: a client retrying early would be refused again.
            let secs = after.as_millis().div_ceil(1000).max(1);
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.body(error_body(self.code, self.public_message()))
    }
}

impl From<crate::grammar::RequestError> for AppError {
    fn from(e: crate::grammar::RequestError) -> Self {
        match e {
            crate::grammar::RequestError::Invalid(message) => AppError::invalid(message),
        }
    }
}

impl From<crate::source::PathError> for AppError {
    fn from(e: crate::source::PathError) -> Self {
        match e {
            crate::source::PathError::Malformed(why) => AppError::invalid(why),
            crate::source::PathError::Hidden => AppError::not_found(),
        }
    }
}

impl From<crate::source::SourceError> for AppError {
    fn from(e: crate::source::SourceError) -> Self {
        use crate::source::SourceError;
        match e {
            SourceError::NotFound | SourceError::Refused => AppError::not_found(),
            SourceError::Path(p) => p.into(),
            SourceError::TooLarge { limit } => AppError::new(
                ErrorCode::SourceTooLarge,
                format!("the source image is larger than {limit} bytes"),
            ),
            SourceError::Io(cause) => AppError::internal(cause),
        }
    }
}

impl From<crate::pipeline::PipelineError> for AppError {
    fn from(e: crate::pipeline::PipelineError) -> Self {
        use crate::pipeline::PipelineError;
        match e {
            PipelineError::Unsupported(why) => AppError::new(
                ErrorCode::UnsupportedSource,
                format!("the source is not a supported image: {why}"),
            ),
            PipelineError::TooLarge(why) => AppError::new(
                ErrorCode::SourceTooLarge,
                format!("the source image is too large: {why}"),
            ),
            PipelineError::OutputTooLarge(why) | PipelineError::BadRequest(why) => {
                AppError::new(ErrorCode::InvalidParameter, why)
            }
            PipelineError::Internal(cause) => AppError::internal(cause),
        }
    }
}
