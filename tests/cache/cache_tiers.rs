//! The variant cache through HTTP: memory and disk hits, restarts, single flight, and
//! freshness after a source changes.

use crate::common::{app::TestApp, images::decode};

const VARIANT: &str = "/img/storm.jpg?w=120&fmt=webp";

#[tokio::test]
async fn a_second_request_is_a_memory_hit_without_a_render() {
    let app = TestApp::spawn().await;
    let first = app.get(VARIANT).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-cache"], "miss");
    let timing = first.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(timing.starts_with("render;dur="), "{timing}");
    let first_bytes = first.bytes().await.unwrap();
    assert_eq!(app.renders(), 1);

    let second = app.get(VARIANT).await;
    assert_eq!(second.headers()["x-cache"], "hit-memory");
    assert!(second.headers().get("server-timing").is_none());
    assert_eq!(second.bytes().await.unwrap(), first_bytes);
    assert_eq!(app.renders(), 1, "a hit renders nothing");

    let stats = app.cache_stats();
    assert_eq!((stats.memory.hits, stats.memory.misses), (1, 1));
    assert_eq!(stats.memory.entries, 1);
    assert!(stats.memory.bytes >= first_bytes.len() as u64);
}

#[tokio::test]
async fn the_cache_survives_a_restart() {
    let first = TestApp::spawn().await;
    let res = first.get(VARIANT).await;
    let etag = res.headers()["etag"].clone();
    let bytes = res.bytes().await.unwrap();
    first.wait_for_disk(1).await;
    let (root, outside, cache_dir) = first.into_dirs();

    let second = TestApp::spawn_on(root, outside, cache_dir, &[]).await;
    second.wait_for_disk(1).await;
    let res = second.get(VARIANT).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-cache"], "hit-disk");
    assert_eq!(res.headers()["etag"], etag);
    assert_eq!(res.headers()["content-type"], "image/webp");
    assert!(res.headers().get("server-timing").is_none());
    assert_eq!(res.bytes().await.unwrap(), bytes);
    // Promoted to memory.
    assert_eq!(second.get(VARIANT).await.headers()["x-cache"], "hit-memory");
    assert_eq!(second.renders(), 0);
    let stats = second.cache_stats();
    assert_eq!((stats.disk.hits, stats.disk.misses), (1, 0));
}

#[tokio::test]
async fn fifty_concurrent_cold_requests_render_once() {
    let app = TestApp::spawn().await;
    let url = app.url("/img/storm.jpg?w=333&fmt=avif");
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let (client, url) = (app.client.clone(), url.clone());
            tokio::spawn(async move { client.get(url).send().await.unwrap() })
        })
        .collect();
    let mut bodies = Vec::new();
    for request in requests {
        let res = request.await.unwrap();
        assert_eq!(res.status(), 200);
        let x_cache = res.headers()["x-cache"].to_str().unwrap().to_string();
        assert!(x_cache == "miss" || x_cache == "hit-memory", "{x_cache}");
        bodies.push(res.bytes().await.unwrap());
    }
    assert_eq!(app.renders(), 1, "one render for 50 identical requests");
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    assert_eq!(decode(&bodies[0]), ("avif".into(), 333, 222));
}

#[tokio::test]
async fn a_changed_source_is_served_new_on_the_next_request() {
    let app = TestApp::spawn().await;
    let url = "/img/storm.jpg?w=100&fmt=png";
    let before = app.get(url).await.bytes().await.unwrap();
    assert_eq!(decode(&before), ("png".into(), 100, 67));
    app.wait_for_disk(1).await;

    // Replace the file in place with a red picture of another shape (same name, same format).
    image::RgbImage::from_pixel(200, 100, image::Rgb([255, 0, 0]))
        .save_with_format(app.root.path().join("storm.jpg"), image::ImageFormat::Jpeg)
        .unwrap();
    let res = app.get(url).await;
    assert_eq!(res.headers()["x-cache"], "miss");
    let after = res.bytes().await.unwrap();
    assert_eq!(decode(&after), ("png".into(), 100, 50));
    assert!(crate::common::images::near(
        crate::common::images::decode_rgba(&after).get_pixel(50, 25),
        [255, 0, 0],
        8
    ));
    assert_eq!(app.renders(), 2);

    // Back to the old picture, written in place again: a new version (its times changed), so
    // rendered again.
    std::fs::copy(
        crate::common::fixtures::fixtures_dir().join("storm.jpg"),
        app.root.path().join("storm.jpg"),
    )
    .unwrap();
    let res = app.get(url).await;
    assert_eq!(decode(&res.bytes().await.unwrap()), ("png".into(), 100, 67));
}

#[tokio::test]
async fn every_spelling_shares_the_disk_entry_too() {
    let first = TestApp::spawn().await;
    first.get("/img/storm.jpg?w=150&fmt=jpeg&q=70").await;
    first.wait_for_disk(1).await;
    let (root, outside, cache_dir) = first.into_dirs();
    let second = TestApp::spawn_on(root, outside, cache_dir, &[]).await;
    second.wait_for_disk(1).await;
    let res = second.get("/img/storm.jpg/q70/jpg/150").await;
    assert_eq!(res.headers()["x-cache"], "hit-disk");
    assert_eq!(
        second
            .get("/img/storm.jpg?q=70&fmt=jpg&w=75&dpr=2")
            .await
            .headers()["x-cache"],
        "hit-memory"
    );
    assert_eq!(second.renders(), 0);
}

#[tokio::test]
async fn a_variant_over_an_eighth_of_the_memory_budget_is_kept_on_disk_only() {
    let app = TestApp::spawn_with(&[("cache.memory_bytes", "48KiB")]).await;
    let large = "/img/storm.jpg?w=1000&fmt=png";
    let first = app.get(large).await;
    assert_eq!(first.headers()["x-cache"], "miss");
    let bytes = first.bytes().await.unwrap();
    assert!(bytes.len() > 48 * 1024, "{} bytes", bytes.len());
    app.wait_for_disk(1).await;
    for _ in 0..2 {
        let again = app.get(large).await;
        assert_eq!(again.headers()["x-cache"], "hit-disk");
        assert_eq!(again.bytes().await.unwrap(), bytes);
    }
    // A small variant still lives in memory.
    let small = "/img/storm.jpg?w=16&fmt=webp";
    assert_eq!(app.get(small).await.headers()["x-cache"], "miss");
    assert_eq!(app.get(small).await.headers()["x-cache"], "hit-memory");
    assert_eq!(app.renders(), 2);
}
