//! The studio page's shell: `/` and `/ui/*` served from the binary with their content types,
//! ETag revalidation, a strict Content-Security-Policy and nothing loaded from elsewhere; the
//! whole studio (page and `/api/*`) is absent when `ui.enabled` is off.

use crate::common::{app::TestApp, client::error_of, raw::raw_request};

const ASSETS: [(&str, &str); 4] = [
    ("/", "text/html; charset=utf-8"),
    ("/ui/studio.js", "text/javascript; charset=utf-8"),
    ("/ui/studio.css", "text/css; charset=utf-8"),
    ("/ui/icon.svg", "image/svg+xml"),
];

#[tokio::test]
async fn page_and_assets_have_types_csp_and_revalidate_with_etag() {
    let app = TestApp::spawn().await;
    for (path, content_type) in ASSETS {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        assert_eq!(h["content-type"], content_type, "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob: data:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        let etag = h["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let body = res.bytes().await.unwrap();
        assert_eq!(h["content-length"], body.len().to_string().as_str());

        let again = app.get_with(path, &[("If-None-Match", &etag)]).await;
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        let stale = app.get_with(path, &[("If-None-Match", "\"other\"")]).await;
        assert_eq!(stale.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = TestApp::spawn().await;
    let res = raw_request(app.port, "HEAD", "/", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(res.body.is_empty());
}

#[tokio::test]
async fn unknown_assets_and_other_methods_are_refused() {
    let app = TestApp::spawn().await;
    for path in [
        "/ui/missing.js",
        "/ui/",
        "/ui/../Cargo.toml",
        "/ui/%2e%2e%2fCargo.toml",
        "/ui/studio.js/x",
        "/index.html",
    ] {
        let res = raw_request(app.port, "GET", path, &[]).await;
        assert_eq!(res.status, 404, "{path}");
        assert_eq!(error_of(&res.body).0, "not_found", "{path}");
    }
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(
        error_of(&res.bytes().await.unwrap()).0,
        "method_not_allowed"
    );
}

/// The CSP would block them anyway; this keeps the page honest about it: every script and
/// stylesheet is a file of this origin, no inline code or style, nothing from another host.
#[tokio::test]
async fn the_page_loads_nothing_inline_or_from_elsewhere() {
    let app = TestApp::spawn().await;
    let html = app.get("/").await.text().await.unwrap();
    let lower = html.to_lowercase();
    for (i, _) in lower.match_indices("<script") {
        let tag = &lower[i..i + lower[i..].find('>').unwrap()];
        assert!(
            tag.contains("src=\"/ui/"),
            "inline or foreign script: {tag}"
        );
        assert!(
            lower[i..].starts_with(&format!("{tag}></script>")),
            "a script with a body"
        );
    }
    assert!(!lower.contains("<style"), "inline <style>");
    assert!(!lower.contains(" style="), "style attribute");
    for attr in [
        " onclick=",
        " onload=",
        " onerror=",
        " oninput=",
        "javascript:",
    ] {
        assert!(!lower.contains(attr), "inline handler {attr}");
    }
    for (i, _) in lower
        .match_indices(" src=\"")
        .chain(lower.match_indices(" href=\""))
    {
        let value = &lower[i..].split('"').nth(1).unwrap().to_string();
        assert!(
            value.starts_with('/') && !value.starts_with("//") || value.starts_with('#'),
            "a link off this origin: {value}"
        );
    }
    let css = app.get("/ui/studio.css").await.text().await.unwrap();
    assert!(!css.contains("@import") && !css.contains("url(http") && !css.contains("@font-face"));
    let js = app.get("/ui/studio.js").await.text().await.unwrap();
    assert!(!js.contains("http://") && !js.contains("https://") && !js.contains("eval("));
    assert!(
        !js.contains("innerHTML"),
        "the script builds DOM nodes, never HTML strings"
    );
}

#[tokio::test]
async fn disabled_ui_answers_404_everywhere() {
    let app = TestApp::spawn_with(&[("ui.enabled", "false")]).await;
    for path in [
        "/",
        "/ui/studio.js",
        "/api/status",
        "/api/tree",
        "/api/tree?path=cats",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(error_of(&res.bytes().await.unwrap()).0, "not_found");
    }
    let res = app
        .client
        .post(app.url("/api/sign"))
        .body("{\"url\":\"/img/storm.jpg?w=10\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Images are not part of the studio.
    assert_eq!(app.get("/img/storm.jpg?w=10").await.status(), 200);
}
