//! The HTTP client every test starts from, and how a client error is reported.

use std::net::IpAddr;
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

/// A client whose connections come from `ip` (a loopback address: servers tell clients apart
/// by it), with a 60 s timeout.
pub fn client_from(ip: impl Into<IpAddr>) -> reqwest::Client {
    client_builder()
        .local_address(ip.into())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
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

/// The JSON error body of a response: (code, message).
pub fn error_of(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("a JSON body, got {:?}", String::from_utf8_lossy(body)));
    (
        v["error"]["code"].as_str().expect("error.code").to_string(),
        v["error"]["message"]
            .as_str()
            .expect("error.message")
            .to_string(),
    )
}

/// A response header as text ("" when absent).
pub fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}
