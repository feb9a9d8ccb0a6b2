//! What the tests that talk to real servers share: the HTTP client every test uses, finding
//! Nginx and reading the port a server bound from its "listening" log line.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

/// How long a test client keeps an idle pooled connection: below every server's idle timeout
/// (Nginx's `keepalive_timeout 4s` in deploy/nginx, imgserver's `server.keep_alive` 5 s), as
/// a real scraper or browser is configured. A client that keeps it longer sooner or later
/// writes a request into a connection the server is closing at that very moment, and gets
/// "connection closed before message completed" for a request that never reached the server.
/// (A connection found closed *before* the request is written is retried by hyper itself.)
pub const POOL_IDLE: Duration = Duration::from_secs(1);

/// The client builder every test starts from (then adds its timeout, local address, ...).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_idle_timeout(POOL_IDLE)
}

/// An error with every cause in its chain: reqwest's own message alone ("error sending
/// request") does not say whether the connection was refused, reset or closed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Nginx, from `$IMGSERVER_NGINX`, the sbin folders or `PATH`. `None` (the test skips) when it
/// is not installed, unless `$IMGSERVER_REQUIRE_NGINX` says it must be.
pub fn nginx_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("IMGSERVER_NGINX") {
        return Some(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = vec!["/usr/sbin".into(), "/usr/local/sbin".into()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let found = dirs
        .into_iter()
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("IMGSERVER_REQUIRE_NGINX").is_none(),
            "nginx is required (IMGSERVER_REQUIRE_NGINX) but not installed"
        );
        eprintln!("SKIPPED: nginx is not installed (apt-get install -y nginx-light)");
    }
    found
}

/// The port in imgserver's "listening" log line (text or JSON).
pub fn listening_port(line: &str) -> u16 {
    let digits: String = line
        .rsplit("port")
        .next()
        .unwrap()
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().expect("a port in the listening line")
}
