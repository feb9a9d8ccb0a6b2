//! The operations beyond resize (issue 15) through the real server, images decoded back: crop,
//! trim, rotate and flip, focal point, smart crop, blur and sharpen, padding, translucent
//! backgrounds, progressive and interlaced output, lossless WebP, and their errors, order,
//! cache keys, presets and signatures.

use crate::common::{
    app::TestApp,
    client::error_of,
    images::{bands, decode, decode_rgba, near, BLUE, GREEN, RED, WHITE, YELLOW},
};

fn encode_png(img: image::RgbaImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn rgba(c: [u8; 3]) -> image::Rgba<u8> {
    image::Rgba([c[0], c[1], c[2], 255])
}

/// 200x100: red top-left, green top-right, blue bottom-left, yellow bottom-right.
fn quadrants() -> Vec<u8> {
    encode_png(image::RgbaImage::from_fn(200, 100, |x, y| {
        rgba(match (x < 100, y < 50) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => YELLOW,
        })
    }))
}

/// 300x200 white with the quadrants picture (60x40) at (50,20).
fn framed() -> Vec<u8> {
    encode_png(image::RgbaImage::from_fn(300, 200, |x, y| {
        if (50..110).contains(&x) && (20..60).contains(&y) {
            rgba(match (x < 80, y < 40) {
                (true, true) => RED,
                (false, true) => GREEN,
                (true, false) => BLUE,
                (false, false) => YELLOW,
            })
        } else {
            rgba(WHITE)
        }
    }))
}

/// 400x100 flat grey with a 40x40 black-and-white checkerboard at x=300..340.
fn subject_off_centre() -> Vec<u8> {
    encode_png(image::RgbaImage::from_fn(400, 100, |x, y| {
        if (300..340).contains(&x) && (30..70).contains(&y) {
            let v = if (x / 4 + y / 4) % 2 == 0 { 0 } else { 255 };
            image::Rgba([v, v, v, 255])
        } else {
            image::Rgba([128, 128, 128, 255])
        }
    }))
}

async fn app() -> TestApp {
    let app = TestApp::spawn().await;
    let dir = app.root.path().join("ops");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("quadrants.png"), quadrants()).unwrap();
    // 400x100: four 100 px bands, red, green, blue, yellow from the left.
    let four = bands(&[RED, GREEN, BLUE, YELLOW], 100, 100);
    std::fs::write(dir.join("bands.png"), four).unwrap();
    std::fs::write(dir.join("framed.png"), framed()).unwrap();
    std::fs::write(dir.join("subject.png"), subject_off_centre()).unwrap();
    app
}

/// The body of a request that must succeed.
async fn body(app: &TestApp, path_and_query: &str) -> Vec<u8> {
    let res = app.get(path_and_query).await;
    let status = res.status();
    let body = res.bytes().await.unwrap().to_vec();
    assert_eq!(
        status,
        200,
        "{path_and_query}: {}",
        String::from_utf8_lossy(&body)
    );
    body
}

async fn image(app: &TestApp, path_and_query: &str) -> image::RgbaImage {
    decode_rgba(&body(app, path_and_query).await)
}

/// The colour at the centre of each quadrant of `img`: TL, TR, BL, BR.
fn corners(img: &image::RgbaImage) -> [[u8; 3]; 4] {
    let (w, h) = img.dimensions();
    let at = |x: u32, y: u32| {
        let p = img.get_pixel(x, y);
        [p[0], p[1], p[2]]
    };
    [
        at(w / 4, h / 4),
        at(3 * w / 4, h / 4),
        at(w / 4, 3 * h / 4),
        at(3 * w / 4, 3 * h / 4),
    ]
}

fn assert_corners(img: &image::RgbaImage, expected: [[u8; 3]; 4], what: &str) {
    let got = corners(img);
    for (g, e) in got.iter().zip(expected) {
        assert!(
            near(&rgba(*g), e, 30),
            "{what}: corners {got:?}, expected {expected:?}"
        );
    }
}

#[tokio::test]
async fn crop_in_pixels_and_fractions_is_clipped_to_the_image() {
    let app = app().await;
    let img = image(&app, "/img/ops/quadrants.png?crop=100,0,100,50").await;
    assert_eq!(img.dimensions(), (100, 50));
    assert!(img.pixels().all(|p| near(p, GREEN, 2)), "all green");
    let img = image(&app, "/img/ops/quadrants.png?crop=0.0,0.5,0.5,0.5").await;
    assert_eq!(img.dimensions(), (100, 50));
    assert!(img.pixels().all(|p| near(p, BLUE, 2)), "all blue");
    let img = image(&app, "/img/ops/quadrants.png?crop=150,25,100,100").await;
    assert_eq!(img.dimensions(), (50, 75));
    assert!(near(img.get_pixel(0, 0), GREEN, 2) && near(img.get_pixel(49, 74), YELLOW, 2));
    // Then resized: the crop is cut first, the width applies to what it left.
    let img = image(&app, "/img/ops/quadrants.png?crop=0,0,100,50&w=20").await;
    assert_eq!(img.dimensions(), (20, 10));

    let res = app.get("/img/ops/quadrants.png?crop=200,0,10,10").await;
    assert_eq!(res.status(), 400);
    let (code, message) = error_of(&res.bytes().await.unwrap());
    assert_eq!(code, "invalid_parameter");
    assert!(message.contains("crop"), "{message}");
}

#[tokio::test]
async fn crop_is_in_displayed_pixels_of_an_exif_oriented_source() {
    let app = app().await;
    // orientation-6.jpg is stored 320x480 and displayed 480x320, like orientation-1.jpg.
    for n in [1, 6] {
        let img = image(
            &app,
            &format!("/img/orientation/orientation-{n}.jpg?crop=0,0,240,160&fmt=png"),
        )
        .await;
        assert_eq!(img.dimensions(), (240, 160), "orientation {n}");
    }
    let upright = image(
        &app,
        "/img/orientation/orientation-1.jpg?crop=0,0,240,160&fmt=png",
    )
    .await;
    let turned = image(
        &app,
        "/img/orientation/orientation-6.jpg?crop=0,0,240,160&fmt=png",
    )
    .await;
    let diff = crate::common::images::mean_abs_diff(&upright, &turned);
    assert!(diff < 12.0, "the same displayed region, {diff}");
}

#[tokio::test]
async fn trim_removes_a_known_border_before_the_crop() {
    let app = app().await;
    let img = image(&app, "/img/ops/framed.png?trim=10").await;
    assert_eq!(img.dimensions(), (60, 40));
    assert_corners(&img, [RED, GREEN, BLUE, YELLOW], "trim");
    // The crop's coordinates are the trimmed image's.
    let img = image(&app, "/img/ops/framed.png?trim=10&crop=30,0,30,20").await;
    assert_eq!(img.dimensions(), (30, 20));
    assert!(img.pixels().all(|p| near(p, GREEN, 2)));
    // A uniform image has nothing to trim to and keeps its size.
    std::fs::write(
        app.root.path().join("ops/white.png"),
        crate::common::images::png(30, 20, WHITE),
    )
    .unwrap();
    assert_eq!(
        image(&app, "/img/ops/white.png?trim=5").await.dimensions(),
        (30, 20)
    );
}

#[tokio::test]
async fn rotation_and_flip_move_the_quadrants() {
    let app = app().await;
    for (query, size, expected) in [
        ("rot=90", (100, 200), [BLUE, RED, YELLOW, GREEN]),
        ("rot=180", (200, 100), [YELLOW, BLUE, GREEN, RED]),
        ("rot=270", (100, 200), [GREEN, YELLOW, RED, BLUE]),
        ("flip=h", (200, 100), [GREEN, RED, YELLOW, BLUE]),
        ("flip=v", (200, 100), [BLUE, YELLOW, RED, GREEN]),
        ("flip=hv", (200, 100), [YELLOW, BLUE, GREEN, RED]),
        // Rotation first, then the mirror.
        ("rot=90&flip=h", (100, 200), [RED, BLUE, GREEN, YELLOW]),
    ] {
        let img = image(&app, &format!("/img/ops/quadrants.png?{query}")).await;
        assert_eq!(img.dimensions(), size, "{query}");
        assert_corners(&img, expected, query);
    }
    // w and h apply to the rotated image.
    let img = image(&app, "/img/ops/quadrants.png?rot=90&w=50").await;
    assert_eq!(img.dimensions(), (50, 100));
}

#[tokio::test]
async fn padding_adds_the_background_around_the_result() {
    let app = app().await;
    let img = image(&app, "/img/ops/quadrants.png?pad=10&bg=ff00ff").await;
    assert_eq!(img.dimensions(), (220, 120));
    assert!(near(img.get_pixel(0, 0), [255, 0, 255], 0));
    assert!(near(img.get_pixel(9, 60), [255, 0, 255], 0));
    assert!(near(img.get_pixel(10, 10), RED, 2));
    let img = image(&app, "/img/ops/quadrants.png?pad=1,2,3,4").await;
    assert_eq!(img.dimensions(), (206, 104));
    assert!(near(img.get_pixel(4, 1), RED, 2) && near(img.get_pixel(3, 1), WHITE, 0));
    let img = image(&app, "/img/ops/quadrants.png?w=100&pad=5&fmt=jpeg").await;
    assert_eq!(img.dimensions(), (110, 60));
}

#[tokio::test]
async fn every_fit_combines_with_crop_rotation_and_padding() {
    let app = app().await;
    // The top half (red | green, 200x50) turned a quarter: 50x200, red above green.
    for (fit, size) in [
        ("cover", (40, 40)),
        ("contain", (40, 40)),
        ("fill", (40, 40)),
        ("inside", (10, 40)),
        ("outside", (40, 160)),
    ] {
        let query = format!("crop=0,0,200,50&rot=90&w=40&h=40&fit={fit}&pad=2&bg=000&enlarge=1");
        let img = image(&app, &format!("/img/ops/quadrants.png?{query}")).await;
        assert_eq!(img.dimensions(), (size.0 + 4, size.1 + 4), "{fit}");
        assert!(near(img.get_pixel(0, 0), [0, 0, 0], 0), "{fit}: padding");
        if fit == "inside" || fit == "outside" {
            let (w, h) = img.dimensions();
            assert!(near(img.get_pixel(w / 2, 4), RED, 30), "{fit}: red on top");
            assert!(
                near(img.get_pixel(w / 2, h - 5), GREEN, 30),
                "{fit}: green below"
            );
        }
    }
    // Trim, a crop in fractions of what trim left, a turn and a mirror: framed.png trims to the
    // 60x40 quadrants, whose top half (red | green, 60x20) turns to 20x60, red on top.
    for (fit, size) in [
        ("cover", (30, 30)),
        ("contain", (30, 30)),
        ("fill", (30, 30)),
        ("inside", (10, 30)),
        ("outside", (30, 90)),
    ] {
        let query = format!(
            "trim=10&crop=0.0,0.0,1.0,0.5&rot=90&flip=h&w=30&h=30&fit={fit}&pad=1,2,3,4&bg=000&enlarge=1"
        );
        let img = image(&app, &format!("/img/ops/framed.png?{query}")).await;
        assert_eq!(img.dimensions(), (size.0 + 6, size.1 + 4), "{fit}");
        if fit != "cover" && fit != "contain" {
            let (w, h) = img.dimensions();
            assert!(near(img.get_pixel(w / 2, 2), RED, 40), "{fit}: red on top");
            assert!(
                near(img.get_pixel(w / 2, h - 5), GREEN, 40),
                "{fit}: green below"
            );
        }
    }
}

#[tokio::test]
async fn the_focal_point_moves_the_cover_window() {
    let app = app().await;
    let square = |fp: &str| format!("/img/ops/bands.png?w=100&h=100{fp}");
    // Centred at 360 px the window would leave the image: it keeps to the right edge.
    let img = image(&app, &square("&fp=0.9,0.5")).await;
    assert!(img.pixels().all(|p| near(p, YELLOW, 4)), "the right band");
    let img = image(&app, &square("&fp=0.375,0.5")).await;
    assert!(img.pixels().all(|p| near(p, GREEN, 4)), "the second band");
    let img = image(&app, &square("&fp=0,0")).await;
    assert!(img.pixels().all(|p| near(p, RED, 4)), "the left band");
    // Without it the centre: half green, half blue.
    let img = image(&app, &square("")).await;
    assert!(near(img.get_pixel(10, 50), GREEN, 4) && near(img.get_pixel(90, 50), BLUE, 4));
    // The focal point is of the source, also once cropped and rotated: the bottom half of
    // bands turned a half is yellow..red from the left; fp at the red band's source position.
    let img = image(
        &app,
        "/img/ops/bands.png?crop=0,50,400,50&rot=180&w=50&h=50&fp=0.1,0.9",
    )
    .await;
    assert!(img.pixels().all(|p| near(p, RED, 4)), "red after the turn");

    let res = app.get(&square("&fp=0.5,0.5&g=north")).await;
    assert_eq!(res.status(), 400);
    let (_, message) = error_of(&res.bytes().await.unwrap());
    assert!(message.contains("fp") && message.contains('g'), "{message}");
}

#[tokio::test]
async fn smart_gravity_keeps_the_detailed_subject() {
    let app = app().await;
    let detail = |img: &image::RgbaImage| img.pixels().filter(|p| p[0] < 40 || p[0] > 220).count();
    let centre = image(&app, "/img/ops/subject.png?w=100&h=100").await;
    assert_eq!(detail(&centre), 0, "the centre crop misses the subject");
    let smart = image(&app, "/img/ops/subject.png?w=100&h=100&g=smart").await;
    assert_eq!(smart.dimensions(), (100, 100));
    assert!(
        detail(&smart) > 1000,
        "smart keeps the checkerboard: {}",
        detail(&smart)
    );
    // Deterministic: a fresh render (of a copy, so no cache can answer) has the same pixels.
    let ops = app.root.path().join("ops");
    std::fs::copy(ops.join("subject.png"), ops.join("subject-copy.png")).unwrap();
    let res = app
        .get("/img/ops/subject-copy.png?w=100&h=100&g=smart")
        .await;
    assert_eq!(res.headers()["x-cache"], "miss");
    assert_eq!(decode_rgba(&res.bytes().await.unwrap()), smart);
    // On a real photo it renders, at the size asked.
    let img = image(&app, "/img/storm.jpg?w=300&h=300&g=smart").await;
    assert_eq!(img.dimensions(), (300, 300));
}

/// Sum of absolute differences between horizontal neighbours.
fn edge_energy(img: &image::RgbaImage) -> u64 {
    let (w, h) = img.dimensions();
    let mut sum = 0;
    for y in 0..h {
        for x in 1..w {
            let (a, b) = (img.get_pixel(x - 1, y), img.get_pixel(x, y));
            sum += (0..3).map(|i| u64::from(a[i].abs_diff(b[i]))).sum::<u64>();
        }
    }
    sum
}

#[tokio::test]
async fn blur_lowers_and_sharpen_raises_edge_energy() {
    let app = app().await;
    let plain = edge_energy(&image(&app, "/img/storm.jpg?w=400&fmt=png").await);
    let blurred = edge_energy(&image(&app, "/img/storm.jpg?w=400&fmt=png&blur=2").await);
    let strong = edge_energy(&image(&app, "/img/storm.jpg?w=400&fmt=png&blur=60").await);
    let sharp = edge_energy(&image(&app, "/img/storm.jpg?w=400&fmt=png&sharpen=1").await);
    assert!(blurred * 10 < plain * 8, "blur: {blurred} vs {plain}");
    assert!(
        strong < blurred,
        "a larger sigma blurs more: {strong} vs {blurred}"
    );
    assert!(sharp * 10 > plain * 12, "sharpen: {sharp} vs {plain}");
    // The padding comes after the blur: its edge stays crisp.
    let img = image(&app, "/img/ops/quadrants.png?blur=5&pad=4&bg=000").await;
    assert!(near(img.get_pixel(3, 30), [0, 0, 0], 0));
    assert!(
        near(img.get_pixel(4, 30), RED, 40),
        "{:?}",
        img.get_pixel(4, 30)
    );
}

#[tokio::test]
async fn interlace_gives_progressive_jpeg_and_adam7_png() {
    let app = app().await;
    let sof = |jpeg: &[u8], marker: u8| jpeg.windows(2).any(|w| w == [0xFF, marker]);
    let progressive = body(&app, "/img/storm.jpg?w=300&interlace=1").await;
    assert!(sof(&progressive, 0xC2), "SOF2: progressive");
    let baseline = body(&app, "/img/storm.jpg?w=300&interlace=0").await;
    assert!(
        sof(&baseline, 0xC0) && !sof(&baseline, 0xC2),
        "SOF0: baseline"
    );
    assert_eq!(decode(&progressive), ("jpeg".into(), 300, 200));
    let a = decode_rgba(&progressive);
    let b = decode_rgba(&baseline);
    assert!(crate::common::images::mean_abs_diff(&a, &b) < 2.0);

    let interlaced = body(&app, "/img/storm.jpg?w=300&fmt=png&interlace=1").await;
    let plain = body(&app, "/img/storm.jpg?w=300&fmt=png").await;
    // IHDR's interlace method (byte 28 of the file): 1 is Adam7.
    assert_eq!((interlaced[28], plain[28]), (1, 0));
    assert_eq!(
        decode_rgba(&interlaced),
        decode_rgba(&plain),
        "the same pixels"
    );
    // An odd size exercises every pass's edge.
    let odd = image(&app, "/img/ops/quadrants.png?w=13&fmt=png&interlace=1").await;
    let even = image(&app, "/img/ops/quadrants.png?w=13&fmt=png").await;
    assert_eq!(odd, even);
}

#[tokio::test]
async fn lossless_webp_equals_the_resized_pixels() {
    let app = app().await;
    let lossless = body(&app, "/img/storm.jpg?w=240&fmt=webp&lossless=1").await;
    assert_eq!(decode(&lossless).0, "webp");
    let png = body(&app, "/img/storm.jpg?w=240&fmt=png").await;
    assert_eq!(decode_rgba(&lossless), decode_rgba(&png), "pixel for pixel");
    let lossy = body(&app, "/img/storm.jpg?w=240&fmt=webp").await;
    assert_ne!(decode_rgba(&lossy), decode_rgba(&png));
    // With alpha too (a transparent source).
    let a = image(
        &app,
        "/img/formats/storm-alpha.png?w=200&fmt=webp&lossless=1",
    )
    .await;
    let b = image(&app, "/img/formats/storm-alpha.png?w=200&fmt=png").await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn an_eight_digit_background_is_transparent_in_png_and_webp() {
    let app = app().await;
    for fmt in ["png", "webp"] {
        let img = image(
            &app,
            &format!("/img/ops/quadrants.png?w=100&h=100&fit=contain&bg=00000000&fmt={fmt}"),
        )
        .await;
        assert_eq!(img.dimensions(), (100, 100));
        assert_eq!(
            img.get_pixel(50, 5)[3],
            0,
            "{fmt}: the letterbox is transparent"
        );
        assert_eq!(
            img.get_pixel(50, 50)[3],
            255,
            "{fmt}: the picture is opaque"
        );
        let img = image(
            &app,
            &format!("/img/ops/quadrants.png?pad=6&bg=ff000080&fmt={fmt}"),
        )
        .await;
        assert_eq!(img.dimensions(), (212, 112));
        let corner = img.get_pixel(0, 0);
        assert!(
            corner[3].abs_diff(128) <= 2,
            "{fmt}: half-transparent padding {corner:?}"
        );
    }
    // JPEG has no alpha: the colour is used as it is, opaque.
    let img = image(&app, "/img/ops/quadrants.png?pad=6&bg=ff000080&fmt=jpeg").await;
    assert!(near(img.get_pixel(1, 1), [255, 0, 0], 12));
}

#[tokio::test]
async fn every_malformed_value_is_a_400_naming_its_parameter() {
    let app = app().await;
    for (query, name) in [
        ("crop=1,2,3", "crop"),
        ("crop=0,0,0,10", "crop"),
        ("crop=a,b,c,d", "crop"),
        ("crop=0.1,0,0.5,0.5", "crop"),
        ("fp=0.5", "fp"),
        ("fp=2,0", "fp"),
        ("g=smarter", "g"),
        ("trim=0", "trim"),
        ("trim=300", "trim"),
        ("rot=45", "rot"),
        ("flip=x", "flip"),
        ("blur=0.1", "blur"),
        ("blur=101", "blur"),
        ("blur=nan", "blur"),
        ("sharpen=11", "sharpen"),
        ("sharpen=1e1", "sharpen"),
        ("pad=1,2", "pad"),
        ("pad=1001", "pad"),
        ("bg=12345", "bg"),
        ("interlace=2", "interlace"),
        ("lossless=yes", "lossless"),
        ("lossless=1&fmt=png", "lossless"),
        ("lossless=1", "lossless"),
    ] {
        let res = app.get(&format!("/img/ops/quadrants.png?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let (code, message) = error_of(&res.bytes().await.unwrap());
        assert_eq!(code, "invalid_parameter", "{query}");
        assert!(message.contains(name), "{query}: {message}");
    }
    assert_eq!(app.renders(), 0, "no malformed request renders");
    // Padding beyond the output ceiling is known once the size is: still a 400.
    let res = app
        .get("/img/ops/quadrants.png?pad=1000&w=4000&enlarge=1")
        .await;
    assert_eq!(res.status(), 400);
    let (_, message) = error_of(&res.bytes().await.unwrap());
    assert!(message.contains("pad"), "{message}");
}

#[tokio::test]
async fn spellings_share_one_cache_entry() {
    let app = app().await;
    let first = app.get("/img/ops/quadrants.png?rot=180").await;
    assert_eq!(first.headers()["x-cache"], "miss");
    for same in ["flip=hv", "pad=0&rot=180", "rot=180&interlace=0&fmt=png"] {
        let res = app.get(&format!("/img/ops/quadrants.png?{same}")).await;
        assert_eq!(res.headers()["x-cache"], "hit-memory", "{same}");
    }
    let a = app.get("/img/ops/quadrants.png?blur=2.5").await;
    assert_eq!(a.headers()["x-cache"], "miss");
    let b = app.get("/img/ops/quadrants.png?blur=2.50").await;
    assert_eq!(b.headers()["x-cache"], "hit-memory");
    assert_eq!(app.renders(), 2);
}

#[tokio::test]
async fn presets_use_the_operations_and_allowed_widths_apply_before_padding() {
    let app = TestApp::spawn_with(&[
        (
            "images.presets.card",
            "w=50&h=50&g=smart&sharpen=1&pad=2&fmt=png",
        ),
        ("images.allowed_widths", "100"),
    ])
    .await;
    std::fs::write(app.root.path().join("subject.png"), subject_off_centre()).unwrap();
    let img = image(&app, "/img/subject.png?preset=card").await;
    assert_eq!(img.dimensions(), (54, 54));
    let img = image(&app, "/img/subject.png?w=100&pad=10").await;
    assert_eq!(img.dimensions(), (120, 45));
    let res = app.get("/img/subject.png?w=120").await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn per_format_qualities_apply_without_q() {
    let app =
        TestApp::spawn_with(&[("images.quality.jpeg", "20"), ("images.quality.webp", "95")]).await;
    let (low, default_q) = (
        body(&app, "/img/storm.jpg?w=400&fmt=jpeg").await.len(),
        body(&app, "/img/storm.jpg?w=400&fmt=jpeg&q=80").await.len(),
    );
    assert!(low * 2 < default_q, "jpeg at 20: {low} vs {default_q}");
    let (high, q80) = (
        body(&app, "/img/storm.jpg?w=400&fmt=webp").await.len(),
        body(&app, "/img/storm.jpg?w=400&fmt=webp&q=80").await.len(),
    );
    assert!(high > q80 * 3 / 2, "webp at 95: {high} vs {q80}");
}
