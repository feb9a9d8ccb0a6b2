//! The real `imgserver` binary as a child process: the one way tests start it, learn its port
//! from its "listening" log line, read its log line by line, signal and stop it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_imgserver");

/// How long a starting server may take to say it listens (a debug build on a loaded machine).
const START_DEADLINE: Duration = Duration::from_secs(60);

/// The binary with none of the test runner's `IMGSERVER__` variables nor its `RUST_LOG`: what
/// it does depends only on what the test adds.
pub fn command() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("RUST_LOG").stdin(Stdio::null());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("IMGSERVER__")) {
        cmd.env_remove(k);
    }
    cmd
}

/// The port in imgserver's "listening" log line (text or JSON).
pub fn listening_port(line: &str) -> u16 {
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

/// A running server; killed when dropped, unless the test took its process over.
pub struct ImgserverProcess {
    child: Option<Child>,
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
        let mut cmd = command();
        cmd.arg("--config").arg(&path).current_dir(dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn_in(cmd, dir)
    }

    /// Starts `cmd` (from [`command`], with its flags and variables; its log must keep the
    /// "listening" line) and waits until it listens.
    pub fn spawn(cmd: Command) -> ImgserverProcess {
        Self::spawn_in(cmd, tempfile::tempdir().unwrap())
    }

    fn spawn_in(mut cmd: Command, dir: tempfile::TempDir) -> ImgserverProcess {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        // Reads the log to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ImgserverProcess {
            child: Some(child),
            lines,
            seen: Vec::new(),
            port: 0,
            dir,
        };
        let line = server.wait_within(START_DEADLINE, |l| l.contains("listening"));
        server.port = listening_port(&line);
        server
    }

    /// Waits (10 s at most) for a line matching `want`; every line read is kept.
    pub fn wait_for(&mut self, want: impl Fn(&str) -> bool) -> String {
        self.wait_within(Duration::from_secs(10), want)
    }

    fn wait_within(&mut self, limit: Duration, want: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.seen.iter().find(|l| want(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + limit;
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
        self.kill();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        std::mem::take(&mut self.seen)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// SIGTERM: the graceful shutdown.
    pub fn sigterm(&self) {
        let child = self.child.as_ref().expect("a running server");
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }

    /// SIGKILL, as a crash would: no shutdown at all. Returns once the process is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit by itself (after [`Self::sigterm`]).
    pub async fn exit_status(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("a running server");
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap()
    }
}

impl Drop for ImgserverProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the binary to its end with `args` and `env`, from the repository root: (exit code,
/// stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = command();
    cmd.args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
