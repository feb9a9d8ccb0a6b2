//! Every 4xx of the image path, the fallback image, and a table of hostile paths: clear JSON
//! errors, no panic, no filesystem path or requested path echoed back.

use crate::common::{app::TestApp, client::error_of, images::decode};

async fn expect_error(app: &TestApp, path: &str, status: u16, code: &str) -> String {
    let res = app.raw_get(path).await;
    assert_eq!(res.status, status, "{path}: {}", res.body_text());
    assert_eq!(
        res.header("content-type"),
        Some("application/json"),
        "{path}"
    );
    assert!(
        res.header("cache-control").is_none(),
        "{path}: no Cache-Control on errors"
    );
    let (got, message) = error_of(&res.body);
    assert_eq!(got, code, "{path}");
    message
}

#[tokio::test]
async fn invalid_parameters_are_400_with_a_clear_message() {
    let app = TestApp::spawn().await;
    for (query, message) in [
        ("w=0", "w must be between 1 and 4096"),
        ("w=4097", "w must be between 1 and 4096"),
        ("h=99999", "h must be between 1 and 4096"),
        ("w=12.5", "w must be between 1 and 4096"),
        ("w=abc", "w must be between 1 and 4096"),
        ("q=0", "q must be between 1 and 100"),
        ("q=101", "q must be between 1 and 100"),
        ("dpr=0.5", "dpr must be between 1 and 4"),
        ("dpr=5", "dpr must be between 1 and 4"),
        (
            "bg=zzz",
            "bg must be a hex colour such as fff, ffffff or ffffff80 (with alpha)",
        ),
        ("enlarge=yes", "enlarge must be 0 or 1"),
        ("zoom=2", "unknown parameter 'zoom'"),
        ("w=100&w=200", "w is given more than once"),
    ] {
        let got = expect_error(
            &app,
            &format!("/img/storm.jpg?{query}"),
            400,
            "invalid_parameter",
        )
        .await;
        assert_eq!(got, message, "{query}");
    }
    for query in ["fmt=tiff", "fit=squash", "g=up", "preset=nope"] {
        expect_error(
            &app,
            &format!("/img/storm.jpg?{query}"),
            400,
            "invalid_parameter",
        )
        .await;
    }
    // Path grammar: an invalid segment is a 400, not silently ignored.
    for path in [
        "/img/storm.jpg/bogus",
        "/img/storm.jpg/400/500",
        "/img/storm.jpg/q0",
        "/img/storm.jpg/99999x1",
        "/img/storm.jpg/webp/png",
    ] {
        expect_error(&app, path, 400, "invalid_parameter").await;
    }
    // Parameters are validated whether or not the file exists.
    expect_error(&app, "/img/missing.jpg?w=0", 400, "invalid_parameter").await;
    assert_eq!(app.renders(), 0);
}

#[tokio::test]
async fn the_max_size_follows_configuration() {
    let app =
        TestApp::spawn_with(&[("images.max_width", "500"), ("images.max_height", "300")]).await;
    let message = expect_error(&app, "/img/storm.jpg?w=501", 400, "invalid_parameter").await;
    assert_eq!(message, "w must be between 1 and 500");
    let res = app.get("/img/storm.jpg?w=400&h=300&dpr=4").await;
    let (_, w, h) = decode(&res.bytes().await.unwrap());
    assert!(w <= 500 && h <= 300, "{w}x{h} within the ceiling");
}

#[tokio::test]
async fn missing_files_are_404_json() {
    let app = TestApp::spawn().await;
    for path in [
        "/img/missing.jpg",
        "/img/missing.jpg?w=100",
        "/img/cats/missing/400",
        "/img/nofolder/",
        "/info/missing.jpg",
    ] {
        let message = expect_error(&app, path, 404, "not_found").await;
        assert!(
            !message.contains("missing"),
            "the requested path is never echoed: {message}"
        );
    }
    expect_error(&app, "/nowhere", 404, "not_found").await;
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = TestApp::spawn().await;
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let res = crate::common::raw::raw_request(
            app.port,
            method,
            "/img/storm.jpg?w=100",
            &[("content-length", "0")],
        )
        .await;
        assert_eq!(res.status, 405, "{method}");
        assert_eq!(error_of(&res.body).0, "method_not_allowed");
    }
}

#[tokio::test]
async fn non_images_are_422_never_500() {
    let app = TestApp::spawn().await;
    for name in ["not-an-image.jpg", "empty.jpg", "page.png"] {
        for query in ["", "?w=100", "?w=100&fmt=webp"] {
            let message = expect_error(
                &app,
                &format!("/img/{name}{query}"),
                422,
                "unsupported_source",
            )
            .await;
            assert!(!message.contains(name), "{message}");
        }
    }
}

#[tokio::test]
async fn oversized_sources_are_422() {
    let app = TestApp::spawn_with(&[("images.max_source_bytes", "100000")]).await;
    expect_error(&app, "/img/storm.jpg?w=100", 422, "source_too_large").await;
    expect_error(&app, "/img/storm.jpg", 422, "source_too_large").await;
    let app = TestApp::spawn_with(&[("images.max_source_pixels", "1000000")]).await;
    expect_error(&app, "/img/storm.jpg?w=100", 422, "source_too_large").await;
    assert_eq!(
        app.get("/img/formats/storm-palette-alpha.png?w=100")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_fallback_image_stands_in_for_missing_files() {
    let app = TestApp::spawn_with(&[("images.fallback", "cats/default.jpg")]).await;
    let res = app.get("/img/missing.jpg?w=200&fmt=webp").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let (fmt, w, h) = decode(&res.bytes().await.unwrap());
    assert_eq!(
        (fmt.as_str(), w, h),
        ("webp", 200, 133),
        "rendered with the requested parameters"
    );
    // Refused paths never get it.
    for path in [
        "/img/.git/config",
        "/img/.env",
        "/img/escape.jpg",
        "/img/to-git.jpg",
    ] {
        expect_error(&app, path, 404, "not_found").await;
    }
    expect_error(&app, "/img/../storm.jpg", 400, "invalid_parameter").await;
    // Bad parameters are still 400.
    expect_error(&app, "/img/missing.jpg?w=0", 400, "invalid_parameter").await;

    let goimg = TestApp::spawn_with(&[
        ("images.fallback", "cats/default.jpg"),
        ("images.fallback_status", "200"),
    ])
    .await;
    let res = goimg.get("/img/missing.jpg").await;
    assert_eq!(res.status(), 200);
    // Not the long `http.cache_control` of real images: a CDN would keep the stand-in under
    // the real URL after the image is added.
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(
        decode(&res.bytes().await.unwrap()),
        ("jpeg".into(), 480, 320)
    );
    let res = goimg.get("/img/missing.jpg?w=100").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    // Real images keep theirs.
    let res = goimg.get("/img/storm.jpg?w=100").await;
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");

    let tuned = TestApp::spawn_with(&[
        ("images.fallback", "cats/default.jpg"),
        ("images.fallback_status", "200"),
        ("images.fallback_cache_control", "public, max-age=60"),
    ])
    .await;
    let res = tuned.get("/img/missing.jpg?w=100").await;
    assert_eq!(res.headers()["cache-control"], "public, max-age=60");
}

/// Paths an attacker tries, sent exactly as written. None may be served, none may leak.
#[tokio::test]
async fn hostile_paths_are_refused_without_leaking() {
    let app = TestApp::spawn().await;
    let table: &[(&str, u16)] = &[
        ("/img/../Cargo.toml", 400),
        ("/img/cats/../../etc/passwd", 400),
        ("/img/..%2fCargo.toml", 400),
        ("/img/%2e%2e/%2e%2e/etc/passwd", 400),
        ("/img/%2E%2E/storm.jpg", 400),
        ("/img/%252e%252e/%252e%252e/etc/passwd", 400),
        ("/img/..%252fstorm.jpg", 400),
        ("/img/cats/..%5c..%5cstorm.jpg", 400),
        ("/img/cats%5cdefault.jpg", 400),
        ("/img/storm.jpg%00.png", 400),
        ("/img//etc/passwd", 400),
        ("/img/%2fetc%2fpasswd", 400),
        ("/img/C:%5Cwindows%5Cwin.ini", 400),
        ("/img/a%ffb.jpg", 400),
        ("/img/./storm.jpg", 400),
        ("/img/.git/config", 404),
        ("/img/.git/leak.jpg", 404),
        ("/img/.git/leak.jpg?w=100", 404),
        ("/img/.git", 404),
        ("/img/.env", 404),
        ("/img/.hidden.jpg", 404),
        ("/img/.hidden", 404),
        ("/img/cats/.hidden.jpg", 404),
        ("/img/escape.jpg", 404),
        ("/img/escape.jpg?w=100", 404),
        ("/img/escape-rel.jpg", 404),
        ("/img/to-git.jpg", 404),
        ("/img/not-an-image.jpg", 422),
        ("/%69mg/storm.jpg", 404),
        ("/%69nfo/storm.jpg", 404),
        ("/info/../Cargo.toml", 400),
        ("/info/.git/config", 404),
        ("/info/escape.jpg", 404),
    ];
    let root = app.root.path().display().to_string();
    let outside = app.outside.path().display().to_string();
    for (path, status) in table {
        let res = app.raw_get(path).await;
        assert_eq!(res.status, *status, "{path}: {}", res.body_text());
        let (code, message) = error_of(&res.body);
        assert!(!code.is_empty());
        let body = res.body_text();
        for leak in [
            root.as_str(),
            outside.as_str(),
            "/tmp",
            "passwd",
            "Cargo",
            "secret",
            ".git",
            "leak",
            "escape",
            "\\",
        ] {
            assert!(!body.contains(leak), "{path} leaked {leak:?} in {body}");
        }
        assert!(message.len() < 200);
    }
    assert_eq!(app.renders(), 0);
    // The server is still healthy after all of it.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// `/info/` resolves a path exactly as `/img/` does: what follows a file must be path-grammar
/// parameters, checked as `/img/` checks them, never ignored (it once answered 200 for
/// `/info/storm.jpg/../../etc/passwd`).
#[tokio::test]
async fn info_paths_follow_the_img_rules() {
    let app = TestApp::spawn().await;
    for rest in [
        "storm.jpg/../../etc/passwd",
        "storm.jpg/%2e%2e/%2e%2e/etc/passwd",
        "storm.jpg/anything",
        "storm.jpg/.git",
        "storm.jpg/400/400",
        "storm.jpg/99999",
        "cats/nothing-here",
        "storm.jpg/400",
        "storm.jpg/200x100/q80/webp",
        "cats/400",
        "cats",
        "storm",
    ] {
        let img = app.raw_get(&format!("/img/{rest}")).await;
        let info = app.raw_get(&format!("/info/{rest}")).await;
        assert_eq!(
            info.status,
            img.status,
            "/info/{rest}: {}",
            info.body_text()
        );
        if img.status != 200 {
            assert_eq!(
                error_of(&info.body).0,
                error_of(&img.body).0,
                "/info/{rest}"
            );
        }
    }
    let res = app.raw_get("/info/storm.jpg/../../etc/passwd").await;
    assert_eq!(res.status, 400);
    assert!(!res.body_text().contains("passwd"));
}

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A FIFO in the source tree is no image: answered at once (no worker waits for a writer),
/// directly, through a link, as a folder default, and absent from listings.
#[tokio::test]
async fn a_fifo_in_the_tree_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let root = app.root.path();
    std::fs::create_dir_all(root.join("pipes")).unwrap();
    mkfifo(&root.join("pipes/fifo.jpg"));
    mkfifo(&root.join("pipes/default.jpg"));
    std::os::unix::fs::symlink("fifo.jpg", root.join("pipes/link.jpg")).unwrap();
    let started = std::time::Instant::now();
    for path in [
        "/img/pipes/fifo.jpg",
        "/img/pipes/fifo.jpg?w=10",
        "/img/pipes/fifo",
        "/img/pipes/link.jpg",
        "/img/pipes",
        "/img/pipes/400",
        "/info/pipes/fifo.jpg",
        "/info/pipes/link.jpg",
    ] {
        let res = tokio::time::timeout(std::time::Duration::from_secs(10), app.raw_get(path))
            .await
            .unwrap_or_else(|_| panic!("{path} blocked"));
        assert_eq!(res.status, 404, "{path}: {}", res.body_text());
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let res = app.get("/api/tree?path=pipes").await;
    if res.status() == 200 {
        let listing = res.text().await.unwrap();
        assert!(!listing.contains("fifo"), "{listing}");
    }
}
