//! Per-client rate limits through real HTTP: clients are told apart by their loopback source
//! address (127.0.0.2, 127.0.0.3, ...; only 127.0.0.1 is a trusted proxy by default).

use crate::common::app::TestApp;
use crate::common::client::{client_from, error_of};

async fn get(client: &reqwest::Client, url: &str, xff: Option<&str>) -> reqwest::Response {
    let mut req = client.get(url);
    if let Some(xff) = xff {
        req = req.header("X-Forwarded-For", xff);
    }
    req.send().await.expect("request sent")
}

async fn status(client: &reqwest::Client, url: &str, xff: Option<&str>) -> u16 {
    get(client, url, xff).await.status().as_u16()
}

async fn assert_rate_limited(res: reqwest::Response) {
    assert_eq!(res.status(), 429);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body = res.bytes().await.unwrap();
    assert_eq!(error_of(&body).0, "rate_limited");
}

#[tokio::test]
async fn a_burst_over_the_limit_gets_429_while_another_ip_is_served() {
    let app = TestApp::spawn_with(&[("limits.hit_per_ip_per_second", "3")]).await;
    let url = app.url("/img/cats/default.jpg");
    let flood = client_from([127, 0, 0, 2]);
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(status(&flood, &url, None).await);
    }
    assert_eq!(&codes[..3], &[200, 200, 200], "{codes:?}");
    assert!(
        codes.iter().filter(|&&c| c == 429).count() >= 5,
        "{codes:?}"
    );
    assert_rate_limited(get(&flood, &url, None).await).await;
    let other = client_from([127, 0, 0, 3]);
    assert_eq!(status(&other, &url, None).await, 200);
}

#[tokio::test]
async fn the_render_limit_is_charged_only_when_a_render_starts() {
    let app = TestApp::spawn_with(&[
        ("limits.per_ip_per_second", "1"),
        ("limits.per_ip_burst", "2"),
    ])
    .await;
    let sweeper = client_from([127, 0, 0, 2]);
    let url = |w: u32| app.url(&format!("/img/cats/default.jpg?w={w}"));
    assert_eq!(status(&sweeper, &url(10), None).await, 200);
    assert_eq!(status(&sweeper, &url(11), None).await, 200);
    let refused = get(&sweeper, &url(12), None).await;
    assert_rate_limited(refused).await;
    // Cached variants are not renders: the same client is still served them.
    for _ in 0..5 {
        let res = get(&sweeper, &url(10), None).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-cache"], "hit-memory");
    }
    let renders = app.renders();
    let other = client_from([127, 0, 0, 3]);
    assert_eq!(status(&other, &url(12), None).await, 200);
    assert_eq!(app.renders(), renders + 1);
}

#[tokio::test]
async fn admin_and_webhook_paths_have_their_own_stricter_limit() {
    let app = TestApp::spawn_with(&[("limits.admin_per_minute", "3")]).await;
    let c = client_from([127, 0, 0, 2]);
    for path in ["/admin/cache", "/hooks/git", "/cmd/clear"] {
        assert_ne!(status(&c, &app.url(path), None).await, 429, "{path}");
    }
    let refused = get(&c, &app.url("/admin/stats"), None).await;
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "one request per 20 s: {retry}");
    assert_rate_limited(refused).await;
    // The router decodes %61 to `a`; the limit sees what the router sees.
    assert_eq!(status(&c, &app.url("/%61dmin/cache"), None).await, 429);
    // Images are under their own limits.
    assert_eq!(
        status(&c, &app.url("/img/cats/default.jpg"), None).await,
        200
    );
    let other = client_from([127, 0, 0, 3]);
    assert_ne!(status(&other, &app.url("/admin/cache"), None).await, 429);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // One request per second each: every client below gets exactly one 200.
    let app = TestApp::spawn_with(&[("limits.hit_per_ip_per_second", "1")]).await;
    let url = app.url("/img/cats/default.jpg");

    // 127.0.0.1 is a trusted proxy by default: the client is the address it forwards.
    let proxy = client_from([127, 0, 0, 1]);
    let user_a = Some("203.0.113.1");
    assert_eq!(status(&proxy, &url, user_a).await, 200);
    assert_eq!(status(&proxy, &url, user_a).await, 429);
    assert_eq!(
        status(&proxy, &url, Some("203.0.113.2")).await,
        200,
        "another forwarded client has its own allowance"
    );
    assert_eq!(
        status(&proxy, &url, Some("203.0.113.1, 127.0.0.1")).await,
        429,
        "a trusted hop in the chain is skipped"
    );
    assert_eq!(
        status(&proxy, &url, Some("198.51.100.77, 203.0.113.1")).await,
        429,
        "the right-most untrusted entry counts, not what the client wrote left of it"
    );
    assert_eq!(
        status(&proxy, &url, None).await,
        200,
        "without the header the proxy itself is the client"
    );

    // 127.0.0.2 is not trusted: whatever it claims, it is counted as itself.
    let spoofer = client_from([127, 0, 0, 2]);
    assert_eq!(status(&spoofer, &url, Some("198.51.100.1")).await, 200);
    assert_eq!(status(&spoofer, &url, Some("198.51.100.2")).await, 429);
    assert_eq!(status(&spoofer, &url, Some("198.51.100.3")).await, 429);
}

#[tokio::test]
async fn trusted_proxies_come_from_the_configuration() {
    // With no trusted proxies, even loopback's header is ignored.
    let app = TestApp::spawn_with(&[
        ("limits.hit_per_ip_per_second", "1"),
        ("server.trusted_proxies", ""),
    ])
    .await;
    let url = app.url("/img/cats/default.jpg");
    let c = client_from([127, 0, 0, 1]);
    assert_eq!(status(&c, &url, Some("203.0.113.1")).await, 200);
    assert_eq!(status(&c, &url, Some("203.0.113.2")).await, 429);
}
