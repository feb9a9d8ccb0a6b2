//! The real Nginx with `deploy/nginx/imgserver.conf` (only its upstream port, cache path and
//! listen address templated) in front of the real imgserver binary, on loopback. Clients connect
//! from 127.0.0.2, so the address imgserver reports can be told from Nginx's own (127.0.0.1).
//! `deploy/nginx/imgserver-cluster.conf` (listen address templated) is checked here too for what
//! needs no instances behind it: `nginx -t` and the addresses it refuses.
//!
//! Needs `nginx` (Debian: `apt-get install -y nginx-light`); `.ci/run` installs it and sets
//! IMGSERVER_REQUIRE_NGINX=1, which turns a missing binary into a failure instead of a skip.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use crate::common::client::{client_from, header};
use crate::common::fixtures::fixtures_dir;
use crate::common::nginx::{deployed, listen_on, nginx_binary, template, Nginx};
use crate::common::process::ImgserverProcess;
use crate::common::raw::raw_request;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The single-instance site, in front of imgserver on `upstream_port`.
const SITE: &str = "deploy/nginx/imgserver.conf";
/// The cluster site (its instances' addresses are left as shipped: nothing listens there).
const CLUSTER_SITE: &str = "deploy/nginx/imgserver-cluster.conf";

/// The single-instance site as deployed, but for its upstream port and cache folder.
fn start_site(binary: &std::path::Path, upstream_port: u16) -> Nginx {
    Nginx::start(binary, None, None, |port, dir| {
        let site = template(
            SITE,
            &deployed(SITE),
            &[
                (
                    "server 127.0.0.1:8080;",
                    format!("server 127.0.0.1:{upstream_port};"),
                ),
                (
                    "/var/cache/nginx/imgserver",
                    format!("{}/cache", dir.display()),
                ),
            ],
        );
        listen_on(SITE, &site, port)
    })
}

/// imgserver (JSON log, default trusted proxies: 127.0.0.1) behind Nginx.
fn stack() -> Option<(ImgserverProcess, Nginx)> {
    let binary = nginx_binary()?;
    let config = format!(
        "[server]\nport = 0\nworkers = 1\n[source]\ndir = \"{}\"\n[cache]\ndir = \"{{dir}}/cache\"\n\
         [log]\nformat = \"json\"\nlevel = \"info\"\n",
        fixtures_dir().display()
    );
    let server = ImgserverProcess::start(&config, &[]);
    let nginx = start_site(&binary, server.port);
    Some((server, nginx))
}

/// Format and size of an image body, decoded independently of the server.
fn decode(bytes: &[u8]) -> (image::ImageFormat, u32) {
    let format = image::guess_format(bytes).expect("an image");
    let img = image::load_from_memory(bytes).expect("a decodable image");
    (format, img.width())
}

/// The access lines imgserver logged so far (after a request known to be logged last).
fn access_lines(server: &mut ImgserverProcess, marker_id: &str) -> Vec<Value> {
    server.wait_for(|l| l.contains(marker_id));
    server
        .seen()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "access")
        .collect()
}

/// Sends a request through Nginx that reaches imgserver, and returns the id both logged.
async fn marker(nginx: &Nginx) -> String {
    let res = client_from(CLIENT)
        .get(nginx.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    header(&res, "x-request-id")
}

/// Paths only some addresses may reach through Nginx.
const CONTROL_PLANE: [&str; 5] = [
    "/admin/cache/clear",
    "/cmd/clear",
    "/cmd/gitupdate",
    "/hooks/git",
    "/metrics",
];

/// POSTs each of `paths` from a client address Nginx does not let in: refused by Nginx itself
/// (its own HTML 403), never passed on.
async fn assert_refused_by_nginx(nginx: &Nginx, paths: &[&str]) {
    let outsider = client_from(CLIENT);
    for path in paths {
        let res = outsider.post(nginx.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
        assert!(
            header(&res, "content-type").starts_with("text/html"),
            "{path}: refused by Nginx itself"
        );
    }
}

#[tokio::test]
async fn images_pass_through_and_repeats_come_from_nginx_cache() {
    let Some((mut server, nginx)) = stack() else {
        return;
    };
    let client = client_from(CLIENT);
    let url = nginx.url("/img/storm.jpg?w=200");
    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "content-type"), "image/jpeg");
    assert_eq!(header(&first, "x-proxy-cache"), "MISS");
    assert_eq!(header(&first, "cache-control"), "public, max-age=3600");
    let etag = header(&first, "etag");
    assert!(!etag.is_empty());
    let body = first.bytes().await.unwrap();
    assert_eq!(decode(&body), (image::ImageFormat::Jpeg, 200));

    let second = client.get(&url).send().await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(header(&second, "x-proxy-cache"), "HIT");
    assert_eq!(header(&second, "etag"), etag);
    assert_eq!(second.bytes().await.unwrap(), body);

    let revalidated = client
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304, "Nginx honours the ETag");

    let id = marker(&nginx).await;
    let lines = access_lines(&mut server, &id);
    let reached = lines
        .iter()
        .filter(|l| l["path"] == "/img/storm.jpg" && l["query"] == "w=200")
        .count();
    assert_eq!(reached, 1, "only the first request reached imgserver");

    // Errors carry no Cache-Control, so Nginx does not keep them.
    for _ in 0..2 {
        let missing = client
            .get(nginx.url("/img/missing.jpg?w=10"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert_ne!(header(&missing, "x-proxy-cache"), "HIT");
    }
}

#[tokio::test]
async fn vary_accept_keeps_webp_from_clients_that_do_not_accept_it() {
    let Some((_server, nginx)) = stack() else {
        return;
    };
    let client = client_from(CLIENT);
    let url = nginx.url("/img/storm.jpg?w=150&fmt=auto");
    let get = |accept: Option<&'static str>| {
        let mut req = client.get(&url);
        if let Some(accept) = accept {
            req = req.header("Accept", accept);
        }
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(header(&res, "vary"), "Accept");
            let cache = header(&res, "x-proxy-cache");
            let (format, width) = decode(&res.bytes().await.unwrap());
            assert_eq!(width, 150);
            (format, cache)
        }
    };
    let webp = Some("image/webp,image/*,*/*;q=0.8");
    let jpeg_only = Some("image/jpeg,image/*;q=0.9,*/*;q=0.8");
    use image::ImageFormat::{Jpeg, WebP};

    assert_eq!(get(webp).await, (WebP, "MISS".into()));
    // The cached WebP must not answer a client that does not accept WebP.
    assert_eq!(get(jpeg_only).await.0, Jpeg);
    assert_eq!(get(None).await.0, Jpeg);
    // Each variant is cached on its own and served to its own kind of client.
    assert_eq!(get(webp).await, (WebP, "HIT".into()));
    assert_eq!(get(jpeg_only).await, (Jpeg, "HIT".into()));
    assert_eq!(get(None).await, (Jpeg, "HIT".into()));
}

#[tokio::test]
async fn admin_hooks_and_metrics_are_refused_to_other_addresses() {
    let Some((mut server, nginx)) = stack() else {
        return;
    };
    assert_refused_by_nginx(&nginx, &CONTROL_PLANE).await;
    let id = marker(&nginx).await;
    let lines = access_lines(&mut server, &id);
    assert!(
        !lines.iter().any(|l| l["client_ip"] == "127.0.0.2"
            && ["/admin/", "/cmd/", "/hooks/", "/metrics"]
                .iter()
                .any(|p| l["path"].as_str().unwrap().starts_with(p))),
        "refused requests never reached imgserver"
    );

    // An allowed address gets through to imgserver (which then wants its token).
    let operator = client_from(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let res = operator
        .get(nginx.url("/admin/cache/stats"))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 403);
    assert_eq!(header(&res, "content-type"), "application/json");
    let res = operator.post(nginx.url("/cmd/clear")).send().await.unwrap();
    assert_eq!(
        (res.status().as_u16(), header(&res, "content-type")),
        (404, "application/json".into()),
        "imgserver's own answer: no admin token configured"
    );

    // The admin rate limit: 30/min with a burst of 10.
    let mut limited = 0;
    for _ in 0..15 {
        let res = operator
            .get(nginx.url("/admin/cache/stats"))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0, "limit_req refuses a burst beyond 10");
}

/// Behind the shipped site every URL over 8 KiB is a 414, whatever its length: Nginx answers it
/// before imgserver (which answers the same without Nginx: `hardening_http`).
#[tokio::test]
async fn urls_over_8_kib_get_414_behind_nginx_whatever_their_length() {
    let Some((_server, nginx)) = stack() else {
        return;
    };
    // Over 64 KiB no HTTP library sends such a URL: written on a plain socket.
    for len in [8 * 1024 + 1, 70 * 1024, 200 * 1024] {
        let target = format!("/img/storm.jpg?w=20&x={}", "a".repeat(len));
        let res = raw_request(nginx.port, "GET", &target, &[]).await;
        assert_eq!(res.status, 414, "a {len}-byte query");
    }
    let res = raw_request(nginx.port, "GET", "/img/storm.jpg?w=20", &[]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn the_cluster_site_refuses_the_control_plane_to_other_addresses() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    // `nginx -t` passes (checked on start); no instance is needed for what Nginx refuses itself.
    let nginx = Nginx::start(&binary, None, None, |port, _| {
        listen_on(CLUSTER_SITE, &deployed(CLUSTER_SITE), port)
    });
    let mut paths = vec!["/admin/git/pull"];
    paths.extend(CONTROL_PLANE);
    assert_refused_by_nginx(&nginx, &paths).await;
}

#[tokio::test]
async fn imgserver_sees_the_real_client_address() {
    let Some((mut server, nginx)) = stack() else {
        return;
    };
    let res = client_from(CLIENT)
        .get(nginx.url("/img/storm.jpg?w=64"))
        // A client trying to pass itself off as someone else.
        .header("X-Forwarded-For", "203.0.113.66")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = header(&res, "x-request-id");
    assert_eq!(id.len(), 32, "Nginx's $request_id");
    let line = server.wait_for(|l| l.contains(&id));
    let line: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["path"], "/img/storm.jpg");
    assert_eq!(line["client_ip"], "127.0.0.2");
    assert_eq!(line["peer"], "127.0.0.1");
}
