//! The real `imgserver` binary as a child process, with its log read line by line: for tests of
//! what operators see (log lines) and of the service behind real Nginx.
#![allow(dead_code)]

#[path = "../process_common/mod.rs"]
mod process_common;
#[allow(unused_imports)] // not every test binary that includes this module uses them all
pub use process_common::{client_builder, error_chain, listening_port, nginx_binary};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_imgserver");

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub struct ImgserverProcess {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl ImgserverProcess {
    /// Starts the binary with `config` (TOML, written to a temp file; it must keep the
    /// "listening" line at info level) plus `env`, and waits until it listens. `{dir}` in
    /// `config` is replaced by a fresh temp folder (for the cache).
    pub fn start(config: &str, env: &[(&str, &str)]) -> ImgserverProcess {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imgserver.toml");
        std::fs::write(
            &path,
            config.replace("{dir}", &dir.path().display().to_string()),
        )
        .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(&path)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("IMGSERVER__")) {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
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
        let mut server = ImgserverProcess {
            child,
            lines,
            seen: Vec::new(),
            port: 0,
            dir,
        };
        let line = server.wait_for(|l| l.contains("listening"));
        server.port = listening_port(&line);
        server
    }

    /// Waits (10 s at most) for a line matching `want`; every line read is kept.
    pub fn wait_for(&mut self, want: impl Fn(&str) -> bool) -> String {
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

    /// Every line read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Stops the process and returns every line it wrote.
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        std::mem::take(&mut self.seen)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for ImgserverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
