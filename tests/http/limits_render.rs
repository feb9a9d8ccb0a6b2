//! Render admission through real HTTP: a saturated render pool refuses new cold requests at once
//! (503 `overloaded`) while cached variants are still served; a render past its deadline is a
//! 503 `render_timeout` and the server goes on. Slow renders come from a 20 MP photo decoded at
//! full scale (a second or more in the test profile), and `render_queue = 0` makes one running
//! render saturate a pool of one. Fair shares: one client's heaviest renders (large AVIF) leave
//! another client's small cold renders a thread, and AVIF outputs are bounded in area.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::app::TestApp;
use crate::common::client::{client_builder, error_of};
use crate::common::images::decode;

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
    app.add_big_source("big.jpg");
    let hot = app.url("/img/storm.jpg?w=120");
    assert_eq!(app.get("/img/storm.jpg?w=120").await.status(), 200);

    let patient = client_builder()
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
    app.add_big_source("big.jpg");
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

/// The defaults that bound render cost (the test harness turns rate limits off and lengthens
/// the render timeout; here they are as shipped).
const DEFAULT_LIMITS: [(&str, &str); 4] = [
    ("limits.render_timeout", "10s"),
    ("limits.per_ip_per_second", "10"),
    ("limits.per_ip_burst", "50"),
    ("limits.hit_per_ip_per_second", "1000"),
];

/// The heaviest renders a client may ask for: AVIF at `images.max_avif_pixels` (1000x800),
/// and beyond it (the 4096x4096 fill the limit now refuses), each URL distinct (cold).
fn heavy_url(n: u32) -> String {
    let w = 1000 - n % 200;
    if n % 2 == 0 {
        format!("/img/big.jpg?w=4096&h=4096&fit=fill&enlarge=1&fmt=avif&q=95&bg={n:06x}")
    } else {
        format!("/img/big.jpg?w={w}&h=800&fit=fill&fmt=avif")
    }
}

#[tokio::test]
async fn one_clients_heavy_renders_leave_others_small_cold_renders_fast() {
    let app = TestApp::spawn_with(&DEFAULT_LIMITS).await;
    app.add_big_source("big.jpg");
    let pool = app.state.delivery.pool().clone();
    // Clients behind the trusted local proxy (127.0.0.1), told apart by X-Forwarded-For.
    let attacker = "203.0.113.66";
    let user = "198.51.100.7";

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<(u16, String)>::new()));
    let mut attackers = Vec::new();
    for lane in 0..3u32 {
        let (stop, seen) = (stop.clone(), seen.clone());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let base = app.base.clone();
        attackers.push(tokio::spawn(async move {
            let mut n = lane;
            // Three in flight at all times: each lane asks again as soon as it is answered.
            while !stop.load(Ordering::Relaxed) {
                let res = client
                    .get(format!("{base}{}", heavy_url(n)))
                    .header("X-Forwarded-For", attacker)
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let body = res.bytes().await.unwrap();
                let message = if status == 200 {
                    String::new()
                } else {
                    error_of(&body).1
                };
                seen.lock().unwrap().push((status, message));
                if status != 200 {
                    // A client retrying after a refusal, not a busy loop of the test itself.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                n += 3;
            }
        }));
    }
    wait_for("a heavy render to run", || pool.in_flight() >= 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    for i in 0..8 {
        let started = Instant::now();
        let res = app
            .get_with(
                &format!("/img/cats/default.jpg?w={}", 60 + i),
                &[("X-Forwarded-For", user)],
            )
            .await;
        let took = started.elapsed();
        assert_eq!(res.status(), 200, "small render {i}");
        assert_eq!(res.headers()["x-cache"], "miss");
        assert_eq!(decode(&res.bytes().await.unwrap()).1, 60 + i);
        assert!(
            took < Duration::from_secs(2),
            "small cold render {i} took {took:?} beside another client's heavy renders"
        );
    }
    assert!(
        pool.in_flight() >= 1,
        "the heavy render was still running while the small ones were served"
    );
    stop.store(true, Ordering::Relaxed);
    for lane in attackers {
        lane.abort();
    }

    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|(status, m)| *status == 400 && m.contains("images.max_avif_pixels")),
        "AVIF beyond the area limit is refused: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(status, m)| *status == 429 && m.contains("heavy render")),
        "a second heavy render of the same client is refused: {seen:?}"
    );
}

#[tokio::test]
async fn avif_outputs_are_bounded_in_area() {
    let app = TestApp::spawn().await;
    // storm.jpg is 1920x1280: 1200 px wide is 1200x800, 960 000 pixels.
    let refused = app.get("/img/storm.jpg?w=1200&fmt=avif").await;
    assert_eq!(refused.status(), 400);
    let (code, message) = error_of(&refused.bytes().await.unwrap());
    assert_eq!(code, "invalid_parameter");
    assert!(
        message.contains("images.max_avif_pixels") && message.contains("800000"),
        "{message}"
    );
    // Negotiated, the same size comes in the next format the client accepts.
    let negotiated = app
        .get_with(
            "/img/storm.jpg?w=1200&fmt=auto",
            &[("Accept", "image/avif,image/webp,*/*")],
        )
        .await;
    assert_eq!(negotiated.status(), 200);
    assert_eq!(negotiated.headers()["content-type"], "image/webp");
    let (format, width, _) = decode(&negotiated.bytes().await.unwrap());
    assert_eq!((format.as_str(), width), ("webp", 1200));
    // Within the bound AVIF is served, and the bound is configurable.
    let small = app.get("/img/storm.jpg?w=120&fmt=avif").await;
    assert_eq!(small.status(), 200);
    assert_eq!(small.headers()["content-type"], "image/avif");
    let tight = TestApp::spawn_with(&[("images.max_avif_pixels", "1000")]).await;
    assert_eq!(
        tight.get("/img/storm.jpg?w=120&fmt=avif").await.status(),
        400
    );
}
