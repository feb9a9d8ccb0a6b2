//! The log of the real binary: one access line per request with the fields operators need, as
//! JSON or text (`log.format`), at the level of `log.level` unless `RUST_LOG` says otherwise,
//! and never a secret: not the configured keys, not a bearer token, not a query signature.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_imgserver");
const ADMIN_TOKEN: &str = "admin-token-MUST-NOT-LEAK";
const SIGNING_KEY: &str = "signing-key-MUST-NOT-LEAK";
const WEBHOOK_SECRET: &str = "webhook-secret-MUST-NOT-LEAK";

struct Server {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(format: &str, level: &str, rust_log: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("imgserver.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nport = 0\nworkers = 1\n\
                 [source]\ndir = \"{fixtures}\"\n\
                 [cache]\ndir = \"{cache}\"\n\
                 [admin]\ntoken = \"{ADMIN_TOKEN}\"\n\
                 [webhook]\nsecret = \"{WEBHOOK_SECRET}\"\n\
                 [log]\nformat = \"{format}\"\nlevel = \"{level}\"\n",
                fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"),
                cache = dir.path().join("cache").display(),
            ),
        )
        .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .env("IMGSERVER__SECURITY__SIGNING_KEY", SIGNING_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("IMGSERVER__")) {
            if k != "IMGSERVER__SECURITY__SIGNING_KEY" {
                cmd.env_remove(k);
            }
        }
        if let Some(filter) = rust_log {
            cmd.env("RUST_LOG", filter);
        }
        let mut child = cmd.spawn().expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            lines,
            seen: Vec::new(),
            port: 0,
            _dir: dir,
        };
        server.port = server.wait_for_port();
        server
    }

    /// The port, from the "listening" line (tests with a quieter level keep that line).
    fn wait_for_port(&mut self) -> u16 {
        let line = self.wait_for(|l| l.contains("listening"));
        let digits: String = line
            .rsplit("port")
            .next()
            .unwrap()
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().expect("a port in the listening line")
    }

    /// Waits (10 s at most) for a line matching `want`, keeping every line read.
    fn wait_for(&mut self, want: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.seen.iter().find(|l| want(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no such log line; got:\n{}", self.seen.join("\n"));
    }

    /// Stops the process and returns every line it wrote.
    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        std::mem::take(&mut self.seen)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn assert_no_secret(lines: &[String], extra: &[&str]) {
    for line in lines {
        for secret in [ADMIN_TOKEN, SIGNING_KEY, WEBHOOK_SECRET]
            .iter()
            .chain(extra)
        {
            assert!(!line.contains(secret), "{secret} leaked: {line}");
        }
    }
}

#[tokio::test]
async fn json_access_lines_carry_every_field_and_no_secret() {
    let mut server = Server::start("json", "info", None);
    let client = client();
    let res =
        client
            .get(server.url(
                "/img/storm.jpg?w=90&s=SIGNATURE-MUST-NOT-LEAK&token=QUERY-TOKEN-MUST-NOT-LEAK",
            ))
            .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
            .header("X-Request-Id", "trace-me-42")
            .header("X-Forwarded-For", "198.51.100.23")
            .send()
            .await
            .unwrap();
    let status = res.status().as_u16();
    let body_len = res.bytes().await.unwrap().len() as u64;
    let missing = client
        .get(server.url("/img/missing.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing_id = missing.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();

    let first = server.wait_for(|l| l.contains("trace-me-42"));
    let second = server.wait_for(|l| l.contains(&missing_id));
    let lines = server.stop();
    for line in &lines {
        let _: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert_no_secret(
        &lines,
        &["SIGNATURE-MUST-NOT-LEAK", "QUERY-TOKEN-MUST-NOT-LEAK"],
    );

    let a: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(a["target"], "access");
    assert_eq!(a["level"], "INFO");
    assert!(a["timestamp"].is_string());
    assert_eq!(a["method"], "GET");
    assert_eq!(a["path"], "/img/storm.jpg");
    assert_eq!(a["query"], "w=90&s=REDACTED&token=REDACTED");
    assert_eq!(a["status"], status);
    if status == 200 {
        assert_eq!(a["bytes"], body_len);
        assert_eq!(a["cache"], "miss");
    }
    assert!(a["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(a["request_id"], "trace-me-42");
    assert_eq!(
        a["client_ip"], "198.51.100.23",
        "the client behind the trusted local proxy"
    );
    assert_eq!(a["peer"], "127.0.0.1");

    let b: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(b["status"], 404);
    assert_eq!(b["error"], "not_found");
    assert_eq!(b["cache"], "-");
    assert_eq!(b["client_ip"], "127.0.0.1");
}

#[tokio::test]
async fn text_format_is_one_plain_line_per_request() {
    let mut server = Server::start("text", "info", None);
    let res = client()
        .get(server.url("/healthz?s=SIGNATURE-MUST-NOT-LEAK"))
        .header("X-Request-Id", "text-line-7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let line = server.wait_for(|l| l.contains("text-line-7"));
    let lines = server.stop();
    assert_no_secret(&lines, &["SIGNATURE-MUST-NOT-LEAK"]);
    assert!(!line.starts_with('{'), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes off a terminal: {line}"
    );
    for field in [
        "INFO",
        "method=\"GET\"",
        "path=\"/healthz\"",
        "query=\"s=REDACTED\"",
        "status=200",
        "bytes=",
        "duration_ms=",
        "request_id=\"text-line-7\"",
        "client_ip=\"127.0.0.1\"",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
}

#[tokio::test]
async fn log_level_comes_from_the_config_unless_rust_log_is_set() {
    // log.level says info; RUST_LOG wins: access lines kept, actix's info lines dropped.
    let mut server = Server::start(
        "json",
        "info",
        Some("warn,access=info,imgserver::startup=info"),
    );
    let res = client().get(server.url("/healthz")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    server.wait_for(|l| l.contains(&id) && l.contains("\"access\""));
    let lines = server.stop();
    assert!(
        !lines.iter().any(|l| l.contains("starting service")),
        "actix's info lines are filtered by RUST_LOG"
    );

    // log.level alone: warn hides the access lines.
    let server = Server::start("json", "warn,imgserver::startup=info", None);
    let res = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let lines = server.stop();
    assert!(
        !lines.iter().any(|l| l.contains("\"access\"")),
        "{}",
        lines.join("\n")
    );
}
