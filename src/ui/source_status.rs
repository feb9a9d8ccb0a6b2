//! What the page shows about the served tree without the admin token: whether it is a git
//! checkout, at which commit and branch, and when it last synced. The git sync service's state
//! is the source when it runs (it knows the *served* commit); otherwise the checkout's `HEAD`
//! (the folder itself, never a parent) is read.

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SourceStatus {
    Folder,
    Git {
        commit: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        branch: Option<String>,
        /// Commit time, seconds since the epoch.
        #[serde(skip_serializing_if = "Option::is_none")]
        committed_at: Option<i64>,
        /// When the last successful sync ended (RFC 3339), when the git sync service runs.
        #[serde(skip_serializing_if = "Option::is_none")]
        synced_at: Option<String>,
    },
}

/// What the git sync service serves, when it runs and has published a commit.
pub fn from_sync(status: &crate::git_sync::GitStatus) -> Option<SourceStatus> {
    Some(SourceStatus::Git {
        commit: status.commit.clone()?,
        branch: status.branch.clone(),
        committed_at: None,
        synced_at: status.last_success_at.clone(),
    })
}

/// Blocking: opens the repository at `dir`, if it is one.
pub fn read(dir: &Path) -> SourceStatus {
    let Ok(repo) = git2::Repository::open(dir) else {
        return SourceStatus::Folder;
    };
    let Ok(head) = repo.head() else {
        return SourceStatus::Folder;
    };
    let Ok(commit) = head.peel_to_commit() else {
        return SourceStatus::Folder;
    };
    SourceStatus::Git {
        commit: commit.id().to_string(),
        branch: head
            .is_branch()
            .then(|| head.shorthand().ok().map(String::from))
            .flatten(),
        committed_at: Some(commit.time().seconds()),
        synced_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_folder_is_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), SourceStatus::Folder);
    }

    #[test]
    fn a_checkout_reports_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.txt"), b"a").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("a.txt")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.org").unwrap();
        let id = repo
            .commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
            .unwrap();
        let SourceStatus::Git { commit, branch, .. } = read(dir.path()) else {
            panic!("a git checkout")
        };
        assert_eq!(commit, id.to_string());
        assert!(branch.is_some());
    }
}
