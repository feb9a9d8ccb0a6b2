//! Shared test harness: a real server on port 0 over a temp copy of `tests/fixtures/`, an HTTP
//! client, a raw-socket client for paths that HTTP libraries would normalise, and image checks
//! that decode the returned bytes.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::web;
use imgserver::config::{LoadOptions, Settings};
use imgserver::startup::Application;
use imgserver::state::AppState;
use tempfile::TempDir;

#[path = "../process_common/mod.rs"]
pub mod process_common;
#[allow(unused_imports)]
pub use process_common::{client_builder, error_chain};

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The shared sample images (`../shared/samples`), for tests that need the big ones.
pub fn shared_samples() -> PathBuf {
    if let Ok(dir) = std::env::var("IMGSERVER_SAMPLES") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples");
    if beside.is_dir() {
        beside
    } else {
        PathBuf::from("/work/shared/samples")
    }
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let target = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

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
    copy_dir(&fixtures_dir(), root.path());
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

    /// A server over an existing root and cache (for restart tests).
    pub async fn spawn_on(
        root: TempDir,
        outside: TempDir,
        cache_dir: TempDir,
        overrides: &[(&str, &str)],
    ) -> TestApp {
        let settings = Self::settings(root.path(), cache_dir.path(), overrides);
        let app = Application::build(settings).await.expect("the app builds");
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
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn raw_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> RawResponse {
    let request = {
        let mut r = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (k, v) in headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        r.push_str("\r\n");
        r
    };
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        parse_raw(&raw)
    })
    .await
    .unwrap()
}

fn parse_raw(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// The format and size of an encoded image, decoded independently of the server's pipeline
/// (AVIF, which the test's decoder cannot read, by its container's `ispe` box).
pub fn decode(bytes: &[u8]) -> (String, u32, u32) {
    if bytes.len() > 12
        && &bytes[4..8] == b"ftyp"
        && (&bytes[8..12] == b"avif" || &bytes[8..12] == b"avis")
    {
        let at = bytes
            .windows(4)
            .position(|w| w == b"ispe")
            .expect("an ispe box");
        let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        return ("avif".into(), be(at + 8), be(at + 12));
    }
    let format = image::guess_format(bytes).expect("a known image format");
    let img = image::load_from_memory(bytes).expect("a decodable image");
    let name = format!("{format:?}").to_lowercase();
    (name, img.width(), img.height())
}

pub fn decode_rgba(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes)
        .expect("a decodable image")
        .to_rgba8()
}

/// Whether `pixel` is within `tolerance` of `expected` on every channel.
pub fn near(pixel: &image::Rgba<u8>, expected: [u8; 3], tolerance: u8) -> bool {
    pixel
        .0
        .iter()
        .zip(expected)
        .all(|(a, b)| a.abs_diff(b) <= tolerance)
}

/// The JSON error body of a response: (code, message).
pub fn error_of(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("a JSON body, got {:?}", String::from_utf8_lossy(body)));
    (
        v["error"]["code"].as_str().expect("error.code").to_string(),
        v["error"]["message"]
            .as_str()
            .expect("error.message")
            .to_string(),
    )
}

// --- cache helpers (issue 4) ---

impl TestApp {
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

/// The audit lines (`target: "audit"`) every in-process server of this test binary writes, as
/// JSON objects; installed as the global subscriber on first use.
pub fn audit_lines() -> Vec<serde_json::Value> {
    use std::sync::{Mutex, OnceLock};
    static LINES: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    let buffer = LINES.get_or_init(|| {
        let buffer: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("audit=info"))
            .with_writer(move || AuditWriter(buffer))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
        buffer
    });
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

struct AuditWriter(&'static std::sync::Mutex<Vec<u8>>);

impl Write for AuditWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
