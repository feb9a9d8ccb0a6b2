//! A real SSH git server on loopback: Debian's `sshd` on a free port with a host key of its
//! own, accepting one deploy key, serving the bare repositories of the test (the client runs
//! `git-upload-pack` there, as on a forge). Keys are made with `ssh-keygen`. Started by the test
//! harness (the product spawns nothing); killed on drop.
//!
//! Needs openssh-server and git (`apt-get install -y openssh-server`); `.ci/run` installs it.
//! Without it the tests skip, unless `IMGSERVER_REQUIRE_NGINX` says the servers must run.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct GitSshServer {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

/// An ed25519 key pair in `dir`: (private key path, public key line).
pub fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_string())
}

impl GitSshServer {
    /// sshd accepting `authorized` (a public key line) for the current user. `None` (the test
    /// skips) when sshd is not installed.
    pub fn start(authorized: &str) -> Option<GitSshServer> {
        Self::start_on(authorized, None)
    }

    /// As [`start`](Self::start), on `port` when given (22, for scp-like addresses, which
    /// cannot name a port); `None` also when that port is taken.
    pub fn start_on(authorized: &str, fixed: Option<u16>) -> Option<GitSshServer> {
        let sshd = PathBuf::from("/usr/sbin/sshd");
        if !sshd.is_file() {
            assert!(
                std::env::var_os("IMGSERVER_REQUIRE_NGINX").is_none(),
                "sshd is required but not installed (apt-get install -y openssh-server)"
            );
            eprintln!("SKIPPED: sshd is not installed");
            return None;
        }
        // sshd's privilege separation needs its empty directory.
        std::fs::create_dir_all("/run/sshd").ok();
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let (host_key, _) = keygen(dir.path(), "host_key");
            std::fs::write(
                dir.path().join("authorized_keys"),
                format!("{authorized}\n"),
            )
            .unwrap();
            let port = match fixed {
                Some(port) => {
                    if TcpListener::bind(("127.0.0.1", port)).is_err() {
                        eprintln!("SKIPPED: 127.0.0.1:{port} is taken");
                        return None;
                    }
                    port
                }
                None => TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port(),
            };
            let d = dir.path().display();
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
                 LogLevel ERROR\n",
                host_key.display()
            );
            let conf = dir.path().join("sshd_config");
            std::fs::write(&conf, config).unwrap();
            let mut child = Command::new(&sshd)
                .args(["-D", "-e", "-f"])
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sshd starts");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(GitSshServer { child, port, dir });
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("sshd did not start");
    }

    /// The server's host key line for a known-hosts file (`[127.0.0.1]:port type key`, or
    /// `127.0.0.1 type key` on port 22, as `ssh-keyscan` writes them).
    pub fn known_hosts_line(&self) -> String {
        let public = std::fs::read_to_string(self.dir.path().join("host_key.pub")).unwrap();
        let mut fields = public.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        match self.port {
            22 => format!("127.0.0.1 {kind} {key}"),
            port => format!("[127.0.0.1]:{port} {kind} {key}"),
        }
    }

    /// The scp-like address of `repo` (`user@127.0.0.1:/path/repo.git`), port 22 only.
    pub fn scp_url(&self, repo: &Path) -> String {
        assert_eq!(self.port, 22, "scp-like addresses cannot name a port");
        format!("{}@127.0.0.1:{}", user(), repo.display())
    }

    /// `ssh://user@127.0.0.1:port/path/to/repo.git` for the current user.
    pub fn url(&self, repo: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", user(), self.port, repo.display())
    }
}

/// The user the tests log in as: the one running them (sshd serves real accounts).
fn user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

impl Drop for GitSshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
