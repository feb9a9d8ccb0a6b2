//! Signed URLs through real HTTP, and `imgserver sign` through the real binary.

use crate::common::app::TestApp;
use crate::common::client::error_of;
use crate::common::images::decode;
use crate::common::process::command;
use imgserver::signing::UrlSigner;

const KEY: &str = "correct horse battery staple";

fn signer() -> UrlSigner {
    UrlSigner::new(KEY.as_bytes())
}

/// `path?query&s=...` signed with the test key.
fn signed(path: &str, query: &str) -> String {
    let s = signer().signature(path, query);
    if query.is_empty() {
        format!("{path}?s={s}")
    } else {
        format!("{path}?{query}&s={s}")
    }
}

async fn assert_bad_signature(app: &TestApp, url: &str) {
    let res = app.raw_get(url).await;
    assert_eq!(res.status, 403, "{url}");
    assert_eq!(error_of(&res.body).0, "bad_signature", "{url}");
}

#[tokio::test]
async fn transforms_need_a_valid_signature() {
    let app = TestApp::spawn_with(&[("security.signing_key", KEY)]).await;

    let res = app.raw_get(&signed("/img/cats/default.jpg", "w=64")).await;
    assert_eq!(res.status, 200);
    assert_eq!(decode(&res.body).1, 64);

    // Missing, tampered, for another path, another key, garbage.
    assert_bad_signature(&app, "/img/cats/default.jpg?w=64").await;
    let tampered = signed("/img/cats/default.jpg", "w=64").replace("w=64", "w=65");
    assert_bad_signature(&app, &tampered).await;
    let s = signer().signature("/img/cats/default.jpg", "w=64");
    assert_bad_signature(&app, &format!("/img/storm.jpg?w=64&s={s}")).await;
    let other = UrlSigner::new(b"another key").signature("/img/cats/default.jpg", "w=64");
    assert_bad_signature(&app, &format!("/img/cats/default.jpg?w=64&s={other}")).await;
    assert_bad_signature(&app, "/img/cats/default.jpg?w=64&s=%%%").await;
    assert_bad_signature(&app, &format!("/img/cats/default.jpg?w=64&s={s}&s={s}")).await;
    // An unsigned request is refused before its parameters are even looked at.
    assert_bad_signature(&app, "/img/cats/default.jpg?zoom=9").await;

    // Parameters in any order carry the same signature (they are sorted before signing).
    let s = signer().signature("/img/cats/default.jpg", "w=64&fmt=png");
    let res = app
        .raw_get(&format!("/img/cats/default.jpg?s={s}&fmt=png&w=64"))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(decode(&res.body).0, "png");
}

#[tokio::test]
async fn the_path_is_signed_as_sent() {
    let app = TestApp::spawn_with(&[("security.signing_key", KEY)]).await;
    let encoded = "/img/with%20space/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9%20%231%3Bx.jpg";
    let res = app.raw_get(&signed(encoded, "w=20")).await;
    assert_eq!(res.status, 200, "{}", res.body_text());
    assert_eq!(decode(&res.body).1, 20);
    // The decoded form is another message.
    let decoded = "/img/with space/ünï cødé #1;x.jpg";
    let s = signer().signature(decoded, "w=20");
    assert_bad_signature(&app, &format!("{encoded}?w=20&s={s}")).await;
    // goimgserver's path grammar transforms too, and is signed like any other URL.
    assert_bad_signature(&app, "/img/cats/default.jpg/40").await;
    let res = app.raw_get(&signed("/img/cats/default.jpg/40", "")).await;
    assert_eq!(res.status, 200);
    assert_eq!(decode(&res.body).1, 40);
}

#[tokio::test]
async fn originals_need_a_signature_only_when_configured() {
    let app = TestApp::spawn_with(&[("security.signing_key", KEY)]).await;
    assert_eq!(app.raw_get("/img/cats/default.jpg").await.status, 200);

    let strict = TestApp::spawn_with(&[
        ("security.signing_key", KEY),
        ("security.sign_originals", "true"),
    ])
    .await;
    assert_bad_signature(&strict, "/img/cats/default.jpg").await;
    let res = strict.raw_get(&signed("/img/cats/default.jpg", "")).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn without_a_key_nothing_is_checked() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.raw_get("/img/cats/default.jpg?w=30&s=whatever")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_sign_command_prints_a_url_the_server_accepts() {
    let app = TestApp::spawn_with(&[("security.signing_key", KEY)]).await;
    let root = app.root.path().to_str().unwrap().to_string();
    let run = |url: &str, key: Option<&str>| {
        let mut cmd = command();
        cmd.args(["--imagesdir", &root, "sign", url]);
        if let Some(key) = key {
            cmd.env("IMGSERVER__SECURITY__SIGNING_KEY", key);
        }
        cmd.output().expect("the binary runs")
    };
    let out = run(
        &format!("{}/img/cats/default.jpg?w=48&fmt=webp", app.base),
        Some(KEY),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(url.starts_with(&format!(
        "{}/img/cats/default.jpg?w=48&fmt=webp&s=",
        app.base
    )));
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (format, width, _) = decode(&res.bytes().await.unwrap());
    assert_eq!((format.as_str(), width), ("webp", 48));

    let out = run("/img/cats/default.jpg?w=48", None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("signing_key"));
    let out = run("/elsewhere/a.jpg", Some(KEY));
    assert!(!out.status.success());
}

#[tokio::test]
async fn the_operations_are_signed_like_every_parameter() {
    let app = TestApp::spawn_with(&[("security.signing_key", KEY)]).await;
    let query = "w=64&crop=0,0,400,300&rot=90&blur=1.5&pad=2&fp=0.2,0.4&h=64";
    let res = app.raw_get(&signed("/img/storm.jpg", query)).await;
    assert_eq!(res.status, 200);
    assert_eq!(decode(&res.body).1, 68);
    for (from, to) in [
        ("crop=0,0,400,300", "crop=0,0,400,301"),
        ("rot=90", "rot=270"),
        ("blur=1.5", "blur=1.6"),
        ("pad=2", "pad=3"),
        ("fp=0.2,0.4", "fp=0.2,0.5"),
    ] {
        let tampered = signed("/img/storm.jpg", query).replace(from, to);
        assert_bad_signature(&app, &tampered).await;
    }
    // Adding an operation to a signed URL breaks it too.
    let extended = format!("{}&sharpen=1", signed("/img/storm.jpg", query));
    assert_bad_signature(&app, &extended).await;
}
