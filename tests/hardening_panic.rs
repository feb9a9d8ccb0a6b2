//! No panic reaches a client: a handler that panics answers a generic 500 JSON error and the
//! connection (and its worker) lives on. The panicking handler is the test's own; the barrier is
//! the service's `limits::catch_panic`, wired as in `startup`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use imgserver::limits::catch_panic;
use support::error_of;

async fn boom() -> HttpResponse {
    panic!("secret detail /etc/passwd")
}

async fn fine() -> HttpResponse {
    HttpResponse::Ok().body("fine")
}

/// Reads one response (status and body) off a keep-alive connection.
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<u8>) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .expect("a status")
        .parse()
        .unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, body)
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_connection_lives_on() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(|| {
        App::new()
            .route("/boom", web::get().to(boom))
            .route("/fine", web::get().to(fine))
            .wrap(from_fn(catch_panic))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);

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
        let first = read_response(&mut reader);
        writer
            .write_all(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let second = read_response(&mut reader);
        (first, second)
    })
    .await
    .unwrap();

    assert_eq!(first.0, 500);
    let (code, message) = error_of(&first.1);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("internal", "internal error")
    );
    assert!(!String::from_utf8_lossy(&first.1).contains("passwd"));
    assert_eq!(
        second,
        (200, b"fine".to_vec()),
        "same connection, same worker"
    );
    handle.stop(false).await;
}
