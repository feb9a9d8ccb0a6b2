//! The image request path end to end: a real server over a temp copy of the fixtures, images
//! decoded back and checked for format, size and content.

use crate::common::{
    app::TestApp,
    images::{decode, decode_rgba, near},
};

#[tokio::test]
async fn original_is_served_untouched_with_http_metadata() {
    let app = TestApp::spawn().await;
    let res = app.get("/img/storm.jpg").await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-cache"], "bypass");
    assert_eq!(h["cache-control"], "public, max-age=3600");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.contains_key("x-request-id"));
    assert!(h["etag"].to_str().unwrap().starts_with('"'));
    assert!(!h.contains_key("vary"));
    let body = res.bytes().await.unwrap();
    assert_eq!(
        h["content-length"].to_str().unwrap(),
        body.len().to_string()
    );
    assert_eq!(
        &body[..],
        &std::fs::read(app.root.path().join("storm.jpg")).unwrap()[..]
    );
    assert_eq!(app.renders(), 0, "an original is never rendered");
}

#[tokio::test]
async fn width_or_height_alone_keeps_the_aspect_ratio() {
    let app = TestApp::spawn().await;
    for (query, w, h) in [
        ("w=400", 400, 267),
        ("h=100", 150, 100),
        ("w=401&dpr=1", 401, 267),
    ] {
        let res = app.get(&format!("/img/storm.jpg?{query}")).await;
        assert_eq!(res.status(), 200, "{query}");
        assert_eq!(res.headers()["x-cache"], "miss");
        assert!(res.headers()["server-timing"]
            .to_str()
            .unwrap()
            .starts_with("render;dur="));
        let (fmt, rw, rh) = decode(&res.bytes().await.unwrap());
        assert_eq!((fmt.as_str(), rw, rh), ("jpeg", w, h), "{query}");
    }
}

#[tokio::test]
async fn every_fit_mode_has_its_exact_size() {
    let app = TestApp::spawn().await;
    // storm.jpg is 1920x1280 (3:2).
    for (fit, w, h) in [
        ("cover", 300, 300),
        ("contain", 300, 300),
        ("fill", 300, 300),
        ("inside", 300, 200),
        ("outside", 450, 300),
    ] {
        let res = app
            .get(&format!("/img/storm.jpg?w=300&h=300&fit={fit}&fmt=png"))
            .await;
        assert_eq!(res.status(), 200, "{fit}");
        let (_, rw, rh) = decode(&res.bytes().await.unwrap());
        assert_eq!((rw, rh), (w, h), "fit={fit}");
    }
}

#[tokio::test]
async fn no_upscaling_unless_enlarge() {
    let app = TestApp::spawn().await;
    let (_, w, h) = decode(
        &app.get("/img/storm.jpg?w=3000")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!((w, h), (1920, 1280), "the box shrinks to the source");
    let (_, w, h) = decode(
        &app.get("/img/storm.jpg?w=3000&enlarge=1")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!((w, h), (3000, 2000));
    // A cover box larger than the source keeps its aspect ratio and uses the source at scale 1.
    let (_, w, h) = decode(
        &app.get("/img/storm.jpg?w=4000&h=2000&fmt=png")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!((w, h), (1920, 960));
}

#[tokio::test]
async fn dpr_multiplies_the_box_and_the_ceiling_holds() {
    let app = TestApp::spawn().await;
    let (_, w, h) = decode(
        &app.get("/img/storm.jpg?w=200&dpr=2")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!((w, h), (400, 267));
    let (_, w, h) = decode(
        &app.get("/img/storm.jpg?w=1500&dpr=4&enlarge=1")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!((w, h), (4096, 2731), "never wider than images.max_width");
}

#[tokio::test]
async fn contain_letterboxes_with_the_background_colour() {
    let app = TestApp::spawn().await;
    let res = app
        .get("/img/storm.jpg?w=300&h=300&fit=contain&bg=f00&fmt=png")
        .await;
    let img = decode_rgba(&res.bytes().await.unwrap());
    assert_eq!(img.dimensions(), (300, 300));
    // The 300x200 picture is centred: 50 px bars above and below.
    assert!(
        near(img.get_pixel(150, 10), [255, 0, 0], 2),
        "{:?}",
        img.get_pixel(150, 10)
    );
    assert!(near(img.get_pixel(150, 290), [255, 0, 0], 2));
    assert!(!near(img.get_pixel(150, 150), [255, 0, 0], 40));
}

#[tokio::test]
async fn every_output_format() {
    let app = TestApp::spawn().await;
    for (fmt, expected, mime) in [
        ("jpeg", "jpeg", "image/jpeg"),
        ("jpg", "jpeg", "image/jpeg"),
        ("png", "png", "image/png"),
        ("webp", "webp", "image/webp"),
        ("avif", "avif", "image/avif"),
        ("gif", "gif", "image/gif"),
    ] {
        let res = app.get(&format!("/img/storm.jpg?w=160&fmt={fmt}")).await;
        assert_eq!(res.status(), 200, "{fmt}");
        assert_eq!(res.headers()["content-type"], mime, "{fmt}");
        let (got, w, h) = decode(&res.bytes().await.unwrap());
        assert_eq!((got.as_str(), w, h), (expected, 160, 107), "{fmt}");
    }
}

#[tokio::test]
async fn every_input_format_converts() {
    let app = TestApp::spawn().await;
    for (path, w, h) in [
        ("formats/storm-lossy.webp", 1920, 1280),
        ("formats/storm-alpha.png", 960, 640),
        ("formats/storm-palette-alpha.png", 480, 320),
        ("formats/animated.gif", 320, 240),
        ("formats/storm-static.gif", 640, 427),
    ] {
        let res = app.get(&format!("/img/{path}?w=120&fmt=png")).await;
        assert_eq!(res.status(), 200, "{path}");
        let (fmt, rw, rh) = decode(&res.bytes().await.unwrap());
        assert_eq!((fmt.as_str(), rw), ("png", 120), "{path}");
        assert_eq!(rh, ((120.0 * h as f64) / w as f64).round() as u32, "{path}");
    }
}

#[tokio::test]
async fn original_format_is_kept_by_default() {
    let app = TestApp::spawn().await;
    for (path, expected) in [
        ("formats/storm-alpha.png", "png"),
        ("formats/storm-lossy.webp", "webp"),
        ("formats/animated.gif", "gif"),
    ] {
        let res = app.get(&format!("/img/{path}?w=100")).await;
        let (fmt, w, _) = decode(&res.bytes().await.unwrap());
        assert_eq!((fmt.as_str(), w), (expected, 100), "{path}");
    }
}

#[tokio::test]
async fn auto_format_follows_accept_and_varies() {
    let app = TestApp::spawn().await;
    for (accept, expected) in [
        ("image/avif,image/webp,*/*", "avif"),
        ("image/webp,*/*;q=0.8", "webp"),
        ("image/*,*/*", "jpeg"),
        ("", "jpeg"),
    ] {
        let res = app
            .get_with("/img/storm.jpg?w=100&fmt=auto", &[("accept", accept)])
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["vary"], "Accept", "{accept}");
        let (fmt, _, _) = decode(&res.bytes().await.unwrap());
        assert_eq!(fmt, expected, "Accept: {accept}");
    }
    let res = app
        .get_with("/img/storm.jpg?w=100&fmt=webp", &[("accept", "image/avif")])
        .await;
    assert!(
        !res.headers().contains_key("vary"),
        "no Vary when the format was not negotiated"
    );
    // A PNG source falls back to PNG for a client that accepts neither.
    let res = app
        .get_with(
            "/img/formats/storm-alpha.png?w=100&fmt=auto",
            &[("accept", "*/*")],
        )
        .await;
    assert_eq!(decode(&res.bytes().await.unwrap()).0, "png");
}

#[tokio::test]
async fn if_none_match_answers_304_before_any_render() {
    let first = TestApp::spawn().await;
    let res = first.get("/img/storm.jpg?w=300&fmt=webp").await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let res = first
        .get_with("/img/storm.jpg?w=300&fmt=webp", &[("if-none-match", &etag)])
        .await;
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
    assert!(res.bytes().await.unwrap().is_empty());

    // A fresh server over the same files has rendered nothing, yet answers 304 at once.
    let crate::common::app::TestApp {
        root,
        outside,
        cache_dir,
        ..
    } = first;
    let second = TestApp::spawn_on(root, outside, tempfile::tempdir().unwrap(), &[]).await;
    drop(cache_dir);
    let res = second
        .get_with(
            "/img/storm.jpg?w=300&fmt=webp",
            &[("if-none-match", &format!("\"x\", {etag}"))],
        )
        .await;
    assert_eq!(res.status(), 304);
    assert_eq!(second.renders(), 0);
    // The original's ETag works the same way.
    let etag = second.get("/img/storm.jpg").await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        second
            .get_with("/img/storm.jpg", &[("if-none-match", &etag)])
            .await
            .status(),
        304
    );
    // A changed file changes the ETag.
    std::fs::write(
        second.root.path().join("storm.jpg"),
        std::fs::read(second.root.path().join("a..b.jpg")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        second
            .get_with("/img/storm.jpg", &[("if-none-match", &etag)])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn head_gives_the_headers_of_get() {
    let app = TestApp::spawn().await;
    for path in ["/img/storm.jpg?w=250&fmt=webp", "/img/storm.jpg"] {
        let get = app.get(path).await;
        let get_len = get.headers()["content-length"].clone();
        let get_etag = get.headers()["etag"].clone();
        let get_type = get.headers()["content-type"].clone();
        let body = get.bytes().await.unwrap();
        let head = crate::common::raw::raw_request(app.port, "HEAD", path, &[]).await;
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("content-length").unwrap(),
            get_len.to_str().unwrap()
        );
        assert_eq!(
            head.header("content-length").unwrap(),
            body.len().to_string()
        );
        assert_eq!(head.header("etag").unwrap(), get_etag.to_str().unwrap());
        assert_eq!(
            head.header("content-type").unwrap(),
            get_type.to_str().unwrap()
        );
        assert!(head.body.is_empty(), "HEAD has no body");
    }
}

#[tokio::test]
async fn exif_orientation_1_to_8_is_applied() {
    let app = TestApp::spawn().await;
    for n in 1..=8 {
        let res = app
            .get(&format!(
                "/img/orientation/orientation-{n}.jpg?w=480&fmt=png"
            ))
            .await;
        assert_eq!(res.status(), 200);
        let img = decode_rgba(&res.bytes().await.unwrap());
        assert_eq!(img.dimensions(), (480, 320), "orientation {n}");
        // Red square top-left, green top-right, blue bottom-left, no square bottom-right.
        assert!(
            near(img.get_pixel(20, 20), [255, 0, 0], 40),
            "orientation {n}: top-left {:?}",
            img.get_pixel(20, 20)
        );
        assert!(
            near(img.get_pixel(459, 20), [0, 255, 0], 40),
            "orientation {n}: top-right {:?}",
            img.get_pixel(459, 20)
        );
        assert!(
            near(img.get_pixel(20, 299), [0, 0, 255], 40),
            "orientation {n}: bottom-left {:?}",
            img.get_pixel(20, 299)
        );
        let br = img.get_pixel(459, 299);
        assert!(
            ![[255, 0, 0], [0, 255, 0], [0, 0, 255]]
                .iter()
                .any(|c| near(br, *c, 40)),
            "orientation {n}: bottom-right"
        );
    }
}

#[tokio::test]
async fn alpha_is_flattened_on_bg_for_jpeg() {
    let app = TestApp::spawn().await;
    // storm-alpha.png is clear at its corners and opaque in the middle.
    for (bg, rgb) in [
        ("ff0000", [255, 0, 0]),
        ("000", [0, 0, 0]),
        ("fff", [255, 255, 255]),
    ] {
        let res = app
            .get(&format!(
                "/img/formats/storm-alpha.png?w=480&fmt=jpeg&bg={bg}"
            ))
            .await;
        let bytes = res.bytes().await.unwrap();
        assert_eq!(decode(&bytes).0, "jpeg");
        let img = decode_rgba(&bytes);
        assert!(
            near(img.get_pixel(3, 3), rgb, 12),
            "bg={bg}: corner {:?}",
            img.get_pixel(3, 3)
        );
    }
    // Without bg, the default is white.
    let img = decode_rgba(
        &app.get("/img/formats/storm-alpha.png?w=480&fmt=jpeg")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert!(near(img.get_pixel(3, 3), [255, 255, 255], 12));
    // A format with alpha keeps it.
    let img = decode_rgba(
        &app.get("/img/formats/storm-alpha.png?w=480&fmt=png")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(img.get_pixel(3, 3).0[3], 0);
}

#[tokio::test]
async fn both_grammars_share_one_cache_entry() {
    let app = TestApp::spawn().await;
    let a = app.get("/img/storm.jpg/400").await;
    assert_eq!(a.headers()["x-cache"], "miss");
    let etag = a.headers()["etag"].clone();
    let b = app.get("/img/storm.jpg?w=400").await;
    assert_eq!(b.headers()["etag"], etag);
    assert_eq!(b.headers()["x-cache"], "hit-memory");
    let c = app.get("/img/storm/q80/400").await;
    assert_eq!(
        c.headers()["etag"],
        etag,
        "extensionless, segments in any order, default q spelled out"
    );
    assert_eq!(app.renders(), 1);

    let d = app.get("/img/storm.jpg/300x200/webp/q70").await;
    let e = app.get("/img/storm.jpg?q=70&fmt=webp&h=200&w=300").await;
    assert_eq!(d.headers()["etag"], e.headers()["etag"]);
    assert_eq!(e.headers()["x-cache"], "hit-memory");
    let (fmt, w, h) = decode(&e.bytes().await.unwrap());
    assert_eq!((fmt.as_str(), w, h), ("webp", 300, 200));
    let f = app.get("/img/storm.jpg?w=150&dpr=2").await;
    assert_eq!(f.headers()["x-cache"], "miss");
    let g = app.get("/img/storm.jpg?w=300").await;
    assert_eq!(g.headers()["x-cache"], "hit-memory", "dpr=2&w=150 is w=300");
    assert_eq!(app.renders(), 3);
}

#[tokio::test]
async fn goimgserver_path_conveniences() {
    let app = TestApp::spawn().await;
    let res = app.get("/img/storm").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.bytes().await.unwrap().len(),
        695070,
        "storm finds storm.jpg"
    );
    let res = app.get("/img/cats").await;
    assert_eq!(
        decode(&res.bytes().await.unwrap()),
        ("jpeg".into(), 480, 320),
        "a folder serves default.*"
    );
    let res = app.get("/img/cats/200").await;
    assert_eq!(
        decode(&res.bytes().await.unwrap()),
        ("jpeg".into(), 200, 133)
    );
    let res = app.get("/img/cats/kitten/100x100/webp").await;
    assert_eq!(
        decode(&res.bytes().await.unwrap()),
        ("webp".into(), 100, 100),
        "extensionless .png"
    );
}

#[tokio::test]
async fn legal_unusual_names_are_served() {
    let app = TestApp::spawn().await;
    for path in [
        "/img/with%20space/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9%20%231%3Bx.jpg?w=100",
        "/img/a..b.jpg?w=100",
        "/img/inside-link.jpg?w=100",
        "/img/cats/up-link.jpg?w=100",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(decode(&res.bytes().await.unwrap()).1, 100, "{path}");
    }
}

#[tokio::test]
async fn a_png_named_jpg_is_sniffed_by_content() {
    let app = TestApp::spawn().await;
    let res = app.get("/img/png-named.jpg").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let res = app.get("/img/png-named.jpg?w=100").await;
    assert_eq!(decode(&res.bytes().await.unwrap()).0, "png");
}

#[tokio::test]
async fn info_describes_the_source() {
    let app = TestApp::spawn().await;
    let v: serde_json::Value = app.get("/info/storm.jpg").await.json().await.unwrap();
    assert_eq!(v["width"], 1920);
    assert_eq!(v["height"], 1280);
    assert_eq!(v["format"], "jpeg");
    assert_eq!(v["bytes"], 695070);
    assert!(v["content_id"].as_str().unwrap().len() >= 16);
    let v: serde_json::Value = app
        .get("/info/orientation/orientation-6.jpg")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(480), Some(320)),
        "displayed size"
    );
    assert_eq!(app.get("/info/not-an-image.jpg").await.status(), 422);
    assert_eq!(app.get("/info/missing.jpg").await.status(), 404);
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["cache_writable"], true);
    // An unwritable cache is reported but does not make the service unready.
    let blocked = app.cache_dir.path().join("blocked");
    std::fs::write(&blocked, b"a file where a folder should be").unwrap();
    let app2 = TestApp::spawn_with(&[("cache.dir", blocked.to_str().unwrap())]).await;
    let res = app2.get("/readyz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["cache_writable"],
        false
    );
    // A source that cannot be read makes it unready.
    std::fs::remove_dir_all(app.root.path()).unwrap();
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["source_readable"],
        false
    );
}

#[tokio::test]
async fn request_id_is_propagated_or_generated() {
    let app = TestApp::spawn().await;
    let res = app
        .get_with("/img/storm.jpg", &[("x-request-id", "abc-123")])
        .await;
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app
        .get_with(
            "/img/missing.jpg",
            &[("x-request-id", "bad id with spaces")],
        )
        .await;
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, "bad id with spaces");
    assert_eq!(id.len(), 32);
    assert_eq!(
        res.headers()["x-content-type-options"],
        "nosniff",
        "errors carry it too"
    );
}

#[tokio::test]
async fn metadata_is_stripped_from_outputs() {
    let app = TestApp::spawn().await;
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    // storm.jpg carries EXIF (camera, orientation); storm-alpha.png carries eXIf and tEXt chunks.
    let original = std::fs::read(app.root.path().join("storm.jpg")).unwrap();
    assert!(
        contains(&original, b"Exif\0\0"),
        "the fixture has EXIF to strip"
    );
    for fmt in ["jpeg", "webp", "png", "avif"] {
        let body = app
            .get(&format!("/img/storm.jpg?w=100&fmt={fmt}"))
            .await
            .bytes()
            .await
            .unwrap();
        assert!(!contains(&body, b"Exif"), "{fmt} output keeps EXIF");
        assert!(!contains(&body, b"Canon"), "{fmt} output keeps camera data");
    }
    let png_source = std::fs::read(app.root.path().join("formats/storm-alpha.png")).unwrap();
    assert!(contains(&png_source, b"tEXt") || contains(&png_source, b"eXIf"));
    let body = app
        .get("/img/formats/storm-alpha.png?w=100")
        .await
        .bytes()
        .await
        .unwrap();
    assert!(!contains(&body, b"tEXt") && !contains(&body, b"eXIf") && !contains(&body, b"zTXt"));
}

/// A small PNG grown to `len` bytes with a sparse tail of zeros that PNG readers ignore after
/// `IEND`: a big source that costs nothing on disk.
fn big_png(app: &TestApp, name: &str, len: u64) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]));
    let mut head = std::io::Cursor::new(Vec::new());
    img.write_to(&mut head, image::ImageFormat::Png).unwrap();
    let head = head.into_inner();
    let path = app.root.path().join(name);
    std::fs::write(&path, &head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len)
        .unwrap();
    head
}

/// A client that sends a request, reads the response head, and then stops reading.
fn stalled_client(port: u16, path: &str) -> (std::net::TcpStream, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    let end = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed before the head");
        seen.extend_from_slice(&buf[..n]);
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&seen[..end]).into_owned();
    (stream, head, seen[end..].to_vec())
}

/// With `limits.source_bytes_in_flight` at 40 MiB, eight clients that stop reading a 32 MiB
/// original are all answered at once and hold only their stream buffers (a server reading
/// originals whole would hold 256 MiB, or refuse all but one); `/info` and the original of a
/// 39.5 MiB file still fit in what is left, a render of it (which holds its source) does not
/// and gets 503 `overloaded`, and goes through once the clients are gone.
#[tokio::test]
async fn big_originals_are_streamed_within_the_source_budget() {
    const MIB: u64 = 1024 * 1024;
    let app = TestApp::spawn_with(&[
        ("limits.source_bytes_in_flight", "40MiB"),
        ("images.max_source_bytes", "40MiB"),
    ])
    .await;
    let head = big_png(&app, "big.png", 32 * MIB);
    big_png(&app, "heavy.png", 39 * MIB + MIB / 2);
    let budget = app.state.delivery.source_budget().clone();

    let port = app.port;
    let clients: Vec<_> = (0..8)
        .map(|_| tokio::task::spawn_blocking(move || stalled_client(port, "/img/big.png")))
        .collect();
    let mut stalled = Vec::new();
    for c in clients {
        let (stream, head_text, first) = c.await.unwrap();
        assert!(head_text.starts_with("HTTP/1.1 200"), "{head_text}");
        let lower = head_text.to_ascii_lowercase();
        assert!(
            lower.contains(&format!("content-length: {}", 32 * MIB)),
            "{head_text}"
        );
        assert!(lower.contains("content-type: image/png"), "{head_text}");
        stalled.push((stream, first));
    }
    let held = budget.in_use();
    assert!(held > 0, "the stalled streams hold their buffers");
    assert!(
        held <= 2 * MIB,
        "8 stalled originals hold {held} bytes of source"
    );

    // Fresh connections (raw_get): a pooled one may have idled past keep-alive meanwhile.
    let res = app.raw_get("/info/heavy.png").await;
    assert_eq!(res.status, 200, "/info reads a prefix: {}", res.body_text());
    let v: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(v["bytes"], 39 * MIB + MIB / 2);
    assert_eq!(v["format"], "png");
    let (_, w, h) = decode(&head);
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(w.into()), Some(h.into()))
    );
    let res = app.raw_get("/img/heavy.png").await;
    assert_eq!(res.status, 200, "an original is streamed");
    assert_eq!(res.body.len() as u64, 39 * MIB + MIB / 2);

    let res = app.raw_get("/img/heavy.png?w=10").await;
    assert_eq!(res.status, 503, "{}", res.body_text());
    assert_eq!(crate::common::client::error_of(&res.body).0, "overloaded");

    let drained: Vec<_> = stalled
        .into_iter()
        .map(|(mut stream, mut body)| {
            tokio::task::spawn_blocking(move || {
                use std::io::Read;
                stream.read_to_end(&mut body).unwrap();
                body
            })
        })
        .collect();
    for d in drained {
        let body = d.await.unwrap();
        assert_eq!(body.len() as u64, 32 * MIB);
        assert_eq!(&body[..head.len()], &head[..], "byte for byte");
        assert!(body[head.len()..].iter().all(|&b| b == 0));
    }
    let res = app.raw_get("/img/heavy.png?w=10").await;
    assert_eq!(res.status, 200, "{}", res.body_text());
    assert_eq!(decode(&res.body).1, 10);
    assert_eq!(budget.in_use(), 0, "everything charged is given back");
}

/// A JPEG whose frame header sits behind 320 KiB of application segments: `/info` grows its
/// prefix until the header is whole, and the original is still served byte for byte.
#[tokio::test]
async fn a_header_deep_in_the_file_is_still_read() {
    let app = TestApp::spawn().await;
    let storm = std::fs::read(app.root.path().join("storm.jpg")).unwrap();
    let mut deep = storm[..2].to_vec();
    for _ in 0..5 {
        deep.extend_from_slice(&[0xFF, 0xEF, 0xFF, 0xFF]);
        deep.extend(std::iter::repeat_n(0u8, 0xFFFF - 2));
    }
    deep.extend_from_slice(&storm[2..]);
    std::fs::write(app.root.path().join("deep.jpg"), &deep).unwrap();
    let v: serde_json::Value = app.get("/info/deep.jpg").await.json().await.unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(1920), Some(1280))
    );
    assert_eq!(v["bytes"], deep.len());
    let res = app.get("/img/deep.jpg").await;
    assert_eq!(res.status(), 200);
    assert_eq!(&res.bytes().await.unwrap()[..], &deep[..]);
    let res = app.get("/img/deep.jpg?w=100").await;
    assert_eq!(
        decode(&res.bytes().await.unwrap()),
        ("jpeg".into(), 100, 67)
    );
}
