//! Deciding at start what the source folder is, and preparing it: an empty (or missing) folder
//! with a remote (`source.git.remote`) becomes a new repository whose first sync is the clone;
//! an existing checkout is used as is (its `origin` pointed at the remote when one is given);
//! any other folder is served as a plain folder (or, with a remote, refused, since cloning into
//! it would mix two sources).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use git2::{ErrorCode, Repository};

use super::{DirTree, GitTree, Published};

/// The name of the remote a checkout syncs from.
pub const REMOTE: &str = "origin";

/// What the source folder turned out to be.
pub enum OpenedSource {
    Folder(Arc<DirTree>),
    /// A repository, served from its published commit, with what syncing it needs.
    Repository(Arc<GitTree>, Checkout),
}

/// What opening the source folder is told: the remote to sync from and the branch to serve
/// (`source.git.remote`, `source.git.branch`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions<'a> {
    pub remote: Option<&'a str>,
    pub branch: Option<&'a str>,
}

/// Opens `dir` as a plain folder or as a repository (see the module documentation).
pub fn open(dir: &Path, options: OpenOptions<'_>) -> anyhow::Result<OpenedSource> {
    let Some(checkout) = open_checkout(dir, options)? else {
        return Ok(OpenedSource::Folder(Arc::new(DirTree::open(dir)?)));
    };
    let tree = Arc::new(GitTree::new(
        &checkout.git_dir,
        checkout.workdir.as_deref(),
        checkout.published,
    ));
    Ok(OpenedSource::Repository(tree, checkout))
}

/// A repository ready to be served and synced.
#[derive(Debug)]
pub struct Checkout {
    pub git_dir: PathBuf,
    /// `None` for a bare repository.
    pub workdir: Option<PathBuf>,
    /// What to serve until the first sync: the configured branch's local tip, else HEAD's.
    pub published: Option<Published>,
    /// The branch HEAD names, for status before any sync.
    pub head_branch: Option<String>,
    /// The remote URL as configured or found (unredacted; never shown as is).
    pub remote_url: Option<String>,
}

/// `Ok(None)`: a plain folder.
fn open_checkout(dir: &Path, git: OpenOptions<'_>) -> anyhow::Result<Option<Checkout>> {
    if let Some(branch) = git.branch {
        if !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
            bail!("source.git.branch {branch:?} is not a valid branch name");
        }
    }
    if is_empty_or_missing(dir)? {
        let Some(remote) = git.remote else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the source folder {}", dir.display()))?;
        let repo = Repository::init(dir)
            .with_context(|| format!("cannot create a repository in {}", dir.display()))?;
        repo.remote(REMOTE, remote)
            .context("cannot add the origin remote")?;
        return Ok(Some(describe(&repo, git)));
    }
    let repo = match Repository::open(dir) {
        Ok(repo) => repo,
        Err(e) if e.code() == ErrorCode::Owner => bail!(
            "{} belongs to another user and libgit2 refuses to open it: run imgserver as its \
             owner, or add it to safe.directory in the service user's git configuration",
            dir.display()
        ),
        Err(e) => {
            if git.remote.is_some() {
                bail!(
                    "{} is neither empty nor a git checkout, so source.git.remote cannot be \
                     cloned into it ({})",
                    dir.display(),
                    e.message()
                );
            }
            if dir.join(".git").exists() {
                tracing::warn!(
                    error = e.message(),
                    "the source folder has a .git entry but is not a readable repository; \
                     serving it as a plain folder"
                );
            }
            return Ok(None);
        }
    };
    if let Some(workdir) = repo.workdir() {
        if !same_dir(workdir, dir) {
            bail!(
                "{} is a repository's metadata folder; set source.dir to the checkout {}",
                dir.display(),
                workdir.display()
            );
        }
    }
    if let Some(remote) = git.remote {
        let set = match repo.find_remote(REMOTE) {
            Ok(_) => repo.remote_set_url(REMOTE, remote),
            Err(_) => repo.remote(REMOTE, remote).map(|_| ()),
        };
        set.context("cannot point origin at source.git.remote")?;
    }
    Ok(Some(describe(&repo, git)))
}

fn describe(repo: &Repository, git: OpenOptions<'_>) -> Checkout {
    let head = repo.head().ok();
    let head_branch = head
        .as_ref()
        .filter(|r| r.is_branch())
        .and_then(|r| r.shorthand().ok().map(String::from));
    let configured = git
        .branch
        .and_then(|b| repo.find_reference(&format!("refs/heads/{b}")).ok());
    let tip = configured.or(head).and_then(|r| r.peel_to_commit().ok());
    let published = tip.and_then(|commit| {
        Some(Published {
            commit: commit.id(),
            tree: commit.tree().ok()?.id(),
        })
    });
    Checkout {
        git_dir: repo.path().to_path_buf(),
        workdir: repo.workdir().map(Path::to_path_buf),
        published,
        head_branch,
        remote_url: repo
            .find_remote(REMOTE)
            .ok()
            .and_then(|r| r.url().ok().map(String::from)),
    }
}

fn is_empty_or_missing(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the source folder {}", dir.display()))
        }
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
