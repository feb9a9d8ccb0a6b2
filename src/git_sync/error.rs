//! Why a sync did not happen. Every message is written here, never copied from libgit2, so it
//! can be shown to clients and kept in the status without leaking paths, URLs or credentials
//! (the raw cause is logged, scrubbed, where the failure happens).

use std::time::Duration;

use crate::error::{AppError, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Neither `source.git.remote` nor an `origin` in the checkout.
    #[error("no remote to sync from: set source.git.remote or add an origin to the checkout")]
    NoRemote,
    /// The remote's history does not contain the published commit and `on_diverge = "refuse"`.
    #[error(
        "the remote history was rewritten (published {published:.7}, remote {remote:.7}) and source.git.on_diverge is \"refuse\""
    )]
    Diverged { published: String, remote: String },
    /// The remote could not be reached, refused the credentials, or lacks the branch.
    #[error("{0}")]
    Remote(String),
    #[error("the fetch did not finish within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// Something local went wrong (repository unreadable, refs not writable).
    #[error("{0}")]
    Local(String),
}

impl SyncError {
    /// The API error code this failure is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            SyncError::NoRemote | SyncError::Diverged { .. } => ErrorCode::Conflict,
            SyncError::Remote(_) => ErrorCode::GitRemoteError,
            SyncError::Timeout(_) => ErrorCode::GitTimeout,
            SyncError::Local(_) => ErrorCode::Internal,
        }
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        let code = e.code();
        let error = AppError::new(code, e.to_string());
        match code {
            ErrorCode::Internal => error.with_cause(e),
            _ => error,
        }
    }
}
