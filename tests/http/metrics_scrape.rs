//! `GET /metrics`: scraped from a real server and parsed as Prometheus text. Requests are counted
//! by route template (never the raw path), cache and render state is reported per tier, refusals
//! are counted, the families other modules report to exist from the start, and only allowed
//! addresses (judged through trusted proxies) may scrape.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{app::TestApp, client::error_of, raw::raw_request};
use imgserver::metrics::SyncOutcome;

/// One sample: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The exposition: samples and the declared type of each family.
struct Scrape {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(decl) = line.strip_prefix("# TYPE ") {
                let (name, kind) = decl.split_once(' ').expect("# TYPE name kind");
                types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split("\",")
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once("=\"").expect("label=\"value\"");
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
            };
            samples.push(Sample {
                name,
                labels,
                value,
            });
        }
        Scrape { samples, types }
    }

    /// The value of the one series `name{labels}` (labels given must all match).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one series {name}{labels:?}, found {found:?}"
        );
        found[0].value
    }

    /// The sum of every series of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(&res.text().await.unwrap())
}

#[tokio::test]
async fn requests_are_counted_by_route_template_with_cache_and_render_state() {
    let app = TestApp::spawn_with(&[("cache.memory_bytes", "32MiB")]).await;
    let variant = "/img/storm.jpg?w=120";
    assert_eq!(app.get(variant).await.status(), 200); // miss: one render
    assert_eq!(app.get(variant).await.status(), 200); // memory hit
    let head = app.client.head(app.url(variant)).send().await.unwrap();
    assert_eq!(head.status(), 200); // another hit
    assert_eq!(app.get("/img/nope/missing.jpg").await.status(), 404);
    assert_eq!(app.get("/img/storm.jpg?w=abc").await.status(), 400);
    assert_eq!(app.get("/info/storm.jpg").await.status(), 200);
    assert_eq!(app.get("/no/such/endpoint").await.status(), 404);
    assert_eq!(
        raw_request(app.port, "FROB", "/healthz", &[]).await.status,
        405
    );

    let m = scrape(&app).await;
    let requests = "imgserver_http_requests_total";
    let img = ("route", "/img");
    assert_eq!(
        m.value(requests, &[img, ("method", "GET"), ("status", "200")]),
        2.0
    );
    assert_eq!(
        m.value(requests, &[img, ("method", "HEAD"), ("status", "200")]),
        1.0
    );
    assert_eq!(m.value(requests, &[img, ("status", "404")]), 1.0);
    assert_eq!(m.value(requests, &[img, ("status", "400")]), 1.0);
    assert_eq!(m.value(requests, &[("route", "/info")]), 1.0);
    assert_eq!(
        m.value(requests, &[("route", "unmatched"), ("status", "404")]),
        1.0,
        "an unknown path is counted under one label, not its own"
    );
    assert_eq!(
        m.value(requests, &[("route", "/healthz"), ("method", "other")]),
        1.0,
        "an unknown method does not mint a label value"
    );
    for sample in &m.samples {
        for value in sample.labels.values() {
            assert!(
                !value.contains("storm") && !value.contains("missing") && !value.contains("such"),
                "a raw path leaked into a label: {sample:?}"
            );
        }
    }

    let duration = "imgserver_http_request_duration_seconds";
    assert_eq!(m.value(&format!("{duration}_count"), &[img]), 5.0);
    assert_eq!(
        m.value(&format!("{duration}_bucket"), &[img, ("le", "+Inf")]),
        5.0
    );
    assert!(m.value(&format!("{duration}_sum"), &[img]) > 0.0);
    assert!(
        m.value(&format!("{duration}_bucket"), &[img, ("le", "0.001")])
            <= m.value(&format!("{duration}_bucket"), &[img, ("le", "10")]),
        "buckets are cumulative"
    );
    assert!(m.value("imgserver_http_response_bytes_total", &[img]) > 0.0);

    assert_eq!(m.value("imgserver_renders_total", &[]), 1.0);
    assert_eq!(m.value("imgserver_render_duration_seconds_count", &[]), 1.0);
    assert!(m.value("imgserver_render_duration_seconds_sum", &[]) > 0.0);
    let memory = ("tier", "memory");
    assert_eq!(m.value("imgserver_cache_hits_total", &[memory]), 2.0);
    assert_eq!(m.value("imgserver_cache_misses_total", &[memory]), 1.0);
    // Entries and bytes are reported as the cache counts them (its own tests check the values;
    // the in-memory tier settles its counts lazily).
    m.value("imgserver_cache_entries", &[memory]);
    m.value("imgserver_cache_bytes", &[memory]);
    assert_eq!(
        m.value("imgserver_cache_capacity_bytes", &[memory]),
        (32 * 1024 * 1024) as f64
    );
    for family in [
        "imgserver_cache_hits_total",
        "imgserver_cache_misses_total",
        "imgserver_cache_evictions_total",
        "imgserver_cache_bytes",
    ] {
        m.value(family, &[("tier", "disk")]);
    }
    assert_eq!(m.value("imgserver_render_queue_depth", &[]), 0.0);
    let limits = &app.state.settings.limits;
    assert_eq!(
        m.value("imgserver_render_queue_capacity", &[]),
        (limits.max_concurrent_renders + limits.render_queue) as f64
    );
    assert_eq!(
        m.value(
            "imgserver_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(m.value("imgserver_start_time_seconds", &[]) > 1.6e9);

    // Names follow the conventions: counters end in _total, histograms are in seconds.
    for (name, kind) in &m.types {
        assert!(name.starts_with("imgserver_"), "{name}");
        match kind.as_str() {
            "counter" => assert!(name.ends_with("_total"), "{name}"),
            "histogram" => assert!(name.ends_with("_seconds"), "{name}"),
            "gauge" => assert!(!name.ends_with("_total"), "{name}"),
            other => panic!("unexpected type {other} for {name}"),
        }
    }
}

#[tokio::test]
async fn families_for_limits_and_git_exist_at_zero_and_count_what_is_reported() {
    let app = TestApp::spawn().await;
    let m = scrape(&app).await;
    for limit in ["render", "hit", "admin"] {
        assert_eq!(
            m.value("imgserver_rate_limited_total", &[("limit", limit)]),
            0.0
        );
    }
    for reason in ["overloaded", "render_timeout"] {
        assert_eq!(
            m.value("imgserver_rejected_total", &[("reason", reason)]),
            0.0
        );
    }
    for result in ["updated", "unchanged", "failed"] {
        assert_eq!(
            m.value("imgserver_git_syncs_total", &[("result", result)]),
            0.0
        );
    }
    assert_eq!(
        m.value("imgserver_git_sync_duration_seconds_count", &[]),
        0.0
    );
    assert_eq!(
        m.value("imgserver_git_last_success_timestamp_seconds", &[]),
        0.0
    );
    assert_eq!(m.sum("imgserver_source_info", &[]), 0.0, "no commit yet");

    // What the rate limiters and the git sync will report through.
    let metrics = &app.state.metrics;
    metrics
        .limits()
        .rate_limited(imgserver::metrics::RateLimit::Hit);
    metrics
        .git()
        .record_sync(SyncOutcome::Updated, Duration::from_millis(1500));
    metrics
        .git()
        .record_sync(SyncOutcome::Failed, Duration::from_millis(200));
    metrics.git().set_served_commit("0123abc", "main");
    metrics.git().set_served_commit("4567def", "main");

    let m = scrape(&app).await;
    assert_eq!(
        m.value("imgserver_rate_limited_total", &[("limit", "hit")]),
        1.0
    );
    assert_eq!(
        m.value("imgserver_git_syncs_total", &[("result", "updated")]),
        1.0
    );
    assert_eq!(
        m.value("imgserver_git_syncs_total", &[("result", "failed")]),
        1.0
    );
    assert_eq!(
        m.value("imgserver_git_sync_duration_seconds_count", &[]),
        2.0
    );
    assert_eq!(
        m.value("imgserver_git_sync_duration_seconds_bucket", &[("le", "1")]),
        1.0
    );
    assert!(m.value("imgserver_git_last_success_timestamp_seconds", &[]) > 1.6e9);
    assert_eq!(
        m.value(
            "imgserver_source_info",
            &[("commit", "4567def"), ("branch", "main")]
        ),
        1.0
    );
    assert_eq!(
        m.sum("imgserver_source_info", &[]),
        1.0,
        "only the served commit is reported"
    );
}

#[tokio::test]
async fn concurrent_requests_sharing_one_render_observe_it_once() {
    let app = TestApp::spawn().await;
    // A 20 MP photo at 3000 px: a second or more, long enough for every request to join.
    app.add_big_source("big.jpg");
    let requests = (0..12).map(|_| {
        let url = app.url("/img/big.jpg?w=3000");
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap() }
    });
    for res in futures_util::future::join_all(requests).await {
        assert_eq!(res.status(), 200);
    }
    assert_eq!(app.renders(), 1, "the requests shared one render");
    let m = scrape(&app).await;
    assert_eq!(m.value("imgserver_renders_total", &[]), 1.0);
    assert_eq!(
        m.value("imgserver_render_duration_seconds_count", &[]),
        1.0,
        "one render, observed once, however many requests waited for it"
    );
    assert_eq!(m.value("imgserver_render_wait_seconds_count", &[]), 1.0);
    assert_eq!(
        m.types
            .get("imgserver_render_wait_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        m.value(
            "imgserver_http_requests_total",
            &[("route", "/img"), ("status", "200")]
        ),
        12.0
    );
}

#[tokio::test]
async fn refused_renders_are_counted_as_rejections() {
    let app = TestApp::spawn_with(&[("limits.render_timeout", "1ms")]).await;
    let res = app.get("/img/storm.jpg?w=300").await;
    assert_eq!(res.status(), 503);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "render_timeout");

    let app = TestApp::spawn_with(&[
        ("limits.max_concurrent_renders", "1"),
        ("limits.render_queue", "0"),
        ("limits.render_timeout", "60s"),
    ])
    .await;
    let requests = (0..8).map(|i| {
        let url = app.url(&format!("/img/storm.jpg?w={}", 200 + i));
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap() }
    });
    let mut overloaded = 0;
    for res in futures_util::future::join_all(requests).await {
        if res.status() == 503 {
            assert_eq!(error_of(&res.bytes().await.unwrap()).0, "overloaded");
            overloaded += 1;
        }
    }
    assert!(overloaded > 0, "eight simultaneous renders on one slot");
    let m = scrape(&app).await;
    assert_eq!(
        m.value("imgserver_rejected_total", &[("reason", "overloaded")]),
        overloaded as f64
    );
    assert_eq!(
        m.value(
            "imgserver_http_requests_total",
            &[("route", "/img"), ("status", "503")]
        ),
        overloaded as f64
    );
}

#[tokio::test]
async fn only_allowed_addresses_may_scrape() {
    // The test client is 127.0.0.1, outside this list.
    let app = TestApp::spawn_with(&[("metrics.allow", "10.0.0.0/8,192.168.0.0/16")]).await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 403);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "forbidden");

    // Default: loopback may scrape directly, but a client relayed by the (trusted) local proxy
    // is judged by its real address.
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/metrics").await.status(), 200);
    let relayed = app
        .get_with("/metrics", &[("X-Forwarded-For", "203.0.113.5")])
        .await;
    assert_eq!(relayed.status(), 403);
    let local_relay = app
        .get_with("/metrics", &[("X-Forwarded-For", "127.0.0.1")])
        .await;
    assert_eq!(local_relay.status(), 200);

    // Without trusted proxies the header is the client's own claim and is ignored.
    let app = TestApp::spawn_with(&[("server.trusted_proxies", "")]).await;
    let spoofing = app
        .get_with("/metrics", &[("X-Forwarded-For", "10.9.9.9")])
        .await;
    assert_eq!(spoofing.status(), 200, "judged by the peer, 127.0.0.1");
    let app = TestApp::spawn_with(&[
        ("server.trusted_proxies", ""),
        ("metrics.allow", "10.0.0.0/8"),
    ])
    .await;
    let spoofing = app
        .get_with("/metrics", &[("X-Forwarded-For", "10.9.9.9")])
        .await;
    assert_eq!(spoofing.status(), 403, "a forged header opens nothing");
}

#[tokio::test]
async fn disabled_metrics_are_not_served() {
    let app = TestApp::spawn_with(&[("metrics.enabled", "false")]).await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 404);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "not_found");
}

/// The real limiters and the real git sync report through the metrics, not just the API.
#[tokio::test]
async fn rate_limiters_and_git_syncs_report_for_real() {
    let app = TestApp::spawn_with(&[
        ("limits.hit_per_ip_per_second", "2"),
        ("limits.per_ip_per_second", "1"),
        ("limits.per_ip_burst", "1"),
    ])
    .await;
    for w in 100..106 {
        app.get(&format!("/img/storm.jpg?w={w}")).await;
    }
    let m = scrape(&app).await;
    assert!(m.value("imgserver_rate_limited_total", &[("limit", "hit")]) >= 1.0);

    let app = TestApp::spawn_with(&[
        ("limits.hit_per_ip_per_second", "0"),
        ("limits.per_ip_per_second", "1"),
        ("limits.per_ip_burst", "1"),
    ])
    .await;
    for w in 100..104 {
        app.get(&format!("/img/storm.jpg?w={w}")).await;
    }
    let m = scrape(&app).await;
    assert!(m.value("imgserver_rate_limited_total", &[("limit", "render")]) >= 1.0);
    assert_eq!(
        m.value("imgserver_rate_limited_total", &[("limit", "hit")]),
        0.0
    );

    use crate::common::git::{clone, Change, Remote};
    use crate::common::images::png;
    use crate::common::images::{BLUE, RED};
    let remote = Remote::new();
    let first = remote.commit(&[Change::Put("a.png", png(20, 10, RED))]);
    let app = crate::common::git::spawn(clone(&remote), &[]).await;
    let m = scrape(&app).await;
    assert_eq!(
        m.value(
            "imgserver_source_info",
            &[("commit", &first.to_string()), ("branch", "main")]
        ),
        1.0,
        "the served commit from the start"
    );
    let second = remote.commit(&[Change::Put("a.png", png(20, 10, BLUE))]);
    let (status, _) = crate::common::git::pull(&app).await;
    assert_eq!(status, 200);
    crate::common::git::pull(&app).await;
    let m = scrape(&app).await;
    assert_eq!(
        m.value("imgserver_git_syncs_total", &[("result", "updated")]),
        1.0
    );
    assert_eq!(
        m.value("imgserver_git_syncs_total", &[("result", "unchanged")]),
        1.0
    );
    assert_eq!(
        m.value(
            "imgserver_source_info",
            &[("commit", &second.to_string()), ("branch", "main")]
        ),
        1.0
    );
    assert_eq!(m.sum("imgserver_source_info", &[]), 1.0);
}
