//! What `GET /admin/git/status` reports, and the records of past syncs it is made from.

use std::time::SystemTime;

use serde::Serialize;

use crate::config::OnDiverge;
use crate::metrics::SyncOutcome;

/// What started a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Startup,
    Admin,
    Webhook,
    Interval,
}

/// The outcome of the last sync.
#[derive(Debug, Clone, Serialize)]
pub struct SyncRecord {
    /// RFC 3339, UTC.
    pub at: String,
    pub trigger: Trigger,
    pub result: SyncOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub duration_ms: u64,
}

/// The last failure, kept until a later one replaces it.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorRecord {
    pub at: String,
    pub trigger: Trigger,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitStatus {
    /// The commit being served.
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// Without credentials.
    pub remote: Option<String>,
    pub on_diverge: OnDiverge,
    /// Polling interval ("5m"), `null` when polling is off.
    pub sync_interval: Option<String>,
    /// A sync is running now.
    pub syncing: bool,
    /// Syncs run since start (joined requests count once).
    pub syncs: u64,
    pub last_sync: Option<SyncRecord>,
    /// When the last successful sync ended.
    pub last_success_at: Option<String>,
    pub last_error: Option<ErrorRecord>,
}

/// Mutable part of the status, behind one lock.
#[derive(Debug, Default)]
pub struct History {
    pub syncs: u64,
    pub last_sync: Option<SyncRecord>,
    pub last_success_at: Option<String>,
    pub last_error: Option<ErrorRecord>,
    /// The branch followed, once known (configured, or learned from the remote).
    pub branch: Option<String>,
}

pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}
