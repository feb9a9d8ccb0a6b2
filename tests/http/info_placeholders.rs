//! `/info/{path}?placeholder=1` through the real server: ThumbHash, BlurHash, dominant colour
//! and LQIP decoded back with the crates' own decoders and compared with the image; cached
//! like a variant, recomputed when the file changes, refused on a bad value, signed under
//! signing, and charged to the client's render rate.

use base64::Engine;

use crate::common::app::TestApp;
use crate::common::client::{client_from, error_of};
use crate::common::images::{bands, decode, decode_rgba, near, BLUE, RED};
use imgserver::signing::UrlSigner;

/// 300x200: the left two thirds red, the right third blue.
fn red_and_blue() -> Vec<u8> {
    bands(&[RED, RED, BLUE], 100, 200)
}

async fn app_with(overrides: &[(&str, &str)]) -> TestApp {
    let app = TestApp::spawn_with(overrides).await;
    let dir = app.root.path().join("ph");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("flag.png"), red_and_blue()).unwrap();
    std::fs::write(dir.join("other.png"), bands(&[BLUE], 50, 50)).unwrap();
    app
}

async fn info(app: &TestApp, url: &str) -> serde_json::Value {
    let res = app.get(url).await;
    assert_eq!(res.status(), 200, "{url}");
    res.json().await.unwrap()
}

fn assert_dominant(json: &serde_json::Value, colour: [u8; 3]) {
    let [r, g, b] = hex(json["dominant_color"].as_str().unwrap());
    assert!(near(&image::Rgba([r, g, b, 255]), colour, 6), "{json}");
}

/// The LQIP's WebP bytes, out of its `data:` URL.
fn lqip_webp(json: &serde_json::Value) -> Vec<u8> {
    let lqip = json["lqip"].as_str().unwrap();
    base64(
        lqip.strip_prefix("data:image/webp;base64,")
            .expect("a WebP data URL"),
    )
}

fn hex(colour: &str) -> [u8; 3] {
    let c = colour.strip_prefix('#').expect("#rrggbb");
    assert_eq!(c.len(), 6, "{colour}");
    let byte = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).unwrap();
    [byte(0), byte(2), byte(4)]
}

fn base64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("standard base64")
}

fn rgb_at(rgba: &[u8], width: usize, x: usize, y: usize) -> [u8; 3] {
    let i = (y * width + x) * 4;
    [rgba[i], rgba[i + 1], rgba[i + 2]]
}

/// Whether `pixel` is nearer to `this` than to `that` (a blurred preview keeps which colour is
/// where, not the exact colour).
fn nearer(pixel: [u8; 3], this: [u8; 3], that: [u8; 3]) -> bool {
    let d = |c: [u8; 3]| -> i32 {
        (0..3)
            .map(|i| (i32::from(pixel[i]) - i32::from(c[i])).pow(2))
            .sum()
    };
    d(this) < d(that)
}

#[tokio::test]
async fn placeholders_decode_back_to_the_image() {
    let app = app_with(&[]).await;
    let json = info(&app, "/info/ph/flag.png?placeholder=1").await;
    assert_eq!(
        (json["width"].as_u64(), json["height"].as_u64()),
        (Some(300), Some(200))
    );
    assert_eq!(json["format"], "png");

    assert_dominant(&json, RED);

    // ThumbHash: its own decoder gives back the aspect ratio and the two sides' colours.
    let hash = base64(json["thumbhash"].as_str().unwrap());
    let ratio = thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).unwrap();
    assert!((ratio - 1.5).abs() < 0.15, "aspect ratio {ratio}");
    let (w, h, rgba) = thumbhash::thumb_hash_to_rgba(&hash).unwrap();
    let (left, right) = (
        rgb_at(&rgba, w, w / 6, h / 2),
        rgb_at(&rgba, w, w - 2, h / 2),
    );
    assert!(
        nearer(left, RED, BLUE) && nearer(right, BLUE, RED),
        "{left:?} {right:?}"
    );

    // BlurHash, 4x3 components (the first character says so), decoded at 30x20.
    let blur = json["blurhash"].as_str().unwrap();
    assert_eq!(&blur[..1], "L", "4x3 components: {blur}");
    let pixels = blurhash::decode(blur, 30, 20, 1.0).unwrap();
    let (left, right) = (rgb_at(&pixels, 30, 4, 10), rgb_at(&pixels, 30, 29, 10));
    assert!(
        nearer(left, RED, BLUE) && nearer(right, BLUE, RED),
        "{left:?} {right:?}"
    );

    // The LQIP: a WebP under 1 KB, 32 px on the long side, the same picture.
    let webp = lqip_webp(&json);
    assert!(webp.len() <= 1024, "{} bytes", webp.len());
    assert_eq!(decode(&webp), ("webp".to_string(), 32, 21));
    let tiny = decode_rgba(&webp);
    assert!(
        near(tiny.get_pixel(4, 10), RED, 40),
        "{:?}",
        tiny.get_pixel(4, 10)
    );
    assert!(
        near(tiny.get_pixel(31, 10), BLUE, 40),
        "{:?}",
        tiny.get_pixel(31, 10)
    );

    // Without the flag, the facts alone.
    let bare = info(&app, "/info/ph/flag.png").await;
    for key in ["thumbhash", "blurhash", "dominant_color", "lqip"] {
        assert!(bare.get(key).is_none(), "{key} without placeholder=1");
    }
    assert_eq!(info(&app, "/info/ph/flag.png?placeholder=0").await, bare);
}

#[tokio::test]
async fn placeholders_are_cached_per_version_of_the_file() {
    let app = app_with(&[]).await;
    let first = info(&app, "/info/ph/flag.png?placeholder=1").await;
    let renders = app.renders();
    assert!(renders >= 1, "the placeholders are a render");
    assert_eq!(info(&app, "/info/ph/flag.png?placeholder=1").await, first);
    assert_eq!(
        app.renders(),
        renders,
        "the second answer comes from the cache"
    );

    // The file changes (a new content identity): new placeholders, not the cached ones.
    std::fs::write(
        app.root.path().join("ph/flag.png"),
        bands(&[BLUE, BLUE, RED], 100, 200),
    )
    .unwrap();
    let changed = info(&app, "/info/ph/flag.png?placeholder=1").await;
    assert_ne!(changed["content_id"], first["content_id"]);
    assert_dominant(&changed, BLUE);
    assert_ne!(changed["thumbhash"], first["thumbhash"]);
    assert_eq!(app.renders(), renders + 1);
}

#[tokio::test]
async fn a_bad_flag_or_source_is_a_clear_error() {
    let app = app_with(&[]).await;
    for (url, status, code) in [
        (
            "/info/ph/flag.png?placeholder=yes",
            400,
            "invalid_parameter",
        ),
        ("/info/ph/missing.png?placeholder=1", 404, "not_found"),
        (
            "/info/not-an-image.jpg?placeholder=1",
            422,
            "unsupported_source",
        ),
    ] {
        let res = app.raw_get(url).await;
        assert_eq!(res.status, status, "{url}");
        assert_eq!(error_of(&res.body).0, code, "{url}");
    }
}

#[tokio::test]
async fn placeholders_are_signed_like_renders() {
    const KEY: &str = "placeholder signing key";
    let app = app_with(&[("security.signing_key", KEY)]).await;
    // The facts alone stay public, as originals are.
    assert_eq!(app.raw_get("/info/ph/flag.png").await.status, 200);
    let res = app.raw_get("/info/ph/flag.png?placeholder=1").await;
    assert_eq!(res.status, 403);
    assert_eq!(error_of(&res.body).0, "bad_signature");
    let s = UrlSigner::new(KEY.as_bytes()).signature("/info/ph/flag.png", "placeholder=1");
    let json = info(&app, &format!("/info/ph/flag.png?placeholder=1&s={s}")).await;
    assert!(json["thumbhash"].is_string());
}

#[tokio::test]
async fn computing_placeholders_is_charged_to_the_render_rate() {
    let app = app_with(&[
        ("limits.per_ip_per_second", "1"),
        ("limits.per_ip_burst", "1"),
    ])
    .await;
    std::fs::write(app.root.path().join("ph/third.png"), bands(&[RED], 40, 40)).unwrap();
    let (one, two) = (client_from([127, 0, 0, 7]), client_from([127, 0, 0, 8]));
    let status = |client: &reqwest::Client, path: &'static str| {
        let request = client.get(app.url(path)).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status(&one, "/info/ph/flag.png?placeholder=1").await, 200);
    assert_eq!(status(&one, "/info/ph/other.png?placeholder=1").await, 429);
    // What is cached costs nothing, and the facts alone are no render.
    assert_eq!(status(&one, "/info/ph/flag.png?placeholder=1").await, 200);
    assert_eq!(status(&one, "/info/ph/other.png").await, 200);
    // Through /srcset too they are renders; planning alone is none.
    assert_eq!(
        status(&two, "/srcset/ph/other.png?placeholder=1").await,
        200
    );
    assert_eq!(
        status(&two, "/srcset/ph/third.png?placeholder=1").await,
        429
    );
    assert_eq!(status(&two, "/srcset/ph/third.png").await, 200);
}

#[tokio::test]
async fn placeholders_follow_the_displayed_orientation() {
    let app = app_with(&[]).await;
    for n in [1, 6] {
        let json = info(
            &app,
            &format!("/info/orientation/orientation-{n}.jpg?placeholder=1"),
        )
        .await;
        let (w, h) = (
            json["width"].as_f64().unwrap(),
            json["height"].as_f64().unwrap(),
        );
        let hash = base64(json["thumbhash"].as_str().unwrap());
        let ratio = f64::from(thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).unwrap());
        assert!(
            (ratio - w / h).abs() < 0.15 * w / h,
            "orientation {n}: {ratio} for {w}x{h}"
        );
        let webp = lqip_webp(&json);
        let (_, lw, lh) = decode(&webp);
        assert_eq!(lw.max(lh), 32, "orientation {n}");
        assert_eq!(
            lw > lh,
            w > h,
            "orientation {n}: the LQIP is turned as displayed"
        );
    }
}

#[tokio::test]
async fn srcset_carries_the_same_placeholders_when_asked() {
    let app = app_with(&[]).await;
    let from_info = info(&app, "/info/ph/flag.png?placeholder=1").await;
    let srcset = info(&app, "/srcset/ph/flag.png?format=json&placeholder=1").await;
    let placeholder = &srcset["placeholder"];
    for key in ["thumbhash", "blurhash", "dominant_color", "lqip"] {
        assert_eq!(placeholder[key], from_info[key], "{key}: {srcset}");
    }
    let plain = info(&app, "/srcset/ph/flag.png?format=json").await;
    assert_eq!(plain["placeholder"], serde_json::Value::Null);
    let res = app.raw_get("/srcset/ph/flag.png?placeholder=maybe").await;
    assert_eq!(res.status, 400);
    assert_eq!(error_of(&res.body).0, "invalid_parameter");
}
