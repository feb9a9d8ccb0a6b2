//! Fetching one branch from `origin` through libgit2: connect (learning the remote's default
//! branch when none is configured), then download only that branch's objects. Nothing here
//! moves a ref that is served; the caller decides what to do with the fetched commit.

use git2::{AutotagOption, Direction, FetchOptions, Oid, RemoteCallbacks, Repository};

use super::credentials::{AuthAttempts, Resolved, Scrubber};
use super::deadline::Deadline;
use super::host_keys;
use super::SyncError;

pub use crate::source::REMOTE;

/// The tip of the branch on the remote, with its objects now in the local object database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub branch: String,
    pub commit: Oid,
}

/// Fetches `branch` (or the remote's default branch) from `origin`; with `depth`, only that
/// many commits of its history (a shallow fetch).
pub fn fetch(
    repo: &Repository,
    branch: Option<&str>,
    creds: &Resolved,
    deadline: &Deadline,
    scrubber: &Scrubber,
    depth: Option<u32>,
) -> Result<Fetched, SyncError> {
    let attempts = AuthAttempts::default();
    let fail = |e: git2::Error| classify(&e, &attempts, deadline, scrubber);
    let mut remote = repo.find_remote(REMOTE).map_err(|_| SyncError::NoRemote)?;
    let port = host_keys::port_of(remote.url().unwrap_or_default());
    let mut connection = remote
        .connect_auth(
            Direction::Fetch,
            Some(callbacks(creds, deadline, &attempts, port)),
            None,
        )
        .map_err(fail)?;
    let branch = match branch {
        Some(b) => b.to_string(),
        None => default_branch(&connection.default_branch().ok())?,
    };
    let wanted = format!("refs/heads/{branch}");
    let commit = connection
        .list()
        .map_err(fail)?
        .iter()
        .find(|head| head.name() == wanted)
        .map(|head| head.oid())
        .ok_or_else(|| SyncError::Remote(format!("the remote has no branch {branch:?}")))?;
    if deadline.should_stop() {
        return Err(SyncError::Timeout(deadline.timeout()));
    }
    // Nothing to download when the commit is already here (an unchanged remote).
    if repo.find_commit(commit).is_err() {
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(callbacks(creds, deadline, &attempts, port))
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        if let Some(depth) = depth {
            options.depth(i32::try_from(depth).unwrap_or(i32::MAX));
        }
        let refspec = format!("+{wanted}:refs/remotes/{REMOTE}/{branch}");
        connection
            .remote()
            .download(&[refspec.as_str()], Some(&mut options))
            .map_err(fail)?;
    }
    drop(connection);
    repo.find_commit(commit).map_err(|e| {
        tracing::error!(error = %scrubber.scrub(e.message()), "the fetched commit is missing");
        SyncError::Remote("the remote did not send the branch's commit".into())
    })?;
    Ok(Fetched { branch, commit })
}

/// `refs/heads/main` → `main`.
fn default_branch(advertised: &Option<git2::Buf>) -> Result<String, SyncError> {
    advertised
        .as_ref()
        .and_then(|buf| buf.as_str().ok())
        .and_then(|name| name.strip_prefix("refs/heads/"))
        .map(String::from)
        .ok_or_else(|| {
            SyncError::Remote(
                "the remote advertises no default branch; set source.git.branch".into(),
            )
        })
}

fn callbacks<'a>(
    creds: &'a Resolved,
    deadline: &'a Deadline,
    attempts: &'a AuthAttempts,
    port: u16,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    callbacks
        .credentials(move |_url, username, allowed| attempts.answer(creds, username, allowed))
        .certificate_check(move |cert, host| attempts.check_host(creds, cert, host, port))
        .transfer_progress(move |_| !deadline.should_stop())
        .sideband_progress(move |_| !deadline.should_stop());
    callbacks
}

/// Turns a libgit2 failure into a message safe to show; the scrubbed cause goes to the log.
fn classify(
    e: &git2::Error,
    attempts: &AuthAttempts,
    deadline: &Deadline,
    scrubber: &Scrubber,
) -> SyncError {
    use git2::{ErrorClass, ErrorCode};
    tracing::warn!(
        error = %scrubber.scrub(e.message()),
        class = ?e.class(),
        code = ?e.code(),
        "git fetch failed"
    );
    if e.code() == ErrorCode::Timeout || deadline.should_stop() {
        return SyncError::Timeout(deadline.timeout());
    }
    if let Some(refused) = attempts.host_key.get() {
        return SyncError::Remote(refused.to_string());
    }
    let message = if attempts.missing.get() {
        "the remote requires credentials (set source.git.token or source.git.ssh_key)"
    } else if e.code() == ErrorCode::Auth || attempts.offered() && is_auth_failure(e) {
        "the remote refused the credentials"
    } else if e.code() == ErrorCode::Certificate {
        "the remote's certificate or host key is not trusted"
    } else if e.code() == ErrorCode::NotFound
        || e.message().contains("404")
        || e.message().contains("not found")
    {
        "the remote repository was not found"
    } else {
        match e.class() {
            ErrorClass::Net | ErrorClass::Os | ErrorClass::Ssl | ErrorClass::Ssh => {
                "cannot reach the remote"
            }
            ErrorClass::Http => "the remote answered with an error",
            _ => "the fetch failed",
        }
    };
    SyncError::Remote(message.to_string())
}

fn is_auth_failure(e: &git2::Error) -> bool {
    let m = e.message();
    e.class() == git2::ErrorClass::Callback
        || m.contains("401")
        || m.contains("403")
        || m.contains("authentication")
        || m.contains("credentials")
}
