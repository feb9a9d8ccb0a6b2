//! The studio's JSON endpoints against a real server: `/api/tree` (listing, path safety),
//! `/api/status`, `/api/sign` (signatures checked independently), and the token rules of
//! `ui.require_token` and the admin token.

use std::path::Path;

use crate::common::{
    app::TestApp,
    client::{client_from, error_of},
    fixtures::{copy_dir, fixtures_dir},
    images::decode,
    raw::raw_request,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const TOKEN: &str = "a-long-admin-token-for-tests";
const KEY: &str = "signing-key-for-tests";

async fn json_of(res: reqwest::Response) -> Value {
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.unwrap()
}

async fn tree(app: &TestApp, query: &str) -> (u16, Value) {
    tree_as(app, query, None).await
}

/// `/api/tree{query}`, with `Authorization: Bearer <token>` when given.
async fn tree_as(app: &TestApp, query: &str, token: Option<&str>) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let res = raw_request(app.port, "GET", &format!("/api/tree{query}"), &headers).await;
    let body: Value = serde_json::from_slice(&res.body).unwrap_or_else(|_| {
        panic!("JSON from /api/tree{query}: {}", res.body_text());
    });
    (res.status, body)
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect()
}

fn image<'a>(folder: &'a Value, name: &str) -> &'a Value {
    folder["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {folder}"))
}

/// The signature the contract asks for, computed here independently of the server.
fn expected_signature(url: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .filter(|(k, _)| k != "s")
        .collect();
    params.sort();
    let sorted: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(format!("{path}?{}", sorted.join("&")).as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn signature_of(url: &str) -> &str {
    url.rsplit_once("&s=")
        .or_else(|| url.rsplit_once("?s="))
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no signature in {url}"))
}

#[tokio::test]
async fn tree_lists_folders_and_images_of_the_root() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/tree").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let root = json_of(res).await;
    assert_eq!(root["path"], "");
    assert_eq!(root["parent"], Value::Null);
    assert_eq!(
        names(&root["folders"]),
        [
            "cats",
            "formats",
            "fuzz",
            "orientation",
            "pipeline",
            "with space"
        ]
    );
    assert_eq!(
        names(&root["images"]),
        [
            "a..b.jpg",
            "empty.jpg",
            "inside-link.jpg",
            "not-an-image.jpg",
            "page.png",
            "png-named.jpg",
            "storm.jpg",
            "vector.png"
        ],
        "images by extension, sorted; hidden files and links leaving the root left out"
    );
    assert_eq!(root["other_files"], 1, "README.md");
    assert_eq!(root["truncated"], false);

    let storm = image(&root, "storm.jpg");
    assert_eq!(storm["path"], "storm.jpg");
    assert_eq!(storm["bytes"], 695070);
    assert_eq!(storm["url"], "/img/storm.jpg");
    assert_eq!(storm["original"], "/img/storm.jpg");
    assert_eq!(storm["info"], "/info/storm.jpg");
    assert_eq!(storm["srcset"], "/srcset/storm.jpg");
    assert_eq!(
        storm["thumb"]["src"],
        "/img/storm.jpg?w=320&h=320&fit=cover&fmt=webp"
    );
    assert!(storm["thumb"]["srcset"]
        .as_str()
        .unwrap()
        .ends_with("?w=480&h=480&fit=cover&fmt=webp 480w"));
    let body = root.to_string();
    assert!(!body.contains(&app.root.path().display().to_string()));
}

#[tokio::test]
async fn listed_urls_work_as_they_are() {
    let app = TestApp::spawn().await;
    let (status, folder) = tree(&app, "?path=with%20space").await;
    assert_eq!(status, 200);
    assert_eq!(folder["path"], "with space");
    assert_eq!(folder["parent"], "");
    let img = image(&folder, "ünï cødé #1;x.jpg");
    assert_eq!(
        img["url"],
        "/img/with%20space/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9%20%231%3Bx.jpg"
    );
    let info: Value = app
        .get(img["info"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (info["width"].as_u64(), info["format"].as_str()),
        (Some(480), Some("jpeg"))
    );
    let thumb = app.get(img["thumb"]["src"].as_str().unwrap()).await;
    assert_eq!(thumb.status(), 200);
    let (format, w, h) = decode(&thumb.bytes().await.unwrap());
    assert_eq!((format.as_str(), w, h), ("webp", 320, 320));
    // Every srcset candidate renders at its width (this source is 1920 px wide; smaller ones
    // are never upscaled, so their candidates come back at most that wide).
    let (_, root) = tree(&app, "").await;
    for candidate in image(&root, "storm.jpg")["thumb"]["srcset"]
        .as_str()
        .unwrap()
        .split(", ")
    {
        let (url, width) = candidate.split_once(' ').unwrap();
        let res = app.get(url).await;
        assert_eq!(res.status(), 200, "{url}");
        let (format, w, h) = decode(&res.bytes().await.unwrap());
        assert_eq!(
            (format.as_str(), format!("{w}w")),
            ("webp", width.to_string()),
            "{url}"
        );
        assert_eq!(w, h, "square tiles");
    }

    let (status, cats) = tree(&app, "?path=cats").await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&cats["images"]),
        ["default.jpg", "kitten.png", "up-link.jpg"]
    );
    assert_eq!(cats["parent"], "");
    // Leading and trailing slashes name the same folder.
    assert_eq!(tree(&app, "?path=/cats/").await.1["path"], "cats");
}

#[tokio::test]
async fn tree_path_safety() {
    let app = TestApp::spawn().await;
    std::os::unix::fs::symlink(app.outside.path(), app.root.path().join("outside-dir")).unwrap();
    std::os::unix::fs::symlink("cats", app.root.path().join("cats-link")).unwrap();
    let root_text = app.root.path().display().to_string();
    let outside_text = app.outside.path().display().to_string();
    for (query, status) in [
        ("?path=..", 400),
        ("?path=../etc", 400),
        ("?path=cats/../..", 400),
        ("?path=cats/..", 400),
        ("?path=%2e%2e", 400),
        ("?path=%2e%2e%2fetc", 400),
        ("?path=%252e%252e", 400),
        ("?path=cats%252fx", 400),
        ("?path=a%5Cb", 400),
        ("?path=cats%00", 400),
        ("?path=cats//x", 400),
        ("?path=.", 400),
        ("?path=cats&path=formats", 400),
        ("?dir=cats", 400),
        ("?path=.git", 404),
        ("?path=.git/objects", 404),
        ("?path=cats/.hidden", 404),
        ("?path=.hidden.jpg", 404),
        ("?path=storm.jpg", 404),
        ("?path=missing", 404),
        ("?path=%2Fetc", 404),
        ("?path=outside-dir", 404),
        ("?path=escape.jpg", 404),
        ("?path=cats-link", 200),
        ("?path=", 200),
        ("", 200),
    ] {
        let res = raw_request(app.port, "GET", &format!("/api/tree{query}"), &[]).await;
        assert_eq!(res.status, status, "{query}: {}", res.body_text());
        let body = res.body_text();
        assert!(
            !body.contains(&root_text) && !body.contains(&outside_text),
            "{query}: {body}"
        );
        if status != 200 {
            let (code, message) = error_of(&res.body);
            let expected = if status == 400 {
                "invalid_parameter"
            } else {
                "not_found"
            };
            assert_eq!(code, expected, "{query}");
            assert!(
                !message.contains("etc") && !message.contains("git"),
                "{message}"
            );
        }
    }
    let (_, root) = tree(&app, "").await;
    assert!(!names(&root["folders"]).contains(&"outside-dir"));
    assert!(names(&root["folders"]).contains(&"cats-link"));
    let res = app.client.post(app.url("/api/tree")).send().await.unwrap();
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn status_tells_the_page_what_it_needs() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/status").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let s = json_of(res).await;
    assert_eq!(s["signing"], false);
    assert_eq!(s["admin"], false);
    assert_eq!(s["require_token"], false);
    assert_eq!(s["images"]["max_width"], 4096);
    assert_eq!(s["images"]["default_quality"], 80);
    assert_eq!(s["source"], json!({"kind": "folder"}));
    assert!(!s
        .to_string()
        .contains(&app.root.path().display().to_string()));

    let app = TestApp::spawn_with(&[
        ("admin.token", TOKEN),
        ("security.signing_key", KEY),
        ("images.default_quality", "70"),
        ("images.quality.webp", "65"),
    ])
    .await;
    let s = json_of(app.get("/api/status").await).await;
    assert_eq!(
        s["images"]["quality"],
        json!({"jpeg": 70, "webp": 65, "avif": 70}),
        "each format's default, falling back to default_quality"
    );
    assert_eq!(
        (s["signing"].as_bool(), s["admin"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(s["images"]["default_quality"], 70);
    let text = s.to_string();
    assert!(
        !text.contains(TOKEN) && !text.contains(KEY),
        "no secret in {text}"
    );
}

#[tokio::test]
async fn status_reports_the_commit_of_a_git_checkout() {
    let root = tempfile::tempdir().unwrap();
    copy_dir(&fixtures_dir().join("cats"), root.path());
    let repo = git2::Repository::init(root.path()).unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("kitten.png")).unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("studio", "studio@example.org").unwrap();
    let commit = repo
        .commit(Some("HEAD"), &sig, &sig, "images", &tree, &[])
        .unwrap();
    let app = TestApp::spawn_on(
        root,
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        &[],
    )
    .await;
    let s = json_of(app.get("/api/status").await).await;
    assert_eq!(s["source"]["kind"], "git");
    assert_eq!(s["source"]["commit"], commit.to_string());
    assert!(s["source"]["branch"].is_string());
    // The checkout's .git never shows in the gallery.
    let (_, listing) = tree_of(&app).await;
    assert!(!names(&listing["folders"]).contains(&".git"));
}

async fn tree_of(app: &TestApp) -> (u16, Value) {
    tree(app, "").await
}

#[tokio::test]
async fn require_token_guards_the_data_but_not_the_shell_or_the_images() {
    let app = TestApp::spawn_with(&[("ui.require_token", "true"), ("admin.token", TOKEN)]).await;
    let bearer = format!("Bearer {TOKEN}");
    let lower = format!("bearer {TOKEN}");
    for path in ["/api/tree", "/api/tree?path=cats", "/api/status"] {
        for headers in [
            vec![],
            vec![("Authorization", "Bearer wrong")],
            vec![("Authorization", "Bearer ")],
            vec![("Authorization", TOKEN)],
            vec![("Authorization", "Basic YWRtaW46YWRtaW4=")],
        ] {
            let res = app.get_with(path, &headers).await;
            assert_eq!(res.status(), 401, "{path} {headers:?}");
            let body = res.bytes().await.unwrap();
            assert_eq!(error_of(&body).0, "unauthorized");
            assert!(!String::from_utf8_lossy(&body).contains("storm"));
        }
        for good in [&bearer, &lower] {
            let res = app.get_with(path, &[("Authorization", good)]).await;
            assert_eq!(res.status(), 200, "{path}");
        }
    }
    // A wrong token on a hidden or malformed path is still a 401: nothing is learnt unauthenticated.
    let res = app.get("/api/tree?path=..").await;
    assert_eq!(res.status(), 401);

    let page = app.get("/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("storm") && !html.contains("kitten"));
    assert_eq!(app.get("/ui/studio.js").await.status(), 200);
    assert_eq!(app.get("/img/storm.jpg?w=50").await.status(), 200);
}

#[tokio::test]
async fn require_token_without_a_configured_token_stays_locked() {
    let app = TestApp::spawn_with(&[("ui.require_token", "true")]).await;
    let res = app
        .get_with("/api/tree", &[("Authorization", "Bearer anything")])
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn sign_needs_the_admin_token() {
    let app = TestApp::spawn().await;
    let body = json!({"url": "/img/storm.jpg?w=400"});
    let res = app
        .client
        .post(app.url("/api/sign"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "no admin token configured: no admin actions"
    );

    let app = TestApp::spawn_with(&[("admin.token", TOKEN), ("security.signing_key", KEY)]).await;
    for auth in [None, Some("Bearer wrong"), Some(KEY)] {
        let mut req = app.client.post(app.url("/api/sign")).json(&body);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(error_of(&res.bytes().await.unwrap()).0, "unauthorized");
    }
    // The gallery's data stays open without require_token; only admin actions need the token.
    assert_eq!(app.get("/api/tree").await.status(), 200);
}

async fn sign(app: &TestApp, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/sign"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn sign_adds_a_verifiable_signature() {
    let app = TestApp::spawn_with(&[("admin.token", TOKEN), ("security.signing_key", KEY)]).await;
    let (status, reply) = sign(&app, json!({"url": "/img/storm.jpg?w=400&fmt=webp"})).await;
    assert_eq!(status, 200);
    let url = reply["url"].as_str().unwrap();
    assert!(url.starts_with("/img/storm.jpg?w=400&fmt=webp&s="), "{url}");
    assert_eq!(signature_of(url), expected_signature(url));

    let urls = [
        "/img/with%20space/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9%20%231%3Bx.jpg?w=100",
        "/img/cats/kitten.png?fmt=png&w=50&h=50&fit=contain&bg=ff0000",
        "/img/storm.jpg?w=400&s=stale",
        "/img/storm.jpg",
    ];
    let (status, reply) = sign(&app, json!({ "urls": urls })).await;
    assert_eq!(status, 200);
    let signed: Vec<&str> = reply["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(signed.len(), 4);
    for s in &signed[..3] {
        assert_eq!(signature_of(s), expected_signature(s), "{s}");
        assert_eq!(s.matches("s=").count(), 1, "{s}");
    }
    assert_eq!(
        signed[3], "/img/storm.jpg",
        "originals are signed only with sign_originals"
    );
    let (_, empty) = sign(&app, json!({"urls": []})).await;
    assert_eq!(empty, json!({"urls": []}));

    // With the token the gallery's thumbnails come signed too.
    let (_, root) = tree_as(&app, "", Some(TOKEN)).await;
    let storm = image(&root, "storm.jpg");
    for candidate in storm["thumb"]["srcset"].as_str().unwrap().split(", ") {
        let url = candidate.split(' ').next().unwrap();
        assert_eq!(signature_of(url), expected_signature(url), "{url}");
    }
    assert_eq!(storm["original"], "/img/storm.jpg");

    let app = TestApp::spawn_with(&[
        ("admin.token", TOKEN),
        ("security.signing_key", KEY),
        ("security.sign_originals", "true"),
    ])
    .await;
    let (_, reply) = sign(&app, json!({"url": "/img/storm.jpg"})).await;
    let url = reply["url"].as_str().unwrap();
    assert!(url.starts_with("/img/storm.jpg?s="), "{url}");
    assert_eq!(signature_of(url), expected_signature(url));
    let (_, root) = tree_as(&app, "", Some(TOKEN)).await;
    assert!(image(&root, "storm.jpg")["original"]
        .as_str()
        .unwrap()
        .starts_with("/img/storm.jpg?s="));
}

#[tokio::test]
async fn sign_without_a_key_returns_urls_unchanged() {
    let app = TestApp::spawn_with(&[("admin.token", TOKEN)]).await;
    let (status, reply) = sign(&app, json!({"url": "/img/storm.jpg?w=400"})).await;
    assert_eq!(status, 200);
    assert_eq!(reply["url"], "/img/storm.jpg?w=400");
}

#[tokio::test]
async fn sign_refuses_what_is_not_an_image_url_of_this_server() {
    let app = TestApp::spawn_with(&[("admin.token", TOKEN), ("security.signing_key", KEY)]).await;
    let many: Vec<String> = (1..=101).map(|w| format!("/img/storm.jpg?w={w}")).collect();
    for (body, status, code) in [
        (json!({"url": "/info/storm.jpg"}), 400, "invalid_parameter"),
        (
            json!({"url": "https://elsewhere.example/img/storm.jpg?w=1"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "//elsewhere.example/img/a.jpg?w=1"}),
            400,
            "invalid_parameter",
        ),
        (json!({"url": "/img/"}), 400, "invalid_parameter"),
        (
            json!({"url": "/img/../Cargo.toml?w=1"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "/img/%2e%2e/x.jpg?w=1"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "/img/a%5Cb.jpg?w=1"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "/img/storm.jpg?w=abc"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "/img/storm.jpg?w=99999"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "/img/storm.jpg?evil=1"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "/img/storm.jpg?w=1#frag"}),
            400,
            "invalid_parameter",
        ),
        (json!({"url": "/img/.git/config?w=1"}), 404, "not_found"),
        (
            json!({"url": "/img/cats/.hidden.jpg?w=1"}),
            404,
            "not_found",
        ),
        (
            json!({"url": "/img/storm.jpg?w=1", "urls": []}),
            400,
            "invalid_parameter",
        ),
        (json!({}), 400, "invalid_parameter"),
        (
            json!({"url": "/img/a.jpg?w=1", "extra": 1}),
            400,
            "invalid_parameter",
        ),
        (json!({"url": 5}), 400, "invalid_parameter"),
        (json!({ "urls": many }), 400, "invalid_parameter"),
    ] {
        let (s, reply) = sign(&app, body.clone()).await;
        assert_eq!(s, status, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{body}");
    }
    let res = app
        .client
        .post(app.url("/api/sign"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let huge = format!(
        "{{\"url\":\"/img/a.jpg?w=1\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let res = app
        .client
        .post(app.url("/api/sign"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "payload_too_large");
    let res = app.get("/api/sign").await;
    assert_eq!(res.status(), 405);
}

/// With git sync running, the page's status names the commit actually served and the last
/// successful sync, not just the checkout's HEAD.
#[tokio::test]
async fn status_reports_the_served_commit_and_last_sync() {
    use crate::common::git::{clone, Change, Remote};
    use crate::common::images::png;
    use crate::common::images::{BLUE, RED};
    let remote = Remote::new();
    let first = remote.commit(&[Change::Put("a.png", png(20, 10, RED))]);
    let app = crate::common::git::spawn(clone(&remote), &[]).await;
    let v: Value = app.get("/api/status").await.json().await.unwrap();
    assert_eq!(v["source"]["kind"], "git");
    assert_eq!(v["source"]["commit"], first.to_string());
    assert!(v["source"].get("synced_at").is_none(), "no sync yet");
    let second = remote.commit(&[Change::Put("a.png", png(20, 10, BLUE))]);
    assert_eq!(crate::common::git::pull(&app).await.0, 200);
    let v: Value = app.get("/api/status").await.json().await.unwrap();
    assert_eq!(v["source"]["commit"], second.to_string());
    assert!(v["source"]["synced_at"].as_str().unwrap().ends_with('Z'));
}

/// The audit lines written for requests from `127.0.0.<last>`.
fn audit_of(last: u8) -> Vec<Value> {
    let ip = format!("127.0.0.{last}");
    crate::common::audit::audit_lines()
        .into_iter()
        .filter(|l| l["fields"]["client_ip"] == ip.as_str())
        .collect()
}

async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn token_guesses_on_the_api_are_rate_limited_and_audited() {
    crate::common::audit::audit_lines();
    const GUESS: &str = "Bearer guessed-token-0123456789";
    let app =
        TestApp::spawn_with(&[("admin.token", TOKEN), ("limits.admin_per_minute", "3")]).await;
    let (browser, guesser, bystander) = (
        client_from([127, 0, 0, 31]),
        client_from([127, 0, 0, 32]),
        client_from([127, 0, 0, 33]),
    );
    // Browsing the open gallery tries no secret: not a control-plane call, never limited.
    for _ in 0..5 {
        assert_eq!(status_of(browser.get(app.url("/api/tree"))).await, 200);
    }
    assert!(audit_of(31).is_empty(), "{:?}", audit_of(31));

    // A wrong token on open data is served as anonymous, but counts as a guess.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let req = guesser
            .get(app.url("/api/tree"))
            .header("Authorization", GUESS);
        statuses.push(status_of(req).await);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let sign = |c: &reqwest::Client| {
        c.post(app.url("/api/sign"))
            .header("Authorization", GUESS)
            .json(&json!({"urls": []}))
    };
    assert_eq!(status_of(sign(&guesser)).await, 429, "one budget for all");
    let status = guesser
        .get(app.url("/api/status"))
        .header("Authorization", GUESS);
    assert_eq!(status_of(status).await, 429);
    // Even the right token now waits: the budget is the client's, not the guess's.
    let right = guesser
        .get(app.url("/api/tree"))
        .header("Authorization", format!("Bearer {TOKEN}"));
    assert_eq!(status_of(right).await, 429);
    assert_eq!(status_of(sign(&bystander)).await, 401, "others keep theirs");

    let lines = audit_of(32);
    let denied: Vec<_> = lines
        .iter()
        .filter(|l| l["fields"]["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), 3, "{lines:?}");
    assert!(denied
        .iter()
        .all(|l| l["fields"]["action"] == "api.tree" && l["fields"]["status"] == 200));
    let limited = lines
        .iter()
        .filter(|l| l["fields"]["status"] == 429 && l["fields"]["outcome"] == "rate_limited")
        .count();
    assert_eq!(limited, 4, "{lines:?}");
    assert!(!format!("{lines:?}").contains("guessed-token"));
    let bystander = audit_of(33);
    assert_eq!(bystander.len(), 1);
    assert_eq!(
        (
            &bystander[0]["fields"]["action"],
            &bystander[0]["fields"]["status"]
        ),
        (&json!("api.sign"), &json!(401))
    );

    // With ui.require_token the same guesses are 401 until the limit, then 429.
    let app = TestApp::spawn_with(&[
        ("admin.token", TOKEN),
        ("ui.require_token", "true"),
        ("limits.admin_per_minute", "3"),
    ])
    .await;
    let guesser = client_from([127, 0, 0, 34]);
    let mut statuses = Vec::new();
    for path in ["/api/tree", "/api/status", "/api/tree", "/api/tree"] {
        statuses.push(status_of(guesser.get(app.url(path))).await);
    }
    assert_eq!(statuses, [401, 401, 401, 429], "no token at all counts too");
    let outcomes: Vec<_> = audit_of(34)
        .iter()
        .map(|l| l["fields"]["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["denied", "denied", "denied", "rate_limited"]);
}

/// Every `/img/` URL an `/api/tree` answer hands out.
fn image_urls(folder: &Value) -> Vec<String> {
    let mut urls = Vec::new();
    for image in folder["images"].as_array().unwrap() {
        urls.push(image["url"].as_str().unwrap().to_string());
        urls.push(image["original"].as_str().unwrap().to_string());
        urls.push(image["thumb"]["src"].as_str().unwrap().to_string());
        for candidate in image["thumb"]["srcset"].as_str().unwrap().split(", ") {
            if let Some(url) = candidate.split(' ').next().filter(|u| !u.is_empty()) {
                urls.push(url.to_string());
            }
        }
    }
    urls
}

#[tokio::test]
async fn anonymous_listings_hand_out_only_what_anonymous_clients_may_fetch() {
    let app = TestApp::spawn_with(&[
        ("admin.token", TOKEN),
        ("security.signing_key", KEY),
        ("security.sign_originals", "true"),
    ])
    .await;
    let (status, root) = tree(&app, "").await;
    assert_eq!(status, 200);
    let urls = image_urls(&root);
    assert!(urls.iter().any(|u| u.starts_with("/img/storm.jpg")));
    for url in &urls {
        assert!(
            !url.contains("s="),
            "an anonymous listing holds no signature: {url}"
        );
        let res = app.get(url).await;
        assert_eq!(res.status(), 403, "{url}");
        assert_eq!(error_of(&res.bytes().await.unwrap()).0, "bad_signature");
    }
    // With the admin token the studio gets signed URLs, and they fetch the original.
    let (_, root) = tree_as(&app, "", Some(TOKEN)).await;
    let original = image(&root, "storm.jpg")["original"].as_str().unwrap();
    assert!(original.starts_with("/img/storm.jpg?s="), "{original}");
    let res = app.get(original).await;
    assert_eq!(res.status(), 200);
    let (format, width, _) = decode(&res.bytes().await.unwrap());
    assert_eq!((format.as_str(), width), ("jpeg", 1920));
    let thumb = image(&root, "storm.jpg")["thumb"]["src"].as_str().unwrap();
    assert_eq!(app.get(thumb).await.status(), 200, "{thumb}");

    // Signing without sign_originals: originals are open, transforms are not, so an anonymous
    // gallery shows the originals and every URL it holds fetches.
    let app = TestApp::spawn_with(&[("admin.token", TOKEN), ("security.signing_key", KEY)]).await;
    let (_, root) = tree(&app, "").await;
    let storm = image(&root, "storm.jpg");
    assert_eq!(storm["thumb"]["src"], "/img/storm.jpg");
    assert_eq!(storm["thumb"]["srcset"], "");
    for url in image_urls(&root) {
        assert!(!url.contains("s="), "{url}");
    }
    let original = storm["original"].as_str().unwrap();
    assert_eq!(app.get(original).await.status(), 200, "{original}");
}
