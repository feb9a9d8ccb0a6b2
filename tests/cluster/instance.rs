//! One imgserver instance of the cluster: the real binary with `deploy/cluster/instance.toml`
//! plus `IMGSERVER__` overrides (loopback, its own checkout, cache folder and port), its log in
//! a file, its process id for SIGKILL and for its peak memory.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::process::{command, listening_port};
use crate::watchdog::Watchdog;

pub const ADMIN_TOKEN: &str = "cluster-admin-token";
pub const WEBHOOK_SECRET: &str = "cluster-webhook-secret";

/// Budgets every instance runs with (small, so the load goes beyond them).
pub const MEMORY_BYTES: u64 = 2 << 20;
pub const MAX_DISK_BYTES: u64 = 4 << 20;

pub struct Instance {
    pub name: String,
    pub port: u16,
    pub cache: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    watchdog: Watchdog,
}

impl Instance {
    /// Starts an instance over `checkout`, keeping its cache and log under `home`; `port` 0
    /// picks a free one. Waits until it listens.
    pub fn start(
        name: &str,
        home: &Path,
        checkout: &Path,
        port: u16,
        extra_env: &[(&str, &str)],
        watchdog: &Watchdog,
    ) -> Instance {
        std::fs::create_dir_all(home).unwrap();
        let log = home.join("imgserver.log");
        let cache = home.join("cache");
        // Appended to: a restarted instance keeps one log.
        let log_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let logged_before = log_file.metadata().unwrap().len() as usize;
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/cluster/instance.toml");
        let mut cmd = command();
        cmd.arg("--config")
            .arg(config)
            .current_dir(home)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        let port_text = port.to_string();
        let (checkout_text, cache_text) =
            (checkout.display().to_string(), cache.display().to_string());
        let (memory, disk) = (MEMORY_BYTES.to_string(), MAX_DISK_BYTES.to_string());
        let env: Vec<(&str, &str)> = vec![
            ("IMGSERVER__SERVER__BIND", "127.0.0.1"),
            ("IMGSERVER__SERVER__PORT", &port_text),
            ("IMGSERVER__SERVER__WORKERS", "2"),
            // Nginx connects from 127.0.0.1; clients come from 127.0.1.x.
            ("IMGSERVER__SERVER__TRUSTED_PROXIES", "127.0.0.1/32"),
            ("IMGSERVER__METRICS__ALLOW", "127.0.0.1/32"),
            ("IMGSERVER__SOURCE__DIR", &checkout_text),
            ("IMGSERVER__CACHE__DIR", &cache_text),
            ("IMGSERVER__CACHE__MEMORY_BYTES", &memory),
            ("IMGSERVER__CACHE__MAX_DISK_BYTES", &disk),
            ("IMGSERVER__LIMITS__MAX_CONCURRENT_RENDERS", "2"),
            ("IMGSERVER__ADMIN__TOKEN", ADMIN_TOKEN),
            ("IMGSERVER__WEBHOOK__SECRET", WEBHOOK_SECRET),
        ];
        for (k, v) in env.iter().chain(extra_env) {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the imgserver binary starts");
        watchdog.track(child.id());
        let mut instance = Instance {
            name: name.to_string(),
            port,
            cache,
            log,
            child: Some(child),
            watchdog: watchdog.clone(),
        };
        instance.port = instance.wait_listening(logged_before);
        instance
    }

    /// The port of the "listening" line written after `offset` in the log.
    fn wait_listening(&mut self, offset: usize) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let fresh = text.get(offset..).unwrap_or_default();
            if let Some(line) = fresh.lines().find(|l| l.contains("listening")) {
                return listening_port(line);
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{} exited with {status} before listening:\n{fresh}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} did not listen within 20 s:\n{}",
            self.name,
            self.log_tail()
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running instance").id()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The process's peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .expect("VmHWM in /proc/<pid>/status")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        kib * 1024
    }

    /// Bytes of every file under the cache folder (temporary files included).
    pub fn disk_bytes(&self) -> u64 {
        fn walk(dir: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        }
        walk(&self.cache)
    }

    /// SIGKILL, as a crash or the OOM killer would: no shutdown, connections reset.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            child.kill().unwrap();
            child.wait().unwrap();
            self.watchdog.untrack(pid);
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Lines of the log containing every one of `needles`.
    pub fn log_lines_with(&self, needles: &[&str]) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if std::thread::panicking() && self.is_running() {
            eprintln!("--- {} log (last lines):\n{}", self.name, self.log_tail());
        }
        self.kill();
    }
}
