//! Request hardening through real sockets: oversized URLs, headers and admin bodies, too many
//! parameters, slow clients (slowloris) and panics.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};

use crate::common::{
    app::TestApp,
    client::error_of,
    raw::{raw_exchange, raw_request, read_one_response, RawResponse},
};

fn assert_json_error(res: &RawResponse, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", res.body_text());
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(error_of(&res.body).0, code);
}

#[tokio::test]
async fn urls_over_8_kib_get_414() {
    let app = TestApp::spawn_with_routes(&[], test_routes).await;
    let target = |len: usize| {
        let base = "/img/cats/default.jpg?w=10&x=";
        format!("{base}{}", "a".repeat(len - base.len()))
    };
    let res = app.raw_get(&target(8 * 1024 + 1)).await;
    assert_json_error(&res, 414, "uri_too_long");
    // At the limit the URL is read, and judged on its merits (an unknown parameter).
    let res = app.raw_get(&target(8 * 1024)).await;
    assert_json_error(&res, 400, "invalid_parameter");
    let long_path = format!("/img/{}.jpg", "d/".repeat(5000));
    assert_json_error(&app.raw_get(&long_path).await, 414, "uri_too_long");
    // Whatever the length: past actix-http's 64 KiB URI limit and its 128 KiB head buffer, the
    // socket reader in front of it answers the same 414 (startup::long_urls).
    for len in [60 * 1024, 70 * 1024, 200 * 1024] {
        assert_json_error(&app.raw_get(&target(len)).await, 414, "uri_too_long");
    }
    // A body with a line as long, on a keep-alive connection, is not taken for a request line;
    // the request after it on the same connection is judged on its own.
    let body = format!("{{\"x\":\"{}\"}}", "a".repeat(100 * 1024));
    let head = format!(
        "POST /other/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let next = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        target(70 * 1024)
    );
    let port = app.port;
    let body_len = body.len();
    let (first, second) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let first = read_one_response(&mut reader);
        stream.write_all(next.as_bytes()).unwrap();
        (first, read_one_response(&mut reader))
    })
    .await
    .unwrap();
    assert_eq!(
        (first.status, first.body_text()),
        (200, body_len.to_string())
    );
    assert_json_error(&second, 414, "uri_too_long");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn headers_over_16_kib_get_431() {
    let app = TestApp::spawn().await;
    let big = "v".repeat(16 * 1024);
    let res = raw_request(app.port, "GET", "/healthz", &[("X-Big", &big)]).await;
    assert_json_error(&res, 431, "headers_too_large");
    // Spread over many headers, the total counts.
    let piece = "v".repeat(1000);
    let many: Vec<(String, &str)> = (0..20).map(|i| (format!("X-Part-{i}"), &*piece)).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let res = raw_request(app.port, "GET", "/healthz", &many).await;
    assert_json_error(&res, 431, "headers_too_large");
    // Beyond actix's own 128 KiB head buffer the answer is still 431 (without our JSON body).
    let huge = "v".repeat(200 * 1024);
    let res = raw_request(app.port, "GET", "/healthz", &[("X-Huge", &huge)]).await;
    assert_eq!(res.status, 431);
    // A normal request is unaffected.
    let normal = "v".repeat(8 * 1024);
    let res = raw_request(app.port, "GET", "/healthz", &[("X-Ok", &normal)]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn more_than_32_query_parameters_get_400() {
    let app = TestApp::spawn().await;
    let query: Vec<String> = (0..33).map(|_| "fit=cover".to_string()).collect();
    let res = app
        .raw_get(&format!("/img/cats/default.jpg?{}", query.join("&")))
        .await;
    assert_json_error(&res, 400, "invalid_parameter");
    assert!(error_of(&res.body).1.contains("at most 32"));
}

/// Sends a request head announcing `length` body bytes, then `body`, and reads the answer.
fn post(port: u16, path: &str, headers: &str, body: &[u8]) -> RawResponse {
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\r\n");
    raw_exchange(port, &head, body)
}

#[tokio::test]
async fn admin_and_webhook_bodies_over_1_mib_get_413() {
    let app = TestApp::spawn().await;
    let port = app.port;
    let results = tokio::task::spawn_blocking(move || {
        let over = 1024 * 1024 + 1;
        let headers = format!("Content-Type: application/json\r\nContent-Length: {over}\r\n");
        let body = vec![b'x'; over];
        ["/admin/cache/clear", "/hooks/git", "/cmd/clear"]
            .map(|path| (path, post(port, path, &headers, &body)))
    })
    .await
    .unwrap();
    for (path, res) in &results {
        assert_eq!(res.status, 413, "{path}");
        assert_eq!(error_of(&res.body).0, "payload_too_large", "{path}");
    }
    // Other paths are not subject to that cap (the image routes do not take POST at all).
    let res = tokio::task::spawn_blocking(move || {
        post(
            port,
            "/img/cats/default.jpg",
            "Content-Length: 1048577\r\n",
            &vec![b'x'; 1024 * 1024 + 1],
        )
    })
    .await
    .unwrap();
    assert_eq!(res.status, 405);
}

/// Opens `n` connections that send a request head one byte at a time, every `every`.
fn start_dribblers(port: u16, n: usize, every: Duration) -> Vec<std::thread::JoinHandle<bool>> {
    (0..n)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let head = b"GET /img/cats/default.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
                for &byte in head.iter().chain(std::iter::repeat_n(&b'a', 10_000)) {
                    if stream.write_all(&[byte]).is_err() {
                        return true; // the server hung up on us
                    }
                    std::thread::sleep(every);
                }
                false
            })
        })
        .collect()
}

#[tokio::test]
async fn fifty_slow_clients_delay_nobody_and_are_cut_off() {
    let app = TestApp::spawn_with(&[("server.client_request_timeout", "1s")]).await;
    let dribblers = start_dribblers(app.port, 50, Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let res = app.get("/img/cats/default.jpg?w=30").await;
        assert_eq!(res.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "served while 50 clients dribble: {:?}",
            started.elapsed()
        );
    }
    // Each dribbler is disconnected once its head takes longer than client_request_timeout,
    // long before it would have finished (10 000 bytes at 20 per second: over 8 minutes).
    let started = Instant::now();
    let cut = tokio::task::spawn_blocking(move || {
        dribblers
            .into_iter()
            .map(|d| d.join().unwrap())
            .filter(|&cut| cut)
            .count()
    })
    .await
    .unwrap();
    assert_eq!(cut, 50);
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Sends `body` chunked (no Content-Length) and reads the answer.
fn post_chunked(port: u16, path: &str, body: &[u8]) -> RawResponse {
    let mut chunked = Vec::new();
    for chunk in body.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    post(port, path, "Transfer-Encoding: chunked\r\n", &chunked)
}

/// Routes of the test's own behind the real middleware: a body reader under the control plane's
/// prefix and outside it, and a handler that panics.
fn test_routes(cfg: &mut web::ServiceConfig) {
    async fn read_all(body: web::Bytes) -> HttpResponse {
        HttpResponse::Ok().body(body.len().to_string())
    }
    async fn boom() -> HttpResponse {
        panic!("secret detail /etc/passwd")
    }
    async fn fine() -> HttpResponse {
        HttpResponse::Ok().body("fine")
    }
    // The extractor's own limit is raised so that only the front door's applies.
    let reader = |path: &str| {
        web::resource(path.to_string())
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .route(web::post().to(read_all))
    };
    cfg.service(reader("/admin/echo"))
        .service(reader("/other/echo"))
        .route("/boom", web::get().to(boom))
        .route("/fine", web::get().to(fine));
}

#[tokio::test]
async fn streamed_admin_bodies_are_cut_off_at_1_mib() {
    let app = TestApp::spawn_with_routes(&[], test_routes).await;
    let port = app.port;
    let (small, big, elsewhere) = tokio::task::spawn_blocking(move || {
        (
            post_chunked(port, "/admin/echo", &vec![b'x'; 512 * 1024]),
            post_chunked(port, "/admin/echo", &vec![b'x'; 1536 * 1024]),
            post_chunked(port, "/other/echo", &vec![b'x'; 1536 * 1024]),
        )
    })
    .await
    .unwrap();
    assert_eq!((small.status, small.body_text()), (200, "524288".into()));
    assert_eq!(big.status, 413);
    assert_eq!(
        elsewhere.status, 200,
        "the cap is for admin and webhook paths"
    );
}

/// No panic reaches a client: a handler that panics answers a generic 500 JSON error and the
/// connection (and its worker) lives on, through the real application's middleware.
#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_connection_lives_on() {
    let app = TestApp::spawn_with_routes(&[], test_routes).await;
    let port = app.port;
    let (first, second) = tokio::task::spawn_blocking(move || {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        writer
            .write_all(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let first = read_one_response(&mut reader);
        writer
            .write_all(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let second = read_one_response(&mut reader);
        (first, second)
    })
    .await
    .unwrap();
    assert_json_error(&first, 500, "internal");
    assert_eq!(error_of(&first.body).1, "internal error");
    assert!(!first.body_text().contains("passwd"));
    assert_eq!(
        (second.status, second.body_text()),
        (200, "fine".to_string()),
        "same connection, same worker"
    );
    // The real stack's outer layers saw the 500: the request metrics counted it.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let counted = metrics.lines().any(|line| {
        line.starts_with("imgserver_http_requests_total{")
            && line.contains(r#"route="/boom""#)
            && line.contains(r#"status="500""#)
            && line.ends_with(" 1")
    });
    assert!(counted, "{metrics}");
}
