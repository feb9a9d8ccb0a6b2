//! `POST /hooks/git`: signed pushes from GitHub, Gitea/Forgejo and GitLab trigger a background
//! sync (202); bad or missing signatures are 401; other branches, pings and tags are
//! acknowledged and ignored; big bodies are 413; no secret, no endpoint.

use std::time::{Duration, Instant};

use crate::common::git::*;
use crate::common::images::{is_solid, png, BLUE, GREEN, RED};
use crate::common::{app::TestApp, client::error_of};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &str = "webhook-secret-for-tests";

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn push_body(branch: &str) -> String {
    format!(r#"{{"ref":"refs/heads/{branch}","after":"0000000","repository":{{"name":"images"}}}}"#)
}

async fn hook(app: &TestApp, body: &str, headers: &[(&str, String)]) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/hooks/git"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    req.send().await.unwrap()
}

fn github(body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("X-GitHub-Event", "push".to_string()),
        (
            "X-Hub-Signature-256",
            format!("sha256={}", signature(SECRET, body.as_bytes())),
        ),
    ]
}

async fn git_app() -> (Remote, TestApp) {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(40, 30, RED))]);
    let app = spawn(clone(&remote), &[("webhook.secret", SECRET)]).await;
    (remote, app)
}

/// Waits until the served commit is `commit`.
async fn wait_for_commit(app: &TestApp, commit: git2::Oid) {
    let started = Instant::now();
    while status(app).await["commit"] != commit.to_string() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the webhook did not sync"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_signed_github_push_syncs_in_the_background() {
    let (remote, app) = git_app().await;
    let head = remote.commit(&[Change::Put("a.png", png(40, 30, BLUE))]);
    let body = push_body("main");
    let res = hook(&app, &body, &github(&body)).await;
    assert_eq!(res.status(), 202);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["status"], "accepted");
    wait_for_commit(&app, head).await;
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, BLUE));
    assert_eq!(status(&app).await["last_sync"]["trigger"], "webhook");
}

#[tokio::test]
async fn gitea_forgejo_and_gitlab_pushes_sync() {
    let (remote, app) = git_app().await;
    let body = push_body("main");
    let senders: Vec<Vec<(&str, String)>> = vec![
        vec![
            ("X-Gitea-Event", "push".into()),
            ("X-Gitea-Signature", signature(SECRET, body.as_bytes())),
        ],
        vec![
            ("X-Forgejo-Event", "push".into()),
            ("X-Forgejo-Signature", signature(SECRET, body.as_bytes())),
        ],
        vec![
            ("X-Gitlab-Event", "Push Hook".into()),
            ("X-Gitlab-Token", SECRET.into()),
        ],
    ];
    for (round, headers) in senders.iter().enumerate() {
        let colour = if round % 2 == 0 { BLUE } else { GREEN };
        let head = remote.commit(&[Change::Put("a.png", png(40, 30, colour))]);
        let res = hook(&app, &body, headers).await;
        assert_eq!(res.status(), 202, "{headers:?}");
        wait_for_commit(&app, head).await;
    }
}

#[tokio::test]
async fn bad_or_missing_signatures_are_401_and_sync_nothing() {
    let (remote, app) = git_app().await;
    remote.commit(&[Change::Put("a.png", png(40, 30, BLUE))]);
    let body = push_body("main");
    let other_body = push_body("other");
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("X-GitHub-Event", "push".into())],
        vec![(
            "X-Hub-Signature-256",
            format!("sha256={}", signature("wrong-secret", body.as_bytes())),
        )],
        // Signed, but over another body.
        vec![(
            "X-Hub-Signature-256",
            format!("sha256={}", signature(SECRET, other_body.as_bytes())),
        )],
        vec![(
            "X-Hub-Signature-256",
            signature(SECRET, body.as_bytes()), // without the sha256= prefix
        )],
        vec![("X-Hub-Signature-256", "sha256=zzzz".into())],
        vec![(
            "X-Gitea-Signature",
            signature("wrong-secret", body.as_bytes()),
        )],
        vec![("X-Gitlab-Token", format!("{SECRET}x"))],
        vec![("X-Gitlab-Token", String::new())],
    ];
    for headers in &cases {
        let res = hook(&app, &body, headers).await;
        assert_eq!(res.status(), 401, "{headers:?}");
        assert_eq!(error_of(&res.bytes().await.unwrap()).0, "unauthorized");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = status(&app).await;
    assert_eq!(s["syncs"], 0);
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
}

#[tokio::test]
async fn other_branches_pings_and_tags_are_acknowledged_and_ignored() {
    let (remote, app) = git_app().await;
    remote.commit(&[Change::Put("a.png", png(40, 30, BLUE))]);
    let other = push_body("feature/x");
    let tag = r#"{"ref":"refs/tags/v1"}"#.to_string();
    let ping = r#"{"zen":"hi"}"#.to_string();
    for (body, event, reason) in [
        (&other, "push", "push to another branch"),
        (&tag, "push", "not a branch push"),
        (&ping, "ping", "ping"),
        (&other, "issues", "not a push event"),
    ] {
        let mut headers = github(body);
        headers[0].1 = event.into();
        let res = hook(&app, body, &headers).await;
        assert_eq!(res.status(), 200, "{body}");
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(json["status"], "ignored");
        assert_eq!(json["reason"], reason);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&app).await["syncs"], 0);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let (_remote, app) = git_app().await;
    let body = format!(
        r#"{{"ref":"refs/heads/main","pad":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let res = hook(&app, &body, &github(&body)).await;
    assert_eq!(res.status(), 413);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "payload_too_large");
}

#[tokio::test]
async fn without_a_secret_the_webhook_does_not_exist() {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(40, 30, RED))]);
    let app = spawn(clone(&remote), &[]).await;
    let body = push_body("main");
    let res = hook(&app, &body, &github(&body)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.get("/hooks/git").await.status(), 404);
}

#[tokio::test]
async fn a_signed_push_to_a_plain_folder_is_409() {
    let app = TestApp::spawn_with(&[("webhook.secret", SECRET)]).await;
    let body = push_body("main");
    let res = hook(&app, &body, &github(&body)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        error_of(&res.bytes().await.unwrap()).0,
        "not_a_git_repository"
    );
    assert_eq!(app.get("/hooks/git").await.status(), 405);
}
