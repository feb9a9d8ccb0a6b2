//! Moving the checkout to a fetched commit: decide (already current, fast-forward, or a
//! rewritten history to follow or refuse), move the branch and the remote-tracking ref, update
//! the working tree for humans (forced: local edits never block a sync and are never pushed),
//! and list what changed between the two trees.

use std::collections::{BTreeSet, HashSet};

use git2::build::CheckoutBuilder;
use git2::{Delta, DiffOptions, Oid, Repository};

use crate::config::OnDiverge;

use super::fetch::{Fetched, REMOTE};
use super::SyncError;

/// How the published commit relates to the fetched one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Current,
    /// Nothing was published yet (a fresh clone).
    Initial,
    FastForward,
    /// The remote's history no longer contains the published commit (force-push).
    Reset,
}

pub fn decide(
    repo: &Repository,
    published: Option<Oid>,
    fetched: Oid,
    on_diverge: OnDiverge,
) -> Result<Move, SyncError> {
    let Some(published) = published else {
        return Ok(Move::Initial);
    };
    if published == fetched {
        return Ok(Move::Current);
    }
    let descends = repo
        .graph_descendant_of(fetched, published)
        .map_err(|e| local("cannot compare commits", &e))?;
    match (descends, on_diverge) {
        (true, _) => Ok(Move::FastForward),
        (false, OnDiverge::Reset) => Ok(Move::Reset),
        (false, OnDiverge::Refuse) => Err(SyncError::Diverged {
            published: published.to_string(),
            remote: fetched.to_string(),
        }),
    }
}

/// Points the local branch, its remote-tracking ref and HEAD at the fetched commit.
pub fn move_refs(repo: &Repository, fetched: &Fetched, how: Move) -> Result<(), SyncError> {
    let short = &fetched.commit.to_string()[..7];
    let message = match how {
        Move::Reset => format!("imgserver: reset to {short} (remote history rewritten)"),
        _ => format!("imgserver: sync to {short}"),
    };
    let branch = &fetched.branch;
    repo.reference(
        &format!("refs/remotes/{REMOTE}/{branch}"),
        fetched.commit,
        true,
        &message,
    )
    .map_err(|e| local("cannot update the remote-tracking ref", &e))?;
    let local_ref = format!("refs/heads/{branch}");
    repo.reference(&local_ref, fetched.commit, true, &message)
        .map_err(|e| local("cannot update the branch", &e))?;
    repo.set_head(&local_ref)
        .map_err(|e| local("cannot update HEAD", &e))?;
    if let Ok(mut config) = repo.config() {
        let _ = config.set_str(&format!("branch.{branch}.remote"), REMOTE);
        let _ = config.set_str(&format!("branch.{branch}.merge"), &local_ref);
    }
    Ok(())
}

/// Brings the working tree to HEAD, overwriting local edits (untracked files are left alone).
/// Only logged on failure: nothing is served from the working tree.
pub fn refresh_worktree(repo: &Repository) {
    if repo.is_bare() {
        return;
    }
    let mut checkout = CheckoutBuilder::new();
    checkout.force();
    if let Err(e) = repo.checkout_head(Some(&mut checkout)) {
        tracing::warn!(
            error = e.message(),
            "the working tree could not be updated (serving is not affected)"
        );
    }
}

/// What a sync changed: paths added, modified or deleted, and the content identities (blob
/// ids) whose variants must go.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub paths: Vec<String>,
    pub stale_contents: HashSet<String>,
}

pub fn changes(
    repo: &Repository,
    old_tree: Option<Oid>,
    new_tree: Oid,
) -> Result<Changes, SyncError> {
    let find = |id: Oid| {
        repo.find_tree(id)
            .map_err(|e| local("cannot read a tree", &e))
    };
    let old = old_tree.map(find).transpose()?;
    let new = find(new_tree)?;
    let mut options = DiffOptions::new();
    options.ignore_submodules(true);
    let diff = repo
        .diff_tree_to_tree(old.as_ref(), Some(&new), Some(&mut options))
        .map_err(|e| local("cannot diff the trees", &e))?;
    let mut paths = BTreeSet::new();
    let mut stale_contents = HashSet::new();
    for delta in diff.deltas() {
        let old_file = delta.old_file();
        let new_file = delta.new_file();
        if !matches!(delta.status(), Delta::Added) {
            stale_contents.insert(old_file.id().to_string());
        }
        for file in [old_file, new_file] {
            if file.exists() {
                if let Some(path) = file.path().and_then(|p| p.to_str()) {
                    paths.insert(path.to_string());
                }
            }
        }
    }
    Ok(Changes {
        paths: paths.into_iter().collect(),
        stale_contents,
    })
}

fn local(what: &str, e: &git2::Error) -> SyncError {
    tracing::error!(error = e.message(), "{what}");
    SyncError::Local(format!("{what} in the local repository"))
}
