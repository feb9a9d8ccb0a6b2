//! Animated GIF and WebP through the real server: every frame kept, composed (disposal to
//! background and to previous, partial and blended frames) and then resized like a still, with
//! its duration, and the loop count; the first frame for still formats and `anim=0`;
//! `fmt=auto` staying animated; the frame and pixel limits refused from the header.

use crate::common::animation::{self, Dispose, Patch};
use crate::common::app::TestApp;
use crate::common::client::{error_of, header};
use crate::common::images::{decode, decode_rgba, near, BLUE, GREEN, RED};

const CLEAR: Option<[u8; 3]> = None;

fn patch(
    left: u16,
    top: u16,
    side: u16,
    colour: Option<[u8; 3]>,
    ms: u16,
    dispose: Dispose,
) -> Patch {
    Patch {
        left,
        top,
        width: side,
        height: side,
        colour,
        ms,
        dispose,
    }
}

/// 64x48: red everywhere; a green square shown then restored (to previous); a blue square
/// shown then cleared (to background); a transparent patch that leaves the canvas as it is.
fn gif_source() -> Vec<u8> {
    animation::gif(
        64,
        48,
        &[
            Patch {
                width: 64,
                height: 48,
                ..patch(0, 0, 0, Some(RED), 100, Dispose::Keep)
            },
            patch(16, 16, 16, Some(GREEN), 200, Dispose::Previous),
            patch(32, 16, 16, Some(BLUE), 300, Dispose::Background),
            patch(0, 0, 8, CLEAR, 400, Dispose::Keep),
        ],
        Some(3),
    )
}

/// What each frame of [`gif_source`] shows at the centres of the green square, the blue
/// square and the top-left corner (source pixels); `None` is transparent.
fn gif_expected() -> [[Option<[u8; 3]>; 3]; 4] {
    [
        [Some(RED), Some(RED), Some(RED)],
        [Some(GREEN), Some(RED), Some(RED)],
        [Some(RED), Some(BLUE), Some(RED)],
        [Some(RED), CLEAR, Some(RED)],
    ]
}

const POINTS: [(u32, u32); 3] = [(24, 24), (40, 24), (4, 4)];

/// 64x48 WebP: red everywhere; a green square cleared after it shows; a patch blended over
/// the canvas (left half transparent, so what is under it shows); a transparent patch not
/// blended (it replaces what is under it).
fn webp_source() -> Vec<u8> {
    let full = Patch {
        width: 64,
        height: 48,
        ..patch(0, 0, 0, Some(RED), 100, Dispose::Keep)
    };
    animation::webp(
        64,
        48,
        &[
            (full, true),
            (
                patch(16, 16, 16, Some(GREEN), 200, Dispose::Background),
                true,
            ),
            (patch(32, 16, 16, CLEAR, 300, Dispose::Keep), true),
            (patch(0, 0, 16, CLEAR, 400, Dispose::Keep), false),
        ],
        0,
    )
}

/// Centres of the green square, the blended patch and the top-left corner.
fn webp_expected() -> [[Option<[u8; 3]>; 3]; 4] {
    [
        [Some(RED), Some(RED), Some(RED)],
        [Some(GREEN), Some(RED), Some(RED)],
        [CLEAR, Some(RED), Some(RED)],
        [CLEAR, Some(RED), CLEAR],
    ]
}

async fn app_with(overrides: &[(&str, &str)]) -> TestApp {
    let app = TestApp::spawn_with(overrides).await;
    let dir = app.root.path().join("anim");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("demo.gif"), gif_source()).unwrap();
    std::fs::write(dir.join("demo.webp"), webp_source()).unwrap();
    app
}

async fn fetch(app: &TestApp, url: &str, accept: &str) -> (String, Vec<u8>) {
    let res = app.get_with(url, &[("accept", accept)]).await;
    assert_eq!(res.status(), 200, "{url}");
    let content_type = header(&res, "content-type");
    (content_type, res.bytes().await.unwrap().to_vec())
}

/// Checks every frame of `bytes` against `expected` at `POINTS` scaled by `scale`, with
/// `tolerance` for lossy encoders, and the durations.
fn assert_frames(bytes: &[u8], expected: &[[Option<[u8; 3]>; 3]], size: (u32, u32), tolerance: u8) {
    let frames = animation::frames(bytes);
    assert_eq!(frames.len(), expected.len(), "frame count");
    let scale = f64::from(size.0) / 64.0;
    for (i, ((image, ms), want)) in frames.iter().zip(expected).enumerate() {
        assert_eq!(image.dimensions(), size, "frame {i}");
        assert_eq!(*ms, 100 * (i as u32 + 1), "duration of frame {i}");
        for (&(x, y), want) in POINTS.iter().zip(want) {
            let at = |v: u32| (f64::from(v) * scale) as u32;
            let pixel = image.get_pixel(at(x), at(y));
            match want {
                Some(rgb) => assert!(
                    pixel[3] > 250 && near(pixel, *rgb, tolerance),
                    "frame {i} at {x},{y}: {pixel:?}, expected {rgb:?}"
                ),
                None => assert!(
                    pixel[3] < 5,
                    "frame {i} at {x},{y}: {pixel:?}, expected transparent"
                ),
            }
        }
    }
}

#[tokio::test]
async fn animated_gif_to_gif_and_webp_keeps_frames_durations_and_loop() {
    let app = app_with(&[]).await;
    // The source's own format is the default output.
    let (mime, gif) = fetch(&app, "/img/anim/demo.gif?w=32", "*/*").await;
    assert_eq!(mime, "image/gif");
    assert_frames(&gif, &gif_expected(), (32, 24), 12);
    assert_eq!(animation::loop_count(&gif), Some(3));

    let (mime, webp) = fetch(&app, "/img/anim/demo.gif?w=32&fmt=webp", "*/*").await;
    assert_eq!(mime, "image/webp");
    assert_frames(&webp, &gif_expected(), (32, 24), 30);
    assert_eq!(animation::loop_count(&webp), Some(3));

    let info: serde_json::Value = app.get("/info/anim/demo.gif").await.json().await.unwrap();
    assert_eq!(
        (info["frames"].as_u64(), info["format"].as_str()),
        (Some(4), Some("gif"))
    );
}

#[tokio::test]
async fn animated_webp_partial_blended_frames_compose_like_a_browser() {
    let app = app_with(&[]).await;
    // The independent decoder agrees with what the test says the source shows.
    assert_frames(&webp_source(), &webp_expected(), (64, 48), 2);
    let (mime, gif) = fetch(&app, "/img/anim/demo.webp?w=32&fmt=gif", "*/*").await;
    assert_eq!(mime, "image/gif");
    assert_frames(&gif, &webp_expected(), (32, 24), 12);
    assert_eq!(animation::loop_count(&gif), Some(0));

    let (_, webp) = fetch(&app, "/img/anim/demo.webp?w=32", "*/*").await;
    assert_frames(&webp, &webp_expected(), (32, 24), 30);
    assert_eq!(animation::loop_count(&webp), Some(0));
}

#[tokio::test]
async fn every_frame_goes_through_the_operations() {
    let app = app_with(&[]).await;
    // Turned, cut to a square and padded: every frame the same size, the squares where the
    // turn puts them.
    let (_, gif) = fetch(
        &app,
        "/img/anim/demo.gif?w=24&h=32&fit=fill&rot=90&pad=4",
        "*/*",
    )
    .await;
    let frames = animation::frames(&gif);
    assert_eq!(frames.len(), 4);
    for (image, _) in &frames {
        assert_eq!(image.dimensions(), (32, 40));
    }
    // Source (24,24) turned 90 degrees clockwise in 48x64 lands at (23,24); scaled by 0.5
    // and moved by the padding: (15.5, 16).
    let green = frames[1].0.get_pixel(15, 16);
    assert!(near(green, GREEN, 12), "{green:?}");
    let red = frames[0].0.get_pixel(15, 16);
    assert!(near(red, RED, 12), "{red:?}");
}

#[tokio::test]
async fn still_formats_and_anim_0_take_the_first_frame() {
    let app = app_with(&[]).await;
    for url in [
        "/img/anim/demo.gif?w=32&fmt=jpeg",
        "/img/anim/demo.gif?w=32&fmt=png",
        "/img/anim/demo.gif?w=32&anim=0",
        "/img/anim/demo.webp?w=32&fmt=webp&anim=0",
    ] {
        let (_, bytes) = fetch(&app, url, "*/*").await;
        let (_, w, h) = decode(&bytes);
        assert_eq!((w, h), (32, 24), "{url}");
        if !url.contains("fmt=jpeg") && !url.contains("fmt=png") {
            assert_eq!(animation::frame_count(&bytes), 1, "{url}");
        }
        // Frame 1 is red where later frames are green.
        assert!(
            near(decode_rgba(&bytes).get_pixel(12, 12), RED, 20),
            "{url}"
        );
    }
    // `anim=0` and the animation are different variants of one file.
    let etag = |res: reqwest::Response| header(&res, "etag");
    let animated = etag(app.get("/img/anim/demo.gif?w=32").await);
    let still = etag(app.get("/img/anim/demo.gif?w=32&anim=0").await);
    assert_ne!(animated, still);
    let res = app.get("/img/anim/demo.gif?w=32&anim=yes").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        error_of(&res.bytes().await.unwrap()).1,
        "anim must be 0 or 1"
    );
}

#[tokio::test]
async fn fmt_auto_keeps_an_animation_animated() {
    let app = app_with(&[]).await;
    let browser = "image/avif,image/webp,*/*";
    let (mime, webp) = fetch(&app, "/img/anim/demo.gif?w=32&fmt=auto", browser).await;
    assert_eq!(mime, "image/webp");
    assert_eq!(animation::frames(&webp).len(), 4);
    let (mime, gif) = fetch(&app, "/img/anim/demo.webp?w=32&fmt=auto", "image/avif").await;
    assert_eq!(mime, "image/gif");
    assert_eq!(animation::frames(&gif).len(), 4);
    // Both negotiate AVIF first; each still gets what it accepts, whichever came first.
    for (accept, mime) in [("image/avif", "image/gif"), (browser, "image/webp")] {
        let (got, _) = fetch(&app, "/img/anim/demo.gif?w=32&fmt=auto", accept).await;
        assert_eq!(got, mime, "{accept}");
    }
    // anim=0 negotiates like a still.
    let (mime, _) = fetch(&app, "/img/anim/demo.gif?w=32&fmt=auto&anim=0", browser).await;
    assert_eq!(mime, "image/avif");
    // A still source is unaffected.
    let (mime, _) = fetch(&app, "/img/storm.jpg?w=32&fmt=auto", browser).await;
    assert_eq!(mime, "image/avif");
}

/// A 2-frame APNG: red, then green.
fn apng() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, 16, 12);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_animated(2, 0).unwrap();
        let mut writer = encoder.write_header().unwrap();
        for colour in [RED, GREEN] {
            writer.write_image_data(&colour.repeat(16 * 12)).unwrap();
        }
    }
    out
}

#[tokio::test]
async fn an_animated_png_renders_its_first_frame() {
    let app = app_with(&[("images.max_frames", "1")]).await;
    std::fs::write(app.root.path().join("anim/moving.png"), apng()).unwrap();
    let info: serde_json::Value = app.get("/info/anim/moving.png").await.json().await.unwrap();
    assert_eq!(info["frames"], 2);
    for url in [
        "/img/anim/moving.png?w=8&fmt=webp",
        "/img/anim/moving.png?w=8&fmt=auto",
    ] {
        let (mime, bytes) = fetch(&app, url, "image/webp").await;
        assert_eq!(mime, "image/webp", "{url}");
        assert_eq!(animation::frame_count(&bytes), 1, "{url}");
        assert!(near(decode_rgba(&bytes).get_pixel(4, 3), RED, 20), "{url}");
    }
}

#[tokio::test]
async fn frame_and_pixel_limits_are_refused_from_the_header() {
    let app = app_with(&[
        ("images.max_frames", "3"),
        ("images.max_animation_pixels", "4000"),
    ])
    .await;
    let res = app.get("/img/anim/demo.webp?w=8&fmt=webp").await;
    assert_eq!(res.status(), 422);
    let (code, message) = error_of(&res.bytes().await.unwrap());
    assert_eq!(code, "source_too_large");
    assert!(message.contains("4 frames"), "{message}");
    // The first frame alone is not limited by them.
    assert_eq!(
        app.get("/img/anim/demo.webp?w=8&anim=0").await.status(),
        200
    );
    assert_eq!(
        app.get("/img/anim/demo.webp?w=8&fmt=png").await.status(),
        200
    );

    let app = app_with(&[("images.max_animation_pixels", "4000")]).await;
    // 4 frames of 40x30 are 4800 pixels; of 32x24, 3072.
    let res = app.get("/img/anim/demo.gif?w=40").await;
    assert_eq!(res.status(), 422);
    let (code, message) = error_of(&res.bytes().await.unwrap());
    assert_eq!(code, "source_too_large");
    assert!(message.contains("4800"), "{message}");
    assert_eq!(app.get("/img/anim/demo.gif?w=32").await.status(), 200);
}
