//! Render admission through real HTTP: a saturated render pool refuses new cold requests at once
//! (503 `overloaded`) while cached variants are still served; a render past its deadline is a
//! 503 `render_timeout` and the server goes on. Slow renders come from a 20 MP photo decoded at
//! full scale (a second or more in the test profile), and `render_queue = 0` makes one running
//! render saturate a pool of one.

mod support;

use std::time::{Duration, Instant};

use support::{decode, error_of, shared_samples, TestApp};

/// A big source (20 MP) whose large renders take a second or more.
fn add_big_source(app: &TestApp) {
    std::fs::copy(
        shared_samples().join("kleiber-20mp.jpg"),
        app.root.path().join("big.jpg"),
    )
    .expect("the shared 20 MP sample");
}

const SLOW: &str = "/img/big.jpg?w=3000";

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn saturated_renders_refuse_cold_requests_at_once_while_hits_are_served() {
    let app = TestApp::spawn_with(&[
        ("limits.max_concurrent_renders", "1"),
        ("limits.render_queue", "0"),
        ("limits.render_timeout", "120s"),
    ])
    .await;
    add_big_source(&app);
    let hot = app.url("/img/storm.jpg?w=120");
    assert_eq!(app.get("/img/storm.jpg?w=120").await.status(), 200);

    let patient = support::client_builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let slow = tokio::spawn(patient.get(app.url(SLOW)).send());
    let pool = app.state.delivery.pool().clone();
    wait_for("the slow render to start", || pool.in_flight() == 1).await;

    let started = Instant::now();
    let refused = app.get("/img/storm.jpg?w=121").await;
    let waited = started.elapsed();
    assert_eq!(refused.status(), 503);
    assert!(retry_after(&refused) >= 1);
    assert!(
        waited < Duration::from_secs(5),
        "refused at once, not after the render timeout: {waited:?}"
    );
    assert_eq!(error_of(&refused.bytes().await.unwrap()).0, "overloaded");

    for _ in 0..10 {
        let res = app.client.get(&hot).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-cache"], "hit-memory");
    }
    assert_eq!(
        pool.in_flight(),
        1,
        "the hits above were served while the render ran"
    );

    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), 200);
    let (format, width, _) = decode(&slow.bytes().await.unwrap());
    assert_eq!((format.as_str(), width), ("jpeg", 3000));
    // Capacity is back: the refused variant renders now.
    assert_eq!(app.get("/img/storm.jpg?w=121").await.status(), 200);
}

#[tokio::test]
async fn a_render_past_its_deadline_is_a_503_and_the_server_stays_healthy() {
    let app = TestApp::spawn_with(&[
        ("limits.max_concurrent_renders", "1"),
        ("limits.render_queue", "4"),
        ("limits.render_timeout", "150ms"),
    ])
    .await;
    add_big_source(&app);
    let pool = app.state.delivery.pool().clone();

    let res = app.get(SLOW).await;
    assert_eq!(res.status(), 503);
    assert!(retry_after(&res) >= 1);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "render_timeout");
    assert_eq!(
        pool.in_flight(),
        1,
        "the client was answered at the deadline, while the worker still runs"
    );
    assert_eq!(app.get("/healthz").await.status(), 200);

    // The worker lives on and renders what fits in the deadline.
    wait_for("the abandoned render to finish", || pool.in_flight() == 0).await;
    let small = app.get("/img/cats/default.jpg?w=40").await;
    assert_eq!(small.status(), 200);
    assert_eq!(decode(&small.bytes().await.unwrap()).1, 40);

    // The abandoned render's result was dropped, not cached: asking again starts another.
    let renders = app.renders();
    assert_eq!(app.get(SLOW).await.status(), 503);
    assert_eq!(app.renders(), renders + 1);
}
