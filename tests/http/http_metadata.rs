//! Focal points and alt text kept in the repository (`.imgserver.toml` beside the images),
//! through the real server over a plain folder: the focus places an open cover crop, the
//! request's own placement wins, `/info` reports both, edits apply at once, a malformed file is
//! ignored as a whole, and the file itself is never served.

use crate::common::{
    app::TestApp,
    images::{bands, decode_rgba, near, BLUE, GREEN, RED, YELLOW},
};

async fn app() -> TestApp {
    let app = TestApp::spawn().await;
    let dir = app.root.path().join("meta");
    std::fs::create_dir_all(&dir).unwrap();
    let picture = bands(&[RED, GREEN, BLUE, YELLOW], 100, 100);
    std::fs::write(dir.join("bands.png"), &picture).unwrap();
    std::fs::write(dir.join("plain.png"), &picture).unwrap();
    write_meta(
        &app,
        "[\"bands.png\"]\nfocus = [0.9, 0.5]\nalt = \"Four bands, <b>bold</b> & \\\"quoted\\\"\"\n",
    );
    app
}

fn write_meta(app: &TestApp, text: &str) {
    std::fs::write(app.root.path().join("meta/.imgserver.toml"), text).unwrap();
}

async fn square(app: &TestApp, path: &str, extra: &str) -> image::RgbaImage {
    let res = app
        .get(&format!("/img/meta/{path}?w=100&h=100{extra}"))
        .await;
    assert_eq!(res.status(), 200);
    decode_rgba(&res.bytes().await.unwrap())
}

fn all(img: &image::RgbaImage, colour: [u8; 3]) -> bool {
    img.pixels().all(|p| near(p, colour, 4))
}

#[tokio::test]
async fn the_focus_places_an_open_cover_crop_and_the_request_wins() {
    let app = app().await;
    assert!(
        all(&square(&app, "bands.png", "").await, YELLOW),
        "the focus, on the right"
    );
    // The image without an entry keeps the centre: half green, half blue.
    let img = square(&app, "plain.png", "").await;
    assert!(near(img.get_pixel(10, 50), GREEN, 4) && near(img.get_pixel(90, 50), BLUE, 4));
    // A request that places its crop keeps its placement.
    let img = square(&app, "bands.png", "&g=center").await;
    assert!(near(img.get_pixel(10, 50), GREEN, 4));
    assert!(all(&square(&app, "bands.png", "&g=west").await, RED));
    assert!(all(
        &square(&app, "bands.png", "&fp=0.375,0.5").await,
        GREEN
    ));
    // The subject at the focus stays in the crop of every aspect.
    for (w, h) in [(100, 100), (80, 60), (160, 90), (60, 100)] {
        let res = app.get(&format!("/img/meta/bands.png?w={w}&h={h}")).await;
        let img = decode_rgba(&res.bytes().await.unwrap());
        assert_eq!(img.dimensions(), (w, h));
        assert!(near(img.get_pixel(w - 1, h / 2), YELLOW, 4), "{w}x{h}");
    }
    // Other fits do not crop: the focus cannot matter there, so it is not in their key (the
    // same variant as the explicitly centred one).
    let res = app.get("/img/meta/bands.png?w=100&h=100&fit=contain").await;
    assert_eq!(res.headers()["x-cache"], "miss");
    let res = app
        .get("/img/meta/bands.png?w=100&h=100&fit=contain&g=center")
        .await;
    assert_eq!(res.headers()["x-cache"], "hit-memory");
}

#[tokio::test]
async fn info_reports_focus_and_alt() {
    let app = app().await;
    let info: serde_json::Value = app.get("/info/meta/bands.png").await.json().await.unwrap();
    assert_eq!(info["focus"], serde_json::json!([0.9, 0.5]));
    assert_eq!(info["alt"], "Four bands, <b>bold</b> & \"quoted\"");
    let info: serde_json::Value = app.get("/info/meta/plain.png").await.json().await.unwrap();
    assert!(
        info.get("focus").is_none() && info.get("alt").is_none(),
        "{info}"
    );
    // The metadata file is a dotfile: never served, under either prefix.
    for path in ["/img/meta/.imgserver.toml", "/info/meta/.imgserver.toml"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn an_edit_applies_at_once_and_a_malformed_file_is_ignored_whole() {
    let app = app().await;
    assert!(all(&square(&app, "bands.png", "").await, YELLOW));
    write_meta(&app, "[\"bands.png\"]\nfocus = [0.0, 0.5]\n");
    let res = app.get("/img/meta/bands.png?w=100&h=100").await;
    assert_eq!(
        res.headers()["x-cache"],
        "miss",
        "a new focus is a new variant"
    );
    assert!(all(&decode_rgba(&res.bytes().await.unwrap()), RED));
    // The plain image's variant was not touched by the edit.
    square(&app, "plain.png", "").await;
    let res = app.get("/img/meta/plain.png?w=100&h=100").await;
    assert_eq!(res.headers()["x-cache"], "hit-memory");

    // One bad value and the whole file counts as absent: the centre again, no alt.
    write_meta(
        &app,
        "[\"bands.png\"]\nfocus = [0.0, 0.5]\nalt = \"kept?\"\n[\"plain.png\"]\nfocus = [2, 0]\n",
    );
    let img = square(&app, "bands.png", "").await;
    assert!(near(img.get_pixel(10, 50), GREEN, 4) && near(img.get_pixel(90, 50), BLUE, 4));
    let info: serde_json::Value = app.get("/info/meta/bands.png").await.json().await.unwrap();
    assert!(info.get("alt").is_none(), "{info}");
    // Garbage, or not UTF-8 at all: the same.
    std::fs::write(
        app.root.path().join("meta/.imgserver.toml"),
        [0xff, 0xfe, 0x00],
    )
    .unwrap();
    let info = app.get("/info/meta/bands.png").await;
    assert_eq!(info.status(), 200);
}
