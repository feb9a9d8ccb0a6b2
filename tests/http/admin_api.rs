//! The admin API and goimgserver's `/cmd/` commands: off without a token, 401 without the right
//! one, and what each call does with it (pull, status, cache clear and stats).

use crate::common::git::*;
use crate::common::git_servers::*;
use crate::common::images::{is_solid, png, BLUE, GREEN, RED};
use crate::common::{app::TestApp, client::error_of};

/// Every admin call: (method, path, body).
const CALLS: &[(&str, &str, &str)] = &[
    ("POST", "/admin/git/pull", ""),
    ("GET", "/admin/git/status", ""),
    ("POST", "/admin/cache/clear", ""),
    ("POST", "/admin/cache/clear", r#"{"prefix":"cats/"}"#),
    ("GET", "/admin/cache/stats", ""),
    ("POST", "/cmd/clear", ""),
    ("POST", "/cmd/gitupdate", ""),
    ("POST", "/cmd/bogus", ""),
];

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: &str,
    auth: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .body(body.to_string());
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    req.send().await.unwrap()
}

async fn git_app() -> (Remote, TestApp) {
    let remote = Remote::new();
    remote.commit(&[
        Change::Put("cats/a.png", png(40, 30, RED)),
        Change::Put("b.png", png(40, 30, GREEN)),
    ]);
    let app = spawn(clone(&remote), &[]).await;
    (remote, app)
}

#[tokio::test]
async fn every_admin_call_needs_the_right_token() {
    let (_remote, app) = git_app().await;
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    let basic = format!("Basic {ADMIN_TOKEN}");
    for &(method, path, body) in CALLS {
        for auth in [
            None,
            Some(wrong.as_str()),
            Some("Bearer "),
            Some(basic.as_str()),
        ] {
            let res = call(&app, method, path, body, auth).await;
            assert_eq!(res.status(), 401, "{method} {path} with {auth:?}");
            assert_eq!(res.headers()["www-authenticate"], "Bearer");
            let json: serde_json::Value = res.json().await.unwrap();
            if path.starts_with("/cmd/") {
                assert_eq!(json["success"], false);
                assert_eq!(json["code"], "UNAUTHORIZED");
            } else {
                assert_eq!(json["error"]["code"], "unauthorized");
            }
        }
        let res = call(&app, method, path, body, Some(bearer.as_str())).await;
        let expected = if path == "/cmd/bogus" { 400 } else { 200 };
        assert_eq!(res.status(), expected, "{method} {path} with the token");
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    // Nothing was pulled by the refused calls: only the three allowed pulls ran.
    assert_eq!(status(&app).await["syncs"], 2);
}

#[tokio::test]
async fn without_an_admin_token_the_admin_api_does_not_exist() {
    let app = TestApp::spawn().await;
    for &(method, path, body) in CALLS {
        for auth in [None, Some("Bearer anything")] {
            let res = call(&app, method, path, body, auth).await;
            assert_eq!(res.status(), 404, "{method} {path}");
            assert_eq!(error_of(&res.bytes().await.unwrap()).0, "not_found");
        }
    }
    assert_eq!(app.get("/admin/git/pull").await.status(), 404);
    assert_eq!(app.get("/cmd/clear").await.status(), 404);
}

#[tokio::test]
async fn wrong_methods_are_405_with_a_token() {
    let app = TestApp::spawn_with(&[("admin.token", ADMIN_TOKEN)]).await;
    assert_eq!(app.get("/admin/git/pull").await.status(), 405);
    assert_eq!(app.get("/admin/cache/clear").await.status(), 405);
    assert_eq!(app.get("/cmd/clear").await.status(), 405);
    let res = admin_post(&app, "/admin/cache/stats").await;
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn git_endpoints_on_a_plain_folder_are_409() {
    let app = TestApp::spawn_with(&[("admin.token", ADMIN_TOKEN)]).await;
    for res in [
        admin_post(&app, "/admin/git/pull").await,
        admin_get(&app, "/admin/git/status").await,
    ] {
        assert_eq!(res.status(), 409);
        assert_eq!(
            error_of(&res.bytes().await.unwrap()).0,
            "not_a_git_repository"
        );
    }
    let res = admin_post(&app, "/cmd/gitupdate").await;
    assert_eq!(res.status(), 409);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["success"], false);
    assert_eq!(json["code"], "GIT_NOT_FOUND");
    assert_eq!(json["error"], "Images directory is not a git repository");
}

async fn clear(app: &TestApp, body: &str) -> (u16, serde_json::Value) {
    let res = app
        .client
        .post(app.url("/admin/cache/clear"))
        .bearer_auth(ADMIN_TOKEN)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn cache_of(app: &TestApp, path: &str) -> String {
    fetch(app, path).await.0
}

#[tokio::test]
async fn cache_clear_by_path_prefix_and_all() {
    let app = TestApp::spawn_with(&[("admin.token", ADMIN_TOKEN)]).await;
    let variants = [
        "/img/cats/kitten.png?w=20",
        "/img/cats/default.jpg?w=20",
        "/img/storm.jpg?w=20",
    ];
    for v in variants {
        assert_eq!(cache_of(&app, v).await, "miss");
        assert_eq!(cache_of(&app, v).await, "hit-memory");
    }

    let (code, out) = clear(&app, r#"{"path":"cats/kitten.png"}"#).await;
    assert_eq!(code, 200, "{out}");
    assert!(out["removed_entries"].as_u64().unwrap() >= 1, "{out}");
    assert!(out["freed_bytes"].as_u64().unwrap() > 0, "{out}");
    assert_eq!(cache_of(&app, variants[0]).await, "miss");
    assert_eq!(cache_of(&app, variants[1]).await, "hit-memory");

    let (code, out) = clear(&app, r#"{"prefix":"cats/"}"#).await;
    assert_eq!(code, 200);
    assert!(out["removed_entries"].as_u64().unwrap() >= 2, "{out}");
    assert_eq!(cache_of(&app, variants[1]).await, "miss");
    assert_eq!(cache_of(&app, variants[2]).await, "hit-memory");

    // Left: the default.jpg variant rendered again above, and storm.jpg's.
    let (code, out) = clear(&app, "").await;
    assert_eq!(code, 200);
    assert!(out["removed_entries"].as_u64().unwrap() >= 2, "{out}");
    for v in variants {
        assert_eq!(cache_of(&app, v).await, "miss");
    }
    let (code, out) = clear(&app, "{}").await;
    assert_eq!(code, 200);
    assert!(out["removed_entries"].as_u64().unwrap() >= 3, "{out}");
}

#[tokio::test]
async fn cache_clear_refuses_bad_bodies() {
    let app = TestApp::spawn_with(&[("admin.token", ADMIN_TOKEN)]).await;
    for body in [
        r#"{"path":"../etc/passwd"}"#,
        r#"{"path":".git/config"}"#,
        r#"{"prefix":"a\\b"}"#,
        r#"{"prefix":"a","path":"b"}"#,
        r#"{"everything":true}"#,
        "not json",
    ] {
        let (code, out) = clear(&app, body).await;
        assert_eq!(code, 400, "{body}: {out}");
        assert_eq!(out["error"]["code"], "invalid_parameter");
    }
    let big = format!(r#"{{"path":"{}"}}"#, "a".repeat(1 << 20));
    let (code, out) = clear(&app, &big).await;
    assert_eq!(code, 413);
    assert_eq!(out["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn every_admin_call_refuses_a_body_over_one_mebibyte() {
    let (_remote, app) = git_app().await;
    let big = "x".repeat((1 << 20) + 1);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    for &(method, path, _) in CALLS {
        let res = call(&app, method, path, &big, Some(bearer.as_str())).await;
        assert_eq!(res.status(), 413, "{method} {path}");
    }
    assert_eq!(status(&app).await["syncs"], 0);
}

#[tokio::test]
async fn cache_stats_report_each_tier() {
    let app = TestApp::spawn_with(&[("admin.token", ADMIN_TOKEN)]).await;
    fetch(&app, "/img/storm.jpg?w=20").await;
    fetch(&app, "/img/storm.jpg?w=20").await;
    let res = admin_get(&app, "/admin/cache/stats").await;
    assert_eq!(res.status(), 200);
    let stats: serde_json::Value = res.json().await.unwrap();
    for tier in ["memory", "disk"] {
        for field in [
            "entries",
            "bytes",
            "budget_bytes",
            "hits",
            "misses",
            "evictions",
        ] {
            assert!(stats[tier][field].is_u64(), "{tier}.{field}: {stats}");
        }
    }
    assert!(stats["memory"]["hits"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["memory"]["misses"].as_u64().unwrap() >= 1, "{stats}");
    let ratio = stats["hit_ratio"].as_f64().unwrap();
    assert!(ratio > 0.0 && ratio <= 1.0, "{stats}");
}

#[tokio::test]
async fn pull_and_status_report_in_full() {
    let (remote, app) = git_app().await;
    let s = status(&app).await;
    assert_eq!(s["commit"], remote.head().unwrap().to_string());
    assert_eq!(s["branch"], "main");
    assert_eq!(s["remote"], remote.url());
    assert_eq!(s["on_diverge"], "reset");
    assert!(s["sync_interval"].is_null());
    assert_eq!(s["syncing"], false);
    assert!(s["last_sync"].is_null());

    let head = remote.commit(&[Change::Put("b.png", png(40, 30, BLUE))]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200);
    for field in [
        "updated",
        "from",
        "to",
        "changed",
        "invalidated",
        "duration_ms",
    ] {
        assert!(!report[field].is_null(), "{field}: {report}");
    }
    let s = status(&app).await;
    assert_eq!(s["commit"], head.to_string());
    assert_eq!(s["last_sync"]["result"], "updated");
    assert_eq!(s["last_sync"]["trigger"], "admin");
    assert_eq!(s["last_sync"]["to"], head.to_string());
    assert!(s["last_success_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn goimgserver_commands_answer_in_its_shapes() {
    let (remote, app) = git_app().await;
    fetch(&app, "/img/cats/a.png?w=20").await;
    fetch(&app, "/img/b.png?w=20").await;

    let res = admin_post(&app, "/cmd/clear").await;
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["success"], true);
    assert_eq!(json["message"], "Cache cleared successfully");
    assert!(json["cleared_files"].as_u64().unwrap() >= 2, "{json}");
    let freed = json["freed_space"].as_str().unwrap();
    let (number, unit) = freed.split_once(' ').unwrap();
    assert!(
        number.parse::<f64>().is_ok() && ["B", "KB", "MB"].contains(&unit),
        "{freed}"
    );
    assert_eq!(cache_of(&app, "/img/b.png?w=20").await, "miss");

    let head = remote.commit(&[Change::Put("b.png", png(40, 30, BLUE))]);
    let res = admin_post(&app, "/cmd/gitupdate").await;
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["success"], true);
    assert_eq!(json["message"], "Git update completed");
    assert_eq!(json["changes"], 1);
    assert_eq!(json["branch"], "main");
    assert_eq!(json["last_commit"], head.to_string()[..7]);
    assert!(is_solid(&fetch(&app, "/img/b.png?w=20").await.1, BLUE));

    let json: serde_json::Value = admin_post(&app, "/cmd/gitupdate")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["changes"], 0);

    let res = admin_post(&app, "/cmd/reboot").await;
    assert_eq!(res.status(), 400);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["success"], false);
    assert_eq!(json["code"], "INVALID_COMMAND");
    assert_eq!(json["error"], "invalid command: reboot");
}

#[tokio::test]
async fn gitupdate_failures_use_goimgserver_codes() {
    let url = format!("http://127.0.0.1:{}/repo.git", closed_port());
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(40, 30, RED))]);
    let app = spawn(clone(&remote), &[("source.git.remote", url.as_str())]).await;
    let res = admin_post(&app, "/cmd/gitupdate").await;
    assert_eq!(res.status(), 502);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["success"], false);
    assert_eq!(json["code"], "GIT_UPDATE_FAILED");
    assert!(json["error"]
        .as_str()
        .unwrap()
        .starts_with("git update failed: "));
}

#[tokio::test]
async fn commands_are_under_the_admin_limit_and_audited_like_every_control_call() {
    crate::common::audit::audit_lines();
    let app = TestApp::spawn_with(&[
        ("admin.token", ADMIN_TOKEN),
        ("limits.admin_per_minute", "3"),
    ])
    .await;
    let client = crate::common::client::client_from([127, 0, 0, 51]);
    let right = format!("Bearer {ADMIN_TOKEN}");
    let send = |method: &str, path: &str, auth: &str| {
        client
            .request(method.parse().unwrap(), app.url(path))
            .header("Authorization", auth.to_string())
            .send()
    };
    let wrong = "Bearer not-the-admin-token-0123";
    // A guess on the studio's API and one on a command draw from the same budget.
    assert_eq!(send("GET", "/api/tree", wrong).await.unwrap().status(), 200);
    let res = send("POST", "/cmd/gitupdate", wrong).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(
        send("POST", "/cmd/clear", &right).await.unwrap().status(),
        200
    );
    assert_eq!(
        send("POST", "/cmd/clear", &right).await.unwrap().status(),
        429
    );
    let res = send("GET", "/admin/cache/stats", &right).await.unwrap();
    assert_eq!(res.status(), 429);

    let lines: Vec<(String, u64, String)> = crate::common::audit::audit_lines()
        .into_iter()
        .filter(|l| l["fields"]["client_ip"] == "127.0.0.51")
        .map(|l| {
            let f = &l["fields"];
            (
                f["action"].as_str().unwrap().to_string(),
                f["status"].as_u64().unwrap(),
                f["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("api.tree", 200, "denied"),
        ("cmd.gitupdate", 401, "denied"),
        ("cmd.clear", 200, "ok"),
        ("cmd", 429, "rate_limited"),
        ("admin", 429, "rate_limited"),
    ]
    .map(|(a, s, o)| (a.to_string(), s, o.to_string()));
    assert_eq!(lines, expected);
}
