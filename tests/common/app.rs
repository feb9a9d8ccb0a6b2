//! The real application in-process, on port 0, over a temp copy of the served fixtures plus
//! what git cannot store (a `.git` folder, symlinks in and out of the root).

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::web;
use imgserver::config::{LoadOptions, Settings};
use imgserver::startup::Application;
use imgserver::state::AppState;
use tempfile::TempDir;

use super::client::client_builder;
use super::fixtures::{copy_served_fixtures, fixtures_dir};
use super::raw::{raw_request, RawResponse};

pub struct TestApp {
    pub base: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    /// The served root (a copy of the fixtures plus hostile extras).
    pub root: TempDir,
    pub cache_dir: TempDir,
    /// A folder outside the root that symlinks try to reach.
    pub outside: TempDir,
}

/// Copies the fixtures and adds what git cannot store: a `.git` folder and symlinks.
fn prepare_root() -> (TempDir, TempDir) {
    let root = tempfile::tempdir().unwrap();
    copy_served_fixtures(root.path());
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures_dir().join("orientation/orientation-1.jpg"),
        outside.path().join("secret.jpg"),
    )
    .unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join(".git")).unwrap();
    std::fs::write(r.join(".git/config"), b"[core]\n").unwrap();
    std::fs::copy(
        fixtures_dir().join("orientation/orientation-1.jpg"),
        r.join(".git/leak.jpg"),
    )
    .unwrap();
    use std::os::unix::fs::symlink;
    symlink(outside.path().join("secret.jpg"), r.join("escape.jpg")).unwrap();
    let depth = outside.path().components().count() + r.components().count();
    let rel = format!(
        "{}{}",
        "../".repeat(depth),
        outside
            .path()
            .join("secret.jpg")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    symlink(rel, r.join("escape-rel.jpg")).unwrap();
    symlink(".git/leak.jpg", r.join("to-git.jpg")).unwrap();
    symlink("storm.jpg", r.join("inside-link.jpg")).unwrap();
    symlink("../storm.jpg", r.join("cats/up-link.jpg")).unwrap();
    (root, outside)
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        let (root, outside) = prepare_root();
        let cache_dir = tempfile::tempdir().unwrap();
        Self::spawn_on(root, outside, cache_dir, overrides).await
    }

    /// The real application with routes of the test's own ahead of its route table, behind
    /// the real middleware ([`Application::build_with_routes`]).
    pub async fn spawn_with_routes(
        overrides: &[(&str, &str)],
        routes: fn(&mut web::ServiceConfig),
    ) -> TestApp {
        let (root, outside) = prepare_root();
        let cache_dir = tempfile::tempdir().unwrap();
        Self::start(root, outside, cache_dir, overrides, routes).await
    }

    /// A server over an existing root and cache (for restart tests).
    pub async fn spawn_on(
        root: TempDir,
        outside: TempDir,
        cache_dir: TempDir,
        overrides: &[(&str, &str)],
    ) -> TestApp {
        Self::start(root, outside, cache_dir, overrides, |_| {}).await
    }

    async fn start(
        root: TempDir,
        outside: TempDir,
        cache_dir: TempDir,
        overrides: &[(&str, &str)],
        routes: fn(&mut web::ServiceConfig),
    ) -> TestApp {
        let settings = Self::settings(root.path(), cache_dir.path(), overrides);
        let app = Application::build_with_routes(settings, routes)
            .await
            .expect("the app builds");
        let port = app.port();
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            port,
            client: client_builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            state,
            root,
            cache_dir,
            outside,
        }
    }

    pub fn settings(root: &Path, cache: &Path, overrides: &[(&str, &str)]) -> Settings {
        let mut pairs: Vec<(String, String)> = vec![
            ("server.port".into(), "0".into()),
            ("server.workers".into(), "2".into()),
            ("source.dir".into(), root.display().to_string()),
            ("cache.dir".into(), cache.display().to_string()),
            ("limits.per_ip_per_second".into(), "0".into()),
            ("limits.hit_per_ip_per_second".into(), "0".into()),
            ("limits.admin_per_minute".into(), "0".into()),
            ("log.level".into(), "warn".into()),
            // Tests share 2 cores with parallel builds: a generous deadline keeps them honest
            // about results, not about the machine's load. Timeout tests override it.
            ("limits.render_timeout".into(), "120s".into()),
        ];
        pairs.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        Settings::load(&LoadOptions::with_overrides(pairs)).expect("valid test settings")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request sent")
    }

    /// Renders started by this server so far.
    pub fn renders(&self) -> u64 {
        self.state.delivery.cache().renders()
    }

    /// Sends `path` exactly as written (no client-side normalisation of `..` or `%2e`).
    pub async fn raw_get(&self, path: &str) -> RawResponse {
        raw_request(self.port, "GET", path, &[]).await
    }

    /// Puts the generated 20 MP JPEG into the served root as `name`: renders of it at 3000 px
    /// take a second or more.
    pub fn add_big_source(&self, name: &str) {
        std::fs::copy(super::fixtures::big_jpeg(), self.root.path().join(name))
            .expect("the generated 20 MP JPEG");
    }

    /// The cache's counters now.
    pub fn cache_stats(&self) -> imgserver::cache::CacheStats {
        self.state.delivery.cache().stats()
    }

    /// Waits (up to 20 s) until the disk tier is indexed, holds at least `entries` entries and
    /// has no write pending.
    pub async fn wait_for_disk(&self, entries: u64) -> imgserver::cache::CacheStats {
        for _ in 0..2000 {
            let s = self.cache_stats();
            if s.disk_index_ready && s.disk.entries >= entries && s.disk_writes_pending == 0 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the disk cache never reached {entries} entries");
    }

    /// Hands over the folders of a server for a new one (the old one keeps running idle).
    pub fn into_dirs(self) -> (TempDir, TempDir, TempDir) {
        (self.root, self.outside, self.cache_dir)
    }
}

/// Every file in the disk cache's shard folders, temp files included.
pub fn cache_files(cache_dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(shards) = std::fs::read_dir(cache_dir) else {
        return files;
    };
    for shard in shards.flatten() {
        if shard.path().is_dir() {
            for file in std::fs::read_dir(shard.path()).unwrap().flatten() {
                files.push(file.path());
            }
        }
    }
    files.sort();
    files
}

/// Whether a cache file is a temp file (a write not yet renamed into place).
pub fn is_temp_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}
