//! The log of the real binary: one access line per request with the fields operators need, as
//! JSON or text (`log.format`), at the level of `log.level` unless `RUST_LOG` says otherwise,
//! and never a secret: not the configured keys, not a bearer token, not a query signature.

use std::time::Duration;

use crate::common::{fixtures::fixtures_dir, process::ImgserverProcess};
use serde_json::Value;

const ADMIN_TOKEN: &str = "admin-token-MUST-NOT-LEAK";
const SIGNING_KEY: &str = "signing-key-MUST-NOT-LEAK";
const WEBHOOK_SECRET: &str = "webhook-secret-MUST-NOT-LEAK";

/// A server with every secret configured (the signing key through the environment).
fn start(format: &str, level: &str, rust_log: Option<&str>) -> ImgserverProcess {
    let config = format!(
        "[server]\nport = 0\nworkers = 1\n\
         [source]\ndir = \"{fixtures}\"\n\
         [cache]\ndir = \"{{dir}}/cache\"\n\
         [admin]\ntoken = \"{ADMIN_TOKEN}\"\n\
         [webhook]\nsecret = \"{WEBHOOK_SECRET}\"\n\
         [log]\nformat = \"{format}\"\nlevel = \"{level}\"\n",
        fixtures = fixtures_dir().display(),
    );
    let mut env = vec![("IMGSERVER__SECURITY__SIGNING_KEY", SIGNING_KEY)];
    if let Some(filter) = rust_log {
        env.push(("RUST_LOG", filter));
    }
    ImgserverProcess::start(&config, &env)
}

fn client() -> reqwest::Client {
    crate::common::client::client_builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn assert_no_secret(lines: &[String], extra: &[&str]) {
    for line in lines {
        for secret in [ADMIN_TOKEN, SIGNING_KEY, WEBHOOK_SECRET]
            .iter()
            .chain(extra)
        {
            assert!(!line.contains(secret), "{secret} leaked: {line}");
        }
    }
}

#[tokio::test]
async fn json_access_lines_carry_every_field_and_no_secret() {
    let mut server = start("json", "info", None);
    let client = client();
    // An original (never signed with security.sign_originals off): status and size are known.
    let res = client
        .get(server.url("/img/storm.jpg"))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("X-Request-Id", "trace-me-42")
        .header("X-Forwarded-For", "198.51.100.23")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body_len = res.bytes().await.unwrap().len() as u64;
    // Credentials in the query: whatever the answer, their values stay out of the log.
    let signed =
        client
            .get(server.url(
                "/img/storm.jpg?w=90&s=SIGNATURE-MUST-NOT-LEAK&token=QUERY-TOKEN-MUST-NOT-LEAK",
            ))
            .header("X-Request-Id", "signed-7")
            .send()
            .await
            .unwrap();
    let signed_status = signed.status().as_u16();
    let missing = client
        .get(server.url("/img/missing.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing_id = missing.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();

    let first = server.wait_for(|l| l.contains("trace-me-42"));
    let with_query = server.wait_for(|l| l.contains("signed-7"));
    let third = server.wait_for(|l| l.contains(&missing_id));
    let lines = server.stop();
    for line in &lines {
        let _: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert_no_secret(
        &lines,
        &["SIGNATURE-MUST-NOT-LEAK", "QUERY-TOKEN-MUST-NOT-LEAK"],
    );

    let a: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(a["target"], "access");
    assert_eq!(a["level"], "INFO");
    assert!(a["timestamp"].is_string());
    assert_eq!(a["message"], "request");
    assert_eq!(a["method"], "GET");
    assert_eq!(a["path"], "/img/storm.jpg");
    assert_eq!(a["query"], "");
    assert_eq!(a["status"], 200);
    assert_eq!(a["bytes"], body_len);
    assert_eq!(a["cache"], "bypass");
    assert_eq!(a["error"], "-");
    assert!(a["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(a["request_id"], "trace-me-42");
    assert_eq!(
        a["client_ip"], "198.51.100.23",
        "the client behind the trusted local proxy"
    );
    assert_eq!(a["peer"], "127.0.0.1");

    let q: Value = serde_json::from_str(&with_query).unwrap();
    assert_eq!(q["query"], "w=90&s=REDACTED&token=REDACTED");
    assert_eq!(q["status"], signed_status);

    let c: Value = serde_json::from_str(&third).unwrap();
    assert_eq!(c["status"], 404);
    assert_eq!(c["error"], "not_found");
    assert_eq!(c["cache"], "-");
    assert_eq!(c["client_ip"], "127.0.0.1");
}

#[tokio::test]
async fn text_format_is_one_plain_line_per_request() {
    let mut server = start("text", "info", None);
    let res = client()
        .get(server.url("/healthz?s=SIGNATURE-MUST-NOT-LEAK"))
        .header("X-Request-Id", "text-line-7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let line = server.wait_for(|l| l.contains("text-line-7"));
    let lines = server.stop();
    assert_no_secret(&lines, &["SIGNATURE-MUST-NOT-LEAK"]);
    assert!(!line.starts_with('{'), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes off a terminal: {line}"
    );
    for field in [
        "INFO",
        "method=\"GET\"",
        "path=\"/healthz\"",
        "query=\"s=REDACTED\"",
        "status=200",
        "bytes=",
        "duration_ms=",
        "request_id=\"text-line-7\"",
        "client_ip=\"127.0.0.1\"",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
}

#[tokio::test]
async fn log_level_comes_from_the_config_unless_rust_log_is_set() {
    // log.level says info; RUST_LOG wins: access lines kept, actix's info lines dropped.
    let mut server = start(
        "json",
        "info",
        Some("warn,access=info,imgserver::startup=info"),
    );
    let res = client().get(server.url("/healthz")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    server.wait_for(|l| l.contains(&id) && l.contains("\"access\""));
    let lines = server.stop();
    assert!(
        !lines.iter().any(|l| l.contains("starting service")),
        "actix's info lines are filtered by RUST_LOG"
    );

    // log.level alone: warn hides the access lines.
    let server = start("json", "warn,imgserver::startup=info", None);
    let res = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let lines = server.stop();
    assert!(
        !lines.iter().any(|l| l.contains("\"access\"")),
        "{}",
        lines.join("\n")
    );
}
