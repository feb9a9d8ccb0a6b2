//! A sync that fails changes nothing: an unreachable remote (502), a remote that never answers
//! (504 after `source.git.timeout`), refused or missing credentials (502); serving goes on from
//! the current commit, the error is kept in the status, and no credential shows anywhere.
//! Concurrent pulls join one sync.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::common::client::error_of;
use crate::common::git::*;
use crate::common::git_servers::*;
use crate::common::images::{is_solid, png, RED};
use base64::Engine;

/// A checkout of a one-image remote, then served with `overrides` (typically pointing origin
/// somewhere that fails).
async fn served(overrides: &[(&str, &str)]) -> (Remote, crate::common::app::TestApp) {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(40, 30, RED))]);
    let app = spawn(clone(&remote), overrides).await;
    (remote, app)
}

async fn assert_still_serving(app: &crate::common::app::TestApp) {
    let (_, body) = fetch(app, "/img/a.png?w=20").await;
    assert!(is_solid(&body, RED));
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn an_unreachable_remote_is_a_502_and_changes_nothing() {
    let url = format!(
        "https://deploy:hunter2-secret@127.0.0.1:{}/org/images.git",
        closed_port()
    );
    let (_remote, app) = served(&[("source.git.remote", url.as_str())]).await;
    fetch(&app, "/img/a.png?w=20").await;
    let before = status(&app).await["commit"].clone();

    let res = admin_post(&app, "/admin/git/pull").await;
    assert_eq!(res.status(), 502);
    let body = res.text().await.unwrap();
    let (code, message) = error_of(body.as_bytes());
    assert_eq!(code, "git_remote_error");
    assert!(message.contains("cannot reach the remote"), "{message}");
    assert!(!body.contains("hunter2"), "{body}");

    assert_still_serving(&app).await;
    let res = admin_get(&app, "/admin/git/status").await;
    let text = res.text().await.unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("deploy"), "{text}");
    let s: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["commit"], before);
    assert_eq!(
        s["remote"].as_str().unwrap(),
        url.replace("deploy:hunter2-secret@", "")
    );
    assert_eq!(s["last_error"]["code"], "git_remote_error");
    assert_eq!(s["last_sync"]["result"], "failed");
}

#[tokio::test]
async fn a_missing_remote_repository_is_a_502() {
    let missing = tempfile::tempdir().unwrap();
    let url = format!("file://{}/nothing.git", missing.path().display());
    let (_remote, app) = served(&[("source.git.remote", url.as_str())]).await;
    let res = admin_post(&app, "/admin/git/pull").await;
    assert_eq!(res.status(), 502);
    let body = res.text().await.unwrap();
    assert_eq!(error_of(body.as_bytes()).0, "git_remote_error");
    assert!(!body.contains(missing.path().to_str().unwrap()), "{body}");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_silent_remote_times_out_with_504_and_changes_nothing() {
    let server = SilentServer::start();
    let url = server.url();
    let (_remote, app) = served(&[
        ("source.git.remote", url.as_str()),
        ("source.git.timeout", "1s"),
    ])
    .await;
    let started = Instant::now();
    let res = admin_post(&app, "/admin/git/pull").await;
    let took = started.elapsed();
    assert_eq!(res.status(), 504);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "git_timeout");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(server.accepted.load(Ordering::SeqCst) >= 1);
    assert_still_serving(&app).await;
    let s = status(&app).await;
    assert_eq!(s["last_error"]["code"], "git_timeout");
    assert!(!s["syncing"].as_bool().unwrap());
}

#[tokio::test]
async fn twenty_concurrent_pulls_run_one_sync() {
    let server = SilentServer::start();
    let url = server.url();
    let (_remote, app) = served(&[
        ("source.git.remote", url.as_str()),
        ("source.git.timeout", "3s"),
    ])
    .await;
    let pulls = (0..20).map(|_| async {
        let res = admin_post(&app, "/admin/git/pull").await;
        res.status().as_u16()
    });
    let statuses = futures_util::future::join_all(pulls).await;
    assert_eq!(statuses, vec![504; 20]);
    // One sync, so one connection to the remote, and one sync in the status.
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(status(&app).await["syncs"], 1);
}

#[tokio::test]
async fn the_token_is_sent_as_the_password_and_a_refusal_is_a_502() {
    let server = RefusingServer::start();
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), "tok-from-file-123\n").unwrap();
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let token_path = token_file.path().display().to_string();
    let (_remote, app) = served(&[
        ("source.git.remote", url.as_str()),
        ("source.git.token_file", token_path.as_str()),
    ])
    .await;
    let res = admin_post(&app, "/admin/git/pull").await;
    assert_eq!(res.status(), 502);
    let body = res.text().await.unwrap();
    let (code, message) = error_of(body.as_bytes());
    assert_eq!(code, "git_remote_error");
    assert_eq!(message, "the remote refused the credentials");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("x-access-token:tok-from-file-123")
    );
    assert!(
        server.authorizations.lock().unwrap().contains(&expected),
        "the token was not offered"
    );
    let status_text = admin_get(&app, "/admin/git/status")
        .await
        .text()
        .await
        .unwrap();
    assert!(!status_text.contains("tok-from-file"), "{status_text}");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_remote_asking_for_credentials_without_any_configured_is_a_502() {
    let server = RefusingServer::start();
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let (_remote, app) = served(&[("source.git.remote", url.as_str())]).await;
    let res = admin_post(&app, "/admin/git/pull").await;
    assert_eq!(res.status(), 502);
    let (_, message) = error_of(&res.bytes().await.unwrap());
    assert!(message.contains("requires credentials"), "{message}");
}

#[tokio::test]
async fn an_unreachable_remote_at_start_serves_nothing_until_a_sync_works() {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(40, 30, RED))]);
    let url = format!("http://127.0.0.1:{}/repo.git", closed_port());
    let empty = tempfile::tempdir().unwrap();
    let app = spawn(empty, &[("source.git.remote", url.as_str())]).await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/img/a.png").await.status(), 404);
    let s = status(&app).await;
    assert!(s["commit"].is_null());
    assert_eq!(s["last_error"]["code"], "git_remote_error");
    assert_eq!(s["last_sync"]["trigger"], "startup");

    // The remote comes back (here: origin repointed at a reachable one).
    let repo = git2::Repository::open(app.root.path()).unwrap();
    repo.remote_set_url("origin", &remote.url()).unwrap();
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert!(report["from"].is_null());
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert!(is_solid(&fetch(&app, "/img/a.png").await.1, RED));
}

#[tokio::test]
async fn a_checkout_without_any_remote_is_a_409() {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(40, 30, RED))]);
    let checkout = clone(&remote);
    git2::Repository::open(checkout.path())
        .unwrap()
        .remote_delete("origin")
        .unwrap();
    let app = spawn(checkout, &[]).await;
    assert_still_serving(&app).await;
    let res = admin_post(&app, "/admin/git/pull").await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "conflict");
}
