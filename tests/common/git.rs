//! Real git repositories for the git, admin and webhook tests, made with git2 only (no `git`
//! process): a bare "remote" on branch `main` that tests commit to and force-push, a clone of
//! it to serve, and an in-process server over the clone with the admin token set.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use git2::{IndexEntry, IndexTime, Oid, Repository, RepositoryInitOptions, Signature, Time};
use tempfile::TempDir;

use super::app::TestApp;

pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

/// One change of a commit.
pub enum Change<'a> {
    Put(&'a str, Vec<u8>),
    Link(&'a str, &'a str),
    Delete(&'a str),
}

/// A bare repository standing in for the forge.
pub struct Remote {
    pub dir: TempDir,
    pub repo: Repository,
    clock: AtomicUsize,
}

impl Remote {
    pub fn new() -> Remote {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_opts(
            dir.path().join("remote.git"),
            RepositoryInitOptions::new().bare(true).initial_head("main"),
        )
        .unwrap();
        Remote {
            dir,
            repo,
            clock: AtomicUsize::new(0),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.repo.path().to_path_buf()
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    pub fn head(&self) -> Option<Oid> {
        self.repo.refname_to_id("refs/heads/main").ok()
    }

    /// Commits `changes` on top of `main` and advances `main` (a normal push).
    pub fn commit(&self, changes: &[Change]) -> Oid {
        let parent = self.head();
        let oid = self.commit_on(parent, changes);
        self.set_main(oid);
        oid
    }

    /// Commits `changes` on top of `parent` without moving any ref.
    pub fn commit_on(&self, parent: Option<Oid>, changes: &[Change]) -> Oid {
        let repo = &self.repo;
        let mut index = repo.index().unwrap();
        index.clear().unwrap();
        let parent = parent.map(|p| repo.find_commit(p).unwrap());
        if let Some(parent) = &parent {
            index.read_tree(&parent.tree().unwrap()).unwrap();
        }
        for change in changes {
            match change {
                Change::Put(path, bytes) => {
                    index.add_frombuffer(&entry(path, 0o100644), bytes).unwrap()
                }
                Change::Link(path, target) => index
                    .add_frombuffer(&entry(path, 0o120000), target.as_bytes())
                    .unwrap(),
                Change::Delete(path) => index.remove_path(Path::new(path)).unwrap(),
            }
        }
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        // Distinct times, so two commits of the same content on the same parent still differ.
        let tick = self.clock.fetch_add(1, Ordering::SeqCst) as i64;
        let sig = Signature::new(
            "Test",
            "test@example.com",
            &Time::new(1_700_000_000 + tick, 0),
        )
        .unwrap();
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(None, &sig, &sig, "test commit", &tree, &parents)
            .unwrap()
    }

    /// Points `main` at `oid` whatever the history (a force-push).
    pub fn set_main(&self, oid: Oid) {
        self.repo
            .reference("refs/heads/main", oid, true, "test push")
            .unwrap();
    }
}

fn entry(path: &str, mode: u32) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id: Oid::ZERO_SHA1,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

/// A clone of `remote` in a fresh folder (the checkout the server serves).
pub fn clone(remote: &Remote) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    git2::build::RepoBuilder::new()
        .clone(&remote.url(), dir.path())
        .unwrap();
    dir
}

/// A server over `checkout` with the admin token set, plus `overrides`.
pub async fn spawn(checkout: TempDir, overrides: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("admin.token", ADMIN_TOKEN)];
    all.extend_from_slice(overrides);
    TestApp::spawn_on(
        checkout,
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        &all,
    )
    .await
}

pub async fn admin_post(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

pub async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

pub async fn pull(app: &TestApp) -> (u16, serde_json::Value) {
    let res = admin_post(app, "/admin/git/pull").await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

pub async fn status(app: &TestApp) -> serde_json::Value {
    let res = admin_get(app, "/admin/git/status").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// GET that must succeed: (X-Cache, body).
pub async fn fetch(app: &TestApp, path: &str) -> (String, Vec<u8>) {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    let cache = res
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (cache, res.bytes().await.unwrap().to_vec())
}
