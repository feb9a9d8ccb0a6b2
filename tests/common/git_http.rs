//! A real git smart-HTTP server on loopback, as forges answer: Nginx with basic
//! authentication in front of `git http-backend`, reached through fcgiwrap, serving the bare
//! repositories of one folder. Started by the test harness (the product spawns nothing); killed
//! on drop.
//!
//! Needs nginx, fcgiwrap and git (Debian: `apt-get install -y nginx-light fcgiwrap git`);
//! `.ci/run` installs them. Without them the tests skip, unless `IMGSERVER_REQUIRE_NGINX` says
//! they must run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::nginx::{nginx_binary, Nginx};

/// The user every test token is sent as (what the service sends when the URL names none).
pub const TOKEN_USER: &str = "x-access-token";

pub struct GitHttpServer {
    nginx: Nginx,
    fcgiwrap: Child,
    _socket_dir: tempfile::TempDir,
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

impl GitHttpServer {
    /// Serves the bare repositories under `root` at `/{name}.git`, to `TOKEN_USER` with
    /// password `token` only. `None` (the test skips) when a server program is missing.
    pub fn start(root: &Path, token: &str) -> Option<GitHttpServer> {
        Self::start_with(root, token, None)
    }

    /// As [`start`](Self::start), sending every response at most `bytes_per_second` (Nginx's
    /// `limit_rate`): a forge so slow that a fetch outlasts its timeout.
    pub fn start_throttled(root: &Path, token: &str, bytes_per_second: u32) -> Option<Self> {
        Self::start_with(root, token, Some(bytes_per_second))
    }

    fn start_with(root: &Path, token: &str, rate: Option<u32>) -> Option<GitHttpServer> {
        let nginx = nginx_binary()?;
        let fcgiwrap = find(&["/usr/sbin/fcgiwrap", "/usr/bin/fcgiwrap"]);
        let backend = find(&[
            "/usr/lib/git-core/git-http-backend",
            "/usr/libexec/git-core/git-http-backend",
        ]);
        let (Some(fcgiwrap), Some(backend)) = (fcgiwrap, backend) else {
            assert!(
                std::env::var_os("IMGSERVER_REQUIRE_NGINX").is_none(),
                "fcgiwrap and git-http-backend are required but not installed"
            );
            eprintln!("SKIPPED: fcgiwrap or git-http-backend is not installed");
            return None;
        };
        let socket_dir = tempfile::tempdir().unwrap();
        let socket = socket_dir.path().join("fcgi.sock");
        let child = Command::new(&fcgiwrap)
            .arg("-s")
            .arg(format!("unix:{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fcgiwrap starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "fcgiwrap did not open its socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let root = root.to_path_buf();
        let backend = backend.display().to_string();
        let token = token.to_string();
        let limit = rate.map_or(String::new(), |r| format!("limit_rate {r};\n    "));
        let nginx = Nginx::start(&nginx, None, None, move |port, dir| {
            std::fs::write(
                dir.join("htpasswd"),
                format!("{TOKEN_USER}:{{PLAIN}}{token}\n"),
            )
            .unwrap();
            format!(
                "server {{\n  listen 127.0.0.1:{port};\n  location / {{\n    \
                 auth_basic \"git\";\n    auth_basic_user_file {dir}/htpasswd;\n    \
                 client_max_body_size 0;\n    {limit}include /etc/nginx/fastcgi_params;\n    \
                 fastcgi_param SCRIPT_FILENAME {backend};\n    \
                 fastcgi_param GIT_PROJECT_ROOT {root};\n    \
                 fastcgi_param GIT_HTTP_EXPORT_ALL \"\";\n    \
                 fastcgi_param PATH_INFO $uri;\n    \
                 fastcgi_param REMOTE_USER $remote_user;\n    \
                 fastcgi_pass unix:{socket};\n  }}\n}}\n",
                dir = dir.display(),
                root = root.display(),
                socket = socket.display(),
            )
        });
        Some(GitHttpServer {
            nginx,
            fcgiwrap: child,
            _socket_dir: socket_dir,
        })
    }

    /// The smart-HTTP URL of the repository `name` (`remote.git`), as a forge shows it.
    pub fn url(&self, name: &str) -> String {
        self.nginx.url(&format!("/{name}"))
    }

    /// Makes `token` the one accepted from now on (Nginx reads its password file per request),
    /// as when a forge's token is revoked and another issued.
    pub fn set_token(&self, token: &str) {
        std::fs::write(
            self.nginx.dir().join("htpasswd"),
            format!("{TOKEN_USER}:{{PLAIN}}{token}\n"),
        )
        .unwrap();
    }

    /// Nginx's access log: one line per request, with the status it answered.
    pub fn access_log(&self) -> String {
        self.nginx.access_log()
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        let _ = self.fcgiwrap.kill();
        let _ = self.fcgiwrap.wait();
    }
}
