//! Graceful shutdown of the real binary: on SIGTERM it stops accepting, finishes the request in
//! flight, exits 0, and leaves no temporary file in the cache folder.

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::client::client_builder;
use crate::common::fixtures::{big_jpeg, fixtures_dir};
use crate::common::images::decode;
use crate::common::process::{command, ImgserverProcess};

/// Starts the binary on a free port (its log in JSON).
fn start(root: &Path, cache: &Path) -> ImgserverProcess {
    let mut cmd = command();
    cmd.args(["--port", "0", "--imagesdir"])
        .arg(root)
        .arg("--cachedir")
        .arg(cache)
        .env("IMGSERVER__SERVER__SHUTDOWN_TIMEOUT", "60s")
        .env("IMGSERVER__LIMITS__RENDER_TIMEOUT", "60s")
        .env("IMGSERVER__LOG__LEVEL", "info")
        .env("IMGSERVER__LOG__FORMAT", "json");
    ImgserverProcess::spawn(cmd)
}

/// Renders running or queued, from the server's metrics.
async fn render_queue_depth(client: &reqwest::Client, base: &str) -> f64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("imgserver_render_queue_depth "))
        .expect("the render queue gauge")
        .trim()
        .parse()
        .unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(temp_files(&entry.path()));
        } else if name.starts_with('.') || name.to_ascii_lowercase().contains("tmp") {
            found.push(name);
        }
    }
    found
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    let root = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::copy(big_jpeg(), root.path().join("big.jpg")).unwrap();
    std::fs::copy(
        fixtures_dir().join("storm.jpg"),
        root.path().join("storm.jpg"),
    )
    .unwrap();
    let mut server = start(root.path(), cache.path());
    let port = server.port;
    let base = format!("http://127.0.0.1:{port}");
    let client = client_builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    assert_eq!(
        client
            .get(format!("{base}/img/storm.jpg?w=50"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A render of a second or more, in flight when the signal comes.
    let slow = tokio::spawn(client.get(format!("{base}/img/big.jpg?w=3000")).send());
    // The signal must come while the render runs: wait until the server says it has started
    // (not a fixed sleep, which a loaded machine can overrun before the request is even sent).
    let started = Instant::now();
    while render_queue_depth(&client, &base).await == 0.0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the slow render never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!slow.is_finished(), "the request must still be in flight");
    server.sigterm();

    // Stops accepting soon after the signal.
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let res = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(res.status(), 200);
    assert_eq!(decode(&res.bytes().await.unwrap()).1, 3000);

    let status = server.exit_status().await;
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(temp_files(cache.path()), Vec::<String>::new());
}
