//! Sync over real SSH (tests/common/git_ssh.rs: sshd with its own host key and one deploy
//! key): clone and pull with the deploy key and the host in `source.git.known_hosts`; a wrong
//! key, an unknown host key (in the configured file or, without one, in
//! `~/.ssh/known_hosts`) and a changed host key each refused with 502 while the current
//! commit is served.

use crate::common::client::error_of;
use crate::common::git::*;
use crate::common::git_ssh::{keygen, GitSshServer};
use crate::common::images::{is_solid, png, GREEN, RED};

struct Setup {
    remote: Remote,
    server: GitSshServer,
    keys: tempfile::TempDir,
    deploy_key: String,
}

fn setup() -> Option<Setup> {
    setup_on(None)
}

fn setup_on(port: Option<u16>) -> Option<Setup> {
    let keys = tempfile::tempdir().unwrap();
    let (deploy_key, public) = keygen(keys.path(), "deploy");
    let server = GitSshServer::start_on(&public, port)?;
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    Some(Setup {
        remote,
        server,
        keys,
        deploy_key: deploy_key.display().to_string(),
    })
}

impl Setup {
    /// A known-hosts file holding `lines`.
    fn known_hosts(&self, name: &str, lines: &[String]) -> String {
        let path = self.keys.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path.display().to_string()
    }
}

async fn pull_error(app: &crate::common::app::TestApp) -> String {
    let res = admin_post(app, "/admin/git/pull").await;
    assert_eq!(res.status(), 502);
    let (code, message) = error_of(&res.bytes().await.unwrap());
    assert_eq!(code, "git_remote_error");
    message
}

#[tokio::test]
async fn an_empty_folder_clones_and_pulls_over_ssh_with_a_deploy_key() {
    let Some(s) = setup() else {
        return;
    };
    let url = s.server.url(&s.remote.path());
    let known = s.known_hosts("known_hosts", &[s.server.known_hosts_line()]);
    let empty = tempfile::tempdir().unwrap();
    let app = spawn(
        empty,
        &[
            ("source.git.remote", url.as_str()),
            ("source.git.ssh_key", s.deploy_key.as_str()),
            ("source.git.known_hosts", known.as_str()),
        ],
    )
    .await;
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
    let next = s.remote.commit(&[Change::Put("b.png", png(20, 20, GREEN))]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], next.to_string());
    assert!(is_solid(&fetch(&app, "/img/b.png?w=10").await.1, GREEN));
}

#[tokio::test]
async fn an_scp_like_address_on_port_22_syncs() {
    let Some(s) = setup_on(Some(22)) else {
        return;
    };
    let url = s.server.scp_url(&s.remote.path());
    let known = s.known_hosts("known_hosts", &[s.server.known_hosts_line()]);
    let app = spawn(
        clone(&s.remote),
        &[
            ("source.git.remote", url.as_str()),
            ("source.git.ssh_key", s.deploy_key.as_str()),
            ("source.git.known_hosts", known.as_str()),
        ],
    )
    .await;
    let next = s.remote.commit(&[Change::Put("b.png", png(20, 20, GREEN))]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], next.to_string());
}

#[tokio::test]
async fn a_wrong_key_an_unknown_host_and_a_changed_host_key_are_refused() {
    let Some(s) = setup() else {
        return;
    };
    let url = s.server.url(&s.remote.path());
    let (wrong_key, _) = keygen(s.keys.path(), "not-authorised");
    let wrong_key = wrong_key.display().to_string();
    let known = s.known_hosts("known_hosts", &[s.server.known_hosts_line()]);
    let (_, other_host) = keygen(s.keys.path(), "impostor");
    let other_key = other_host.split_whitespace().nth(1).unwrap();
    let changed = s.known_hosts(
        "changed",
        &[format!(
            "[127.0.0.1]:{} ssh-ed25519 {other_key}",
            s.server.port
        )],
    );
    let unknown = s.known_hosts("unknown", &[format!("github.com ssh-ed25519 {other_key}")]);
    let cases = [
        (
            wrong_key.as_str(),
            known.as_str(),
            "the remote refused the credentials",
        ),
        (
            s.deploy_key.as_str(),
            unknown.as_str(),
            "is not in source.git.known_hosts",
        ),
        (s.deploy_key.as_str(), changed.as_str(), "host key changed"),
        // Without the setting: the service user's ~/.ssh/known_hosts, which lacks this host.
        (s.deploy_key.as_str(), "", "host key is not trusted"),
    ];
    for (i, (key, known_hosts, expected)) in cases.into_iter().enumerate() {
        let app = spawn(
            clone(&s.remote),
            &[
                ("source.git.remote", url.as_str()),
                ("source.git.ssh_key", key),
                ("source.git.known_hosts", known_hosts),
            ],
        )
        .await;
        let name = format!("new-{i}.png");
        s.remote.commit(&[Change::Put(&name, png(20, 20, GREEN))]);
        let message = pull_error(&app).await;
        assert!(message.contains(expected), "case {i}: {message}");
        assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
        assert_eq!(app.get(&format!("/img/{name}?w=10")).await.status(), 404);
    }
}

#[test]
fn a_key_with_a_passphrase_is_refused_when_the_configuration_is_checked() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("locked");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "correct horse", "-f"])
        .arg(&key)
        .output();
    let Ok(made) = made else {
        return; // no ssh-keygen: the server tests above skip too
    };
    assert!(made.status.success());
    let dir = keys.path().display().to_string();
    let key = key.display().to_string();
    let err = imgserver::config::Settings::load(&imgserver::config::LoadOptions::with_overrides([
        ("source.dir", dir.as_str()),
        ("source.git.ssh_key", key.as_str()),
    ]))
    .expect_err("a key with a passphrase is refused");
    assert!(err.to_string().contains("passphrase"), "{err}");
}
