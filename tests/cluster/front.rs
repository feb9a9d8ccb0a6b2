//! The real Nginx with `deploy/nginx/imgserver-cluster.conf`: only the instance addresses and
//! the listen address are templated (and, for the control run, the hash line removed). Its
//! access log records which instances each request went to.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::process_common::nginx_binary;
use crate::watchdog::Watchdog;

/// The instance addresses in the deployed file, in order.
pub const DEPLOYED_INSTANCES: [&str; 3] = ["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"];
pub const HASH_LINE: &str = "hash $uri$is_args$args consistent;";

/// One line of the access log: the instances tried, in order, and their statuses.
#[derive(Debug)]
pub struct Access {
    pub uri: String,
    pub status: u16,
    pub upstreams: Vec<String>,
    pub upstream_statuses: Vec<String>,
}

pub struct Nginx {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    watchdog: Watchdog,
}

impl Nginx {
    /// Nginx in front of `instances` ("127.0.0.1:port", in the deployed file's order), with
    /// its files under `dir`.
    pub fn start(
        binary: &Path,
        dir: &Path,
        instances: &[String],
        hashing: bool,
        watchdog: &Watchdog,
    ) -> Nginx {
        for attempt in 0..5 {
            let dir = dir.join(format!("nginx-{attempt}"));
            if let Some(nginx) = Self::try_start(binary, &dir, instances, hashing, watchdog) {
                return nginx;
            }
        }
        panic!("nginx did not start");
    }

    fn try_start(
        binary: &Path,
        dir: &Path,
        instances: &[String],
        hashing: bool,
        watchdog: &Watchdog,
    ) -> Option<Nginx> {
        std::fs::create_dir_all(dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let deployed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/imgserver-cluster.conf"),
        )
        .unwrap();
        let mut site = deployed;
        for (deployed, actual) in DEPLOYED_INSTANCES.iter().zip(instances) {
            assert!(
                site.matches(deployed).count() >= 2,
                "the cluster file should name {deployed} in the upstreams"
            );
            site = site.replace(deployed, actual);
        }
        site = replace_once(&site, "listen 80;", &format!("listen 127.0.0.1:{port};"));
        site = replace_once(&site, "listen [::]:80;", "");
        if !hashing {
            site = replace_once(&site, HASH_LINE, "# round robin (control run)");
        }
        std::fs::write(dir.join("site.conf"), site).unwrap();
        let d = dir.display();
        let main = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  \
             log_format cluster '$status \"$upstream_addr\" \"$upstream_status\" $request_uri';\n  \
             access_log {d}/access.log cluster;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             include {d}/site.conf;\n}}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, main).unwrap();
        let args = |extra: &[&str]| {
            let mut cmd = Command::new(binary);
            cmd.arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.join("error.log"))
                .args(extra)
                .stdin(Stdio::null());
            cmd
        };
        let check = args(&["-t"]).output().expect("nginx -t runs");
        assert!(
            check.status.success(),
            "nginx -t refuses the cluster config: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let mut child = args(&[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        watchdog.track(child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Nginx {
                    child: Some(child),
                    port,
                    dir: dir.to_path_buf(),
                    watchdog: watchdog.clone(),
                });
            }
            if child.try_wait().unwrap().is_some() {
                // Most likely the port was taken in between: try another.
                watchdog.untrack(child.id());
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        watchdog.untrack(child.id());
        None
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Every request logged so far.
    pub fn accesses(&self) -> Vec<Access> {
        let text = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let (status, rest) = line.split_once(' ')?;
                let mut quoted = rest.split('"');
                let _ = quoted.next()?;
                let upstreams = quoted.next()?;
                let _ = quoted.next()?;
                let statuses = quoted.next()?;
                let uri = quoted.next()?.trim();
                let list = |s: &str| -> Vec<String> {
                    s.split([',', ':'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty() && *s != "-")
                        .map(String::from)
                        .collect()
                };
                Some(Access {
                    uri: uri.to_string(),
                    status: status.parse().ok()?,
                    upstreams: upstreams
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty() && s != "-")
                        .collect(),
                    upstream_statuses: list(statuses),
                })
            })
            .collect()
    }

    /// The `count` logged requests `matching` (Nginx logs a request just after its last byte
    /// is sent: wait a little for the last lines).
    pub fn wait_accesses(&self, count: usize, matching: impl Fn(&Access) -> bool) -> Vec<Access> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found: Vec<Access> = self.accesses().into_iter().filter(&matching).collect();
            if found.len() >= count || Instant::now() > deadline {
                assert_eq!(found.len(), count, "Nginx logged every request");
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn error_log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            let _ = child.kill();
            let _ = child.wait();
            self.watchdog.untrack(pid);
        }
        if std::thread::panicking() {
            eprintln!(
                "--- nginx error.log (last lines):\n{}",
                self.error_log_tail()
            );
        }
    }
}

/// `text` with `from`, which must occur exactly once, replaced: a change of the deployed file
/// cannot silently leave the test on the wrong address.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "deploy/nginx/imgserver-cluster.conf should contain {from:?} once"
    );
    text.replace(from, to)
}
