//! Focal points in the repository under git sync: the metadata is read from the served commit,
//! with the images, and a commit that edits one image's focus changes that image's crops after
//! the pull and leaves every other variant warm.

use crate::common::git::*;
use crate::common::images::{bands, decode_rgba, near, BLUE, GREEN, RED, YELLOW};

async fn square(
    app: &crate::common::app::TestApp,
    path: &str,
) -> (String, String, image::RgbaImage) {
    let res = app.get(&format!("{path}?w=40&h=40")).await;
    assert_eq!(res.status(), 200, "{path}");
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let cache = res.headers()["x-cache"].to_str().unwrap().to_string();
    (etag, cache, decode_rgba(&res.bytes().await.unwrap()))
}

fn all(img: &image::RgbaImage, colour: [u8; 3]) -> bool {
    img.pixels().all(|p| near(p, colour, 4))
}

#[tokio::test]
async fn a_commit_editing_one_focus_changes_only_that_images_crops() {
    let picture = bands(&[RED, GREEN, BLUE, YELLOW], 40, 40);
    let remote = Remote::new();
    remote.commit(&[
        Change::Put("shots/a.png", picture.clone()),
        Change::Put("shots/b.png", picture.clone()),
        Change::Put(
            "shots/.imgserver.toml",
            b"[\"a.png\"]\nfocus = [0.95, 0.5]\n[\"b.png\"]\nfocus = [0.05, 0.5]\n".to_vec(),
        ),
    ]);
    let app = spawn(clone(&remote), &[]).await;
    let (a_etag, _, a) = square(&app, "/img/shots/a.png").await;
    let (b_etag, _, b) = square(&app, "/img/shots/b.png").await;
    assert!(all(&a, YELLOW) && all(&b, RED));
    let info: serde_json::Value = app.get("/info/shots/a.png").await.json().await.unwrap();
    assert_eq!(info["focus"], serde_json::json!([0.95, 0.5]));

    remote.commit(&[Change::Put(
        "shots/.imgserver.toml",
        b"[\"a.png\"]\nfocus = [0.375, 0.5]\n[\"b.png\"]\nfocus = [0.05, 0.5]\n".to_vec(),
    )]);
    // Until the pull, the served commit's metadata holds.
    assert_eq!(square(&app, "/img/shots/a.png").await.0, a_etag);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");

    let (etag, cache, a) = square(&app, "/img/shots/a.png").await;
    assert_ne!(etag, a_etag, "a new crop of a.png");
    assert_eq!(cache, "miss");
    assert!(all(&a, GREEN), "the new focus");
    let (etag, cache, b) = square(&app, "/img/shots/b.png").await;
    assert_eq!(
        (etag, cache.as_str()),
        (b_etag, "hit-memory"),
        "b.png untouched"
    );
    assert!(all(&b, RED));
    let info: serde_json::Value = app.get("/info/shots/a.png").await.json().await.unwrap();
    assert_eq!(info["focus"], serde_json::json!([0.375, 0.5]));
}
