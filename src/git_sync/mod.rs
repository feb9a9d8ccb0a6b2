//! Syncing the git-synced source with its remote through libgit2 only (no `git` process, no
//! shell). Opening the source folder (or preparing an empty one for the clone) is
//! [`crate::source::open`]; the first sync of a fresh clone is this module's.
//!
//! A sync fetches the followed branch, then moves to the fetched commit: fast-forward, or, when
//! the remote history was rewritten, reset (`on_diverge = "reset"`) or refuse (409). Serving
//! comes from the object database at the published commit ([`GitTree`]), so the switch is one
//! pointer swap; the working tree is updated afterwards, for humans only. Variants of changed or
//! deleted files are dropped from the cache by their content identity (blob id); variants of
//! unchanged files stay warm.
//!
//! Only one sync runs at a time ([`crate::single_flight`]); callers arriving meanwhile share its
//! result.
//! The git work runs on its own thread under a deadline (`source.git.timeout`): when it passes,
//! the caller gets 504 and the abandoned sync is guaranteed to change nothing ([`deadline`]).

mod credentials;
mod deadline;
mod error;
mod fetch;
mod host_keys;
mod poller;
mod status;
mod update;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use git2::Repository;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::cache::VariantCache;
use crate::config::{GitSettings, OnDiverge};
use crate::metrics::{GitSyncMetrics, SyncOutcome};
use crate::single_flight::SingleFlight;
use crate::source::{Checkout, GitTree, Published};

use crate::config::display_url;
pub use error::SyncError;
pub use status::{GitStatus, Trigger};

use credentials::{Credentials, Scrubber};
use deadline::Deadline;
use status::{timestamp, ErrorRecord, History, SyncRecord};
use update::{Changes, Move};

/// At most this many changed paths are listed in a sync report (`changed_total` has the count).
pub const MAX_LISTED_CHANGES: usize = 1000;

pub type SyncResult = Result<Arc<SyncReport>, SyncError>;

/// What `POST /admin/git/pull` answers.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub updated: bool,
    /// `null` on the first sync of a fresh clone.
    pub from: Option<String>,
    pub to: String,
    pub branch: String,
    /// Paths added, modified or deleted (both sides of a rename), sorted; at most
    /// [`MAX_LISTED_CHANGES`].
    pub changed: Vec<String>,
    pub changed_total: usize,
    /// Cached variants dropped because their source changed or went away.
    pub invalidated: u64,
    pub duration_ms: u64,
}

pub struct GitSync {
    settings: GitSettings,
    git_dir: PathBuf,
    tree: Arc<GitTree>,
    cache: Arc<VariantCache>,
    credentials: Credentials,
    /// As configured or found in the checkout: may hold credentials, never shown as is.
    remote_url: Option<String>,
    head_branch: Option<String>,
    history: Mutex<History>,
    /// One key: there is one sync at a time.
    flight: Arc<SingleFlight<(), SyncResult>>,
    /// Serialises git work on the repository, including a timed-out sync still winding down.
    repo_lock: Arc<Mutex<()>>,
    metrics: GitSyncMetrics,
}

impl GitSync {
    /// The sync of a repository the source opened ([`crate::source::open`]).
    pub fn new(
        settings: &GitSettings,
        tree: Arc<GitTree>,
        checkout: Checkout,
        cache: &Arc<VariantCache>,
        metrics: GitSyncMetrics,
    ) -> Arc<Self> {
        Arc::new(GitSync {
            settings: settings.clone(),
            git_dir: checkout.git_dir,
            tree,
            cache: cache.clone(),
            credentials: Credentials::from_settings(settings),
            remote_url: checkout.remote_url,
            head_branch: checkout.head_branch,
            history: Mutex::new(History::default()),
            flight: SingleFlight::new(|| {
                Err(SyncError::Local("the sync stopped unexpectedly".into()))
            }),
            repo_lock: Arc::new(Mutex::new(())),
            metrics,
        })
    }

    /// Starts what runs by itself: the first sync of a fresh clone (awaited, so the service
    /// starts with something to serve when the remote answers) and the interval poller.
    pub async fn start(self: &Arc<Self>) {
        set_network_timeouts(self.settings.timeout);
        self.publish_metrics();
        if self.tree.published().is_none() && self.remote_url.is_some() {
            if let Err(e) = self.sync(Trigger::Startup).await {
                tracing::error!(
                    error = %e,
                    "the first sync failed; nothing is served until a sync succeeds"
                );
            }
        }
        if let Some(every) = self.settings.sync_interval {
            poller::spawn(self, every);
        }
    }

    /// Syncs with the remote, or joins the sync already running.
    pub async fn sync(self: &Arc<Self>, trigger: Trigger) -> SyncResult {
        let this = self.clone();
        self.flight.run((), move || this.run(trigger)).await
    }

    /// The branch followed: configured, learned from the remote by a sync, or HEAD's.
    pub fn branch(&self) -> Option<String> {
        self.settings
            .branch
            .clone()
            .or_else(|| self.history().branch.clone())
            .or_else(|| self.head_branch.clone())
    }

    pub fn status(&self) -> GitStatus {
        let branch = self.branch();
        let history = self.history();
        GitStatus {
            commit: self.tree.published().map(|p| p.commit.to_string()),
            branch,
            remote: self.remote_url.as_deref().map(display_url),
            on_diverge: self.settings.on_diverge,
            sync_interval: self
                .settings
                .sync_interval
                .map(|d| humantime::format_duration(d).to_string()),
            syncing: self.flight.is_running(&()),
            syncs: history.syncs,
            last_sync: history.last_sync.clone(),
            last_success_at: history.last_success_at.clone(),
            last_error: history.last_error.clone(),
        }
    }

    /// Exposes the served commit as `imgserver_source_info`.
    fn publish_metrics(&self) {
        if let Some(published) = self.tree.published() {
            let branch = self.branch().unwrap_or_default();
            self.metrics
                .set_served_commit(&published.commit.to_string(), &branch);
        }
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run(self: Arc<Self>, trigger: Trigger) -> SyncResult {
        let started = Instant::now();
        let result = self.run_job(started).await;
        self.record(trigger, started.elapsed(), &result);
        let outcome = outcome_of(&result);
        self.metrics.record_sync(outcome, started.elapsed());
        if outcome == SyncOutcome::Updated {
            self.publish_metrics();
        }
        result
    }

    async fn run_job(&self, started: Instant) -> SyncResult {
        let timeout = self.settings.timeout;
        let deadline = Arc::new(Deadline::after(timeout));
        let job = Job {
            git_dir: self.git_dir.clone(),
            branch: self.settings.branch.clone(),
            on_diverge: self.settings.on_diverge,
            depth: self.settings.depth,
            tree: self.tree.clone(),
            credentials: self.credentials.clone(),
            remote_url: self.remote_url.clone(),
            repo_lock: self.repo_lock.clone(),
            deadline: deadline.clone(),
        };
        let (done, mut outcome) = oneshot::channel();
        // A thread of its own, not the blocking pool: a fetch stuck in a socket read must not
        // hold up the runtime's shutdown.
        std::thread::Builder::new()
            .name("git-sync".into())
            .spawn(move || {
                let _ = done.send(job.execute());
            })
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start the sync thread");
                SyncError::Local("cannot start the sync".into())
            })?;
        let stopped = || SyncError::Local("the sync stopped unexpectedly".into());
        let outcome = match tokio::time::timeout(timeout, &mut outcome).await {
            Ok(result) => result.unwrap_or_else(|_| Err(stopped())),
            Err(_) if deadline.abandon() => Err(SyncError::Timeout(timeout)),
            // It is already committing: only local work remains, wait for it.
            Err(_) => outcome.await.unwrap_or_else(|_| Err(stopped())),
        }?;
        let invalidated = if outcome.changes.stale_contents.is_empty() {
            0
        } else {
            self.cache
                .forget_contents(&outcome.changes.stale_contents)
                .await
                .removed_entries
        };
        let mut changed = outcome.changes.paths;
        let changed_total = changed.len();
        changed.truncate(MAX_LISTED_CHANGES);
        Ok(Arc::new(SyncReport {
            updated: outcome.updated,
            from: outcome.from.map(|p| p.commit.to_string()),
            to: outcome.to.commit.to_string(),
            branch: outcome.branch,
            changed,
            changed_total,
            invalidated,
            duration_ms: started.elapsed().as_millis() as u64,
        }))
    }

    fn record(&self, trigger: Trigger, took: Duration, result: &SyncResult) {
        let now = timestamp(SystemTime::now());
        let mut history = self.history();
        history.syncs += 1;
        match result {
            Ok(report) => {
                if report.updated {
                    tracing::info!(
                        ?trigger,
                        from = report.from.as_deref().unwrap_or("-"),
                        to = %report.to,
                        changed = report.changed_total,
                        invalidated = report.invalidated,
                        "synced"
                    );
                }
                history.branch = Some(report.branch.clone());
                history.last_success_at = Some(now.clone());
                history.last_sync = Some(SyncRecord {
                    at: now,
                    trigger,
                    result: outcome_of(result),
                    from: report.from.clone(),
                    to: Some(report.to.clone()),
                    duration_ms: report.duration_ms,
                });
            }
            Err(e) => {
                tracing::warn!(?trigger, code = e.code().as_str(), error = %e, "sync failed");
                history.last_sync = Some(SyncRecord {
                    at: now.clone(),
                    trigger,
                    result: SyncOutcome::Failed,
                    from: None,
                    to: None,
                    duration_ms: took.as_millis() as u64,
                });
                history.last_error = Some(ErrorRecord {
                    at: now,
                    trigger,
                    code: e.code().as_str(),
                    message: e.to_string(),
                });
            }
        }
    }
}

fn outcome_of(result: &SyncResult) -> SyncOutcome {
    match result {
        Ok(report) if report.updated => SyncOutcome::Updated,
        Ok(_) => SyncOutcome::Unchanged,
        Err(_) => SyncOutcome::Failed,
    }
}

/// libgit2's socket timeouts are process-wide: a connect or a read that stalls this long fails.
/// The deadline covers the whole sync; this frees a thread stuck on a silent server.
fn set_network_timeouts(timeout: Duration) {
    let ms = i32::try_from(timeout.as_millis())
        .unwrap_or(i32::MAX)
        .max(1);
    // SAFETY: plain integer settings read by libgit2 when it opens a socket; set before any
    // sync of this service starts.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms);
        let _ = git2::opts::set_server_timeout_in_milliseconds(ms);
    }
}

/// Everything the git thread needs, owned.
struct Job {
    git_dir: PathBuf,
    branch: Option<String>,
    on_diverge: OnDiverge,
    /// `source.git.depth`: commits of history the first fetch brings (`None`: all).
    depth: Option<u32>,
    tree: Arc<GitTree>,
    credentials: Credentials,
    remote_url: Option<String>,
    repo_lock: Arc<Mutex<()>>,
    deadline: Arc<Deadline>,
}

/// What the git thread did.
struct Outcome {
    updated: bool,
    from: Option<Published>,
    to: Published,
    branch: String,
    changes: Changes,
}

impl Job {
    fn execute(self) -> Result<Outcome, SyncError> {
        let _serial = self
            .repo_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.deadline.should_stop() {
            return Err(SyncError::Timeout(self.deadline.timeout()));
        }
        let creds = self.credentials.resolve()?;
        let scrubber = Scrubber::new(creds.secrets(), self.remote_url.as_deref());
        let repo = Repository::open(&self.git_dir).map_err(|e| {
            tracing::error!(error = e.message(), "cannot open the repository");
            SyncError::Local("cannot open the local repository".into())
        })?;
        let from = self.tree.published();
        // Shallow only for the first fetch of an empty repository (what a served tree needs
        // of a long history); later fetches bring just the new commits, whose parents are
        // then here, so fast-forwards are still told from rewritten history.
        let depth = self.depth.filter(|_| from.is_none());
        let fetched = fetch::fetch(
            &repo,
            self.branch.as_deref(),
            &creds,
            &self.deadline,
            &scrubber,
            depth,
        )?;
        let how = update::decide(
            &repo,
            from.map(|p| p.commit),
            fetched.commit,
            self.on_diverge,
        )?;
        let tree = repo
            .find_commit(fetched.commit)
            .and_then(|c| c.tree())
            .map_err(|e| {
                tracing::error!(error = e.message(), "cannot read the fetched commit");
                SyncError::Local("cannot read the fetched commit".into())
            })?
            .id();
        let to = Published {
            commit: fetched.commit,
            tree,
        };
        if how == Move::Current {
            return Ok(Outcome {
                updated: false,
                from,
                to,
                branch: fetched.branch,
                changes: Changes::default(),
            });
        }
        if !self.deadline.begin_commit() {
            return Err(SyncError::Timeout(self.deadline.timeout()));
        }
        let changes = update::changes(&repo, from.map(|p| p.tree), tree)?;
        update::move_refs(&repo, &fetched, how)?;
        self.tree.publish(to);
        update::refresh_worktree(&repo);
        Ok(Outcome {
            updated: true,
            from,
            to,
            branch: fetched.branch,
            changes,
        })
    }
}
