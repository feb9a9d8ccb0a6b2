//! SVG transforms through the real server: rasterised at the size asked for (an SVG has no
//! pixels to upscale), `fmt=original` as PNG and `fmt=auto` by `Accept` in the PNG family, the
//! operations applied to the raster as to any image, `/srcset` over the whole ladder, and the
//! studio listing SVGs with raster thumbnails.

use crate::common::app::TestApp;
use crate::common::client::header;
use crate::common::images::{decode, decode_rgba, near};

use super::svg_serving::NS;

/// 80x40: the left half red, the right half transparent; a blue 10x10 square at the top left.
fn flag() -> String {
    format!(
        r##"<svg {NS} viewBox="0 0 80 40"><rect width="40" height="40" fill="#ff0000"/><rect width="10" height="10" fill="#0000ff"/></svg>"##
    )
}

async fn app() -> TestApp {
    let app = TestApp::spawn().await;
    let dir = app.root.path().join("vec");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("flag.svg"), flag()).unwrap();
    std::fs::write(
        dir.join("icon.svg"),
        format!(r##"<svg {NS} width="24" height="24"><circle cx="12" cy="12" r="12" fill="#00ff00"/></svg>"##),
    )
    .unwrap();
    app
}

async fn fetch(app: &TestApp, url: &str, accept: Option<&str>) -> (String, Vec<u8>) {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    let res = app.get_with(url, &headers).await;
    assert_eq!(res.status(), 200, "{url}");
    let content_type = header(&res, "content-type");
    (content_type, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn rasterised_at_the_requested_size_with_its_colours() {
    let app = app().await;
    let (content_type, bytes) = fetch(&app, "/img/vec/flag.svg?w=800", None).await;
    assert_eq!(content_type, "image/png", "fmt=original of an SVG is PNG");
    let img = decode_rgba(&bytes);
    assert_eq!(
        img.dimensions(),
        (800, 400),
        "ten times its size, not capped at it"
    );
    assert!(near(img.get_pixel(300, 300), [255, 0, 0], 2));
    assert!(near(img.get_pixel(50, 50), [0, 0, 255], 2));
    assert_eq!(img.get_pixel(600, 200).0[3], 0, "transparency kept");
    let (_, bytes) = fetch(&app, "/img/vec/icon.svg?w=1000&fmt=original", None).await;
    assert_eq!(decode(&bytes), ("png".into(), 1000, 1000));
    let (_, bytes) = fetch(&app, "/img/vec/icon.svg?w=3000&dpr=2", None).await;
    assert_eq!(decode(&bytes).1, 4096, "within images.max_width");
    let (_, bytes) = fetch(&app, "/img/vec/flag.svg?h=20&fmt=jpeg", None).await;
    let img = decode_rgba(&bytes);
    assert_eq!(img.dimensions(), (40, 20));
    assert!(
        near(img.get_pixel(30, 10), [255, 255, 255], 12),
        "flattened onto white"
    );
    assert_eq!(
        app.get("/img/vec/flag.svg?w=10&fmt=svg").await.status(),
        400
    );
}

#[tokio::test]
async fn auto_negotiates_in_the_png_family() {
    let app = app().await;
    let url = "/img/vec/flag.svg?w=80&fmt=auto";
    for (accept, expected) in [
        (None, "image/png"),
        (Some("image/webp,*/*"), "image/webp"),
        (Some("image/avif,image/webp,*/*"), "image/avif"),
    ] {
        let (content_type, bytes) = fetch(&app, url, accept).await;
        assert_eq!(content_type, expected, "{accept:?}");
        assert_eq!(decode(&bytes).1, 80);
    }
}

#[tokio::test]
async fn the_operations_apply_to_the_raster() {
    let app = app().await;
    // cover: a centred square of the 2:1 flag keeps half red, half transparent.
    let (_, bytes) = fetch(&app, "/img/vec/flag.svg?w=100&h=100&fit=cover", None).await;
    let img = decode_rgba(&bytes);
    assert_eq!(img.dimensions(), (100, 100));
    assert!(near(img.get_pixel(25, 50), [255, 0, 0], 2));
    assert_eq!(img.get_pixel(75, 50).0[3], 0);
    // A crop of the blue square, drawn at 200 px: sharp, not an enlarged 10 px bitmap.
    let (_, bytes) = fetch(&app, "/img/vec/flag.svg?crop=0,0,10,10&w=200", None).await;
    let img = decode_rgba(&bytes);
    assert_eq!(img.dimensions(), (200, 200));
    assert!(near(img.get_pixel(198, 198), [0, 0, 255], 2));
    // A quarter turn clockwise: the box is the turned image's, the red half now on top.
    let (_, bytes) = fetch(&app, "/img/vec/flag.svg?w=80&rot=90", None).await;
    let img = decode_rgba(&bytes);
    assert_eq!(img.dimensions(), (80, 160));
    assert!(near(img.get_pixel(40, 60), [255, 0, 0], 2));
    assert_eq!(img.get_pixel(40, 120).0[3], 0);
    // Padding in the background colour, blur, WebP.
    let (content_type, bytes) = fetch(
        &app,
        "/img/vec/flag.svg?w=80&pad=10&bg=00ff00&blur=1&fmt=webp",
        None,
    )
    .await;
    assert_eq!(content_type, "image/webp");
    let img = decode_rgba(&bytes);
    assert_eq!(img.dimensions(), (100, 60));
    assert!(near(img.get_pixel(2, 2), [0, 255, 0], 8));
    // contain letterboxes onto the background.
    let (_, bytes) = fetch(
        &app,
        "/img/vec/icon.svg?w=200&h=100&fit=contain&bg=000000&fmt=jpeg",
        None,
    )
    .await;
    let img = decode_rgba(&bytes);
    assert_eq!(img.dimensions(), (200, 100));
    assert!(near(img.get_pixel(100, 50), [0, 255, 0], 16));
    assert!(near(img.get_pixel(10, 50), [0, 0, 0], 16));
}

#[tokio::test]
async fn srcset_offers_the_whole_ladder() {
    let app = app().await;
    let res = app.get("/srcset/vec/icon.svg").await;
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    let srcset = json["srcset"].as_str().unwrap();
    assert!(
        srcset.ends_with(" 2560w"),
        "the default ladder's top: {srcset}"
    );
    assert_eq!(
        (json["width"].as_u64(), json["height"].as_u64()),
        (Some(2560), Some(2560))
    );
    let src = json["src"].as_str().expect("an img src");
    let (content_type, bytes) = fetch(&app, src, None).await;
    assert_eq!(content_type, "image/png", "the <img> falls back to PNG");
    let (_, w, h) = decode(&bytes);
    assert_eq!(w, h);
    assert!(w > 24, "{w}: an icon is not capped at its 24 px");
    let types: Vec<&str> = json["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"image/webp"), "{json}");
}

#[tokio::test]
async fn the_studio_lists_svgs_with_raster_thumbnails() {
    let app = app().await;
    let res = app.get("/api/tree?path=vec").await;
    assert_eq!(res.status(), 200);
    let folder: serde_json::Value = res.json().await.unwrap();
    let images = folder["images"].as_array().unwrap();
    let flag = images
        .iter()
        .find(|i| i["name"] == "flag.svg")
        .unwrap_or_else(|| panic!("flag.svg in {folder}"));
    let src = flag["thumb"]["src"].as_str().unwrap();
    let (content_type, bytes) = fetch(&app, src, None).await;
    assert_ne!(content_type, "image/svg+xml", "{src}");
    let (_, w, h) = decode(&bytes);
    assert!(w > 0 && h > 0);
}
