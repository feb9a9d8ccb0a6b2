//! The real Nginx, single process, in front of servers on loopback: a deployed site file of
//! `deploy/nginx/` with only its addresses and paths templated, a free port, killed on drop.
//!
//! Needs `nginx` (Debian: `apt-get install -y nginx-light`); `.ci/run` installs it and sets
//! IMGSERVER_REQUIRE_NGINX=1, which turns a missing binary into a failure instead of a skip.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Nginx, from `$IMGSERVER_NGINX`, the sbin folders or `PATH`. `None` (the test skips) when it
/// is not installed, unless `$IMGSERVER_REQUIRE_NGINX` says it must be.
pub fn nginx_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("IMGSERVER_NGINX") {
        return Some(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = vec!["/usr/sbin".into(), "/usr/local/sbin".into()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let found = dirs
        .into_iter()
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("IMGSERVER_REQUIRE_NGINX").is_none(),
            "nginx is required (IMGSERVER_REQUIRE_NGINX) but not installed"
        );
        eprintln!("SKIPPED: nginx is not installed (apt-get install -y nginx-light)");
    }
    found
}

/// A deployed file of the repository (`deploy/nginx/...`) as text.
pub fn deployed(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

/// `text` (of `file`) with each `(from, to)` replaced; each `from` must occur exactly once, so
/// a change of the deployed file cannot silently leave the test on the wrong port or path.
pub fn template(file: &str, text: &str, replacements: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (from, to) in replacements {
        assert_eq!(
            out.matches(from).count(),
            1,
            "{file} should contain {from:?} once"
        );
        out = out.replace(from, to);
    }
    out
}

/// The `listen` lines of a deployed site, moved to `127.0.0.1:port` (no IPv6).
pub fn listen_on(file: &str, site: &str, port: u16) -> String {
    template(
        file,
        site,
        &[
            ("listen 80;", format!("listen 127.0.0.1:{port};")),
            ("listen [::]:80;", String::new()),
        ],
    )
}

pub struct Nginx {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    _temp: Option<TempDir>,
}

impl Nginx {
    /// Nginx with `site(port, dir)` as its only site, listening on a free port, its files in a
    /// fresh folder (under `home` when given, else a temp one); `log_format` names the access
    /// log's format (Nginx's default when `None`). A lost race for the port is retried.
    pub fn start(
        binary: &Path,
        home: Option<&Path>,
        log_format: Option<&str>,
        site: impl Fn(u16, &Path) -> String,
    ) -> Nginx {
        for attempt in 0..5 {
            let (dir, temp) = match home {
                Some(home) => (home.join(format!("nginx-{attempt}")), None),
                None => {
                    let temp = tempfile::tempdir().unwrap();
                    (temp.path().to_path_buf(), Some(temp))
                }
            };
            std::fs::create_dir_all(&dir).unwrap();
            if let Some(nginx) = Self::try_start(binary, dir, temp, log_format, &site) {
                return nginx;
            }
        }
        panic!("nginx did not start");
    }

    fn try_start(
        binary: &Path,
        dir: PathBuf,
        temp: Option<TempDir>,
        log_format: Option<&str>,
        site: &impl Fn(u16, &Path) -> String,
    ) -> Option<Nginx> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(dir.join("site.conf"), site(port, &dir)).unwrap();
        let d = dir.display();
        let (format_line, format_name) = match log_format {
            Some(format) => (format!("log_format custom '{format}';\n  "), " custom"),
            None => (String::new(), ""),
        };
        let main = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  {format_line}access_log {d}/access.log{format_name};\n  \
             client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             include {d}/site.conf;\n}}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, main).unwrap();
        let args = |extra: &[&str]| {
            let mut cmd = Command::new(binary);
            cmd.arg("-p")
                .arg(&dir)
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
            "nginx -t refuses the deployed config: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let mut child = args(&[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Nginx {
                    child,
                    port,
                    dir,
                    _temp: temp,
                });
            }
            if child.try_wait().unwrap().is_some() {
                // Most likely the port was taken in between: try another.
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// The folder of its configuration and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The access log so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    pub fn error_log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- nginx error.log (last lines):\n{}",
                self.error_log_tail()
            );
        }
    }
}
