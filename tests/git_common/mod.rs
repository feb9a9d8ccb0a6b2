//! Real git repositories for the git, admin and webhook tests, made with git2 only (no `git`
//! process): a bare "remote" on branch `main` that tests commit to and force-push, a clone of
//! it to serve, solid-colour PNGs, and a server spawned over the clone.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use git2::{IndexEntry, IndexTime, Oid, Repository, RepositoryInitOptions, Signature, Time};
use tempfile::TempDir;

use crate::support::TestApp;

pub const ADMIN_TOKEN: &str = "admin-token-for-tests";
pub const RED: [u8; 3] = [220, 20, 20];
pub const BLUE: [u8; 3] = [20, 20, 220];
pub const GREEN: [u8; 3] = [20, 200, 20];

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

/// A solid-colour PNG.
pub fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// Whether every pixel of the decoded image is within a small tolerance of `rgb`.
pub fn is_solid(bytes: &[u8], rgb: [u8; 3]) -> bool {
    let img = image::load_from_memory(bytes)
        .expect("a complete, decodable image")
        .to_rgba8();
    img.pixels().all(|p| crate::support::near(p, rgb, 12))
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

/// A TCP server that accepts connections and never answers: a git remote that hangs.
pub struct SilentServer {
    pub port: u16,
    pub accepted: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (a, h) = (accepted.clone(), held.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                a.fetch_add(1, Ordering::SeqCst);
                h.lock().unwrap().push(stream);
            }
        });
        SilentServer {
            port,
            accepted,
            held,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/repo.git", self.port)
    }
}

/// An HTTP server that demands Basic credentials and refuses whatever it gets, recording the
/// `Authorization` headers it was sent.
pub struct RefusingServer {
    pub port: u16,
    pub authorizations: Arc<Mutex<Vec<String>>>,
}

impl RefusingServer {
    pub fn start() -> RefusingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let seen = authorizations.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                for line in head.lines() {
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("authorization") {
                            seen.lock().unwrap().push(v.trim().to_string());
                        }
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        RefusingServer {
            port,
            authorizations,
        }
    }
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
