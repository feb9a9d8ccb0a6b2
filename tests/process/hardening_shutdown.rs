//! Graceful shutdown of the real binary: on SIGTERM it stops accepting, finishes the request in
//! flight, exits 0, and leaves no temporary file in the cache folder.

mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{decode, fixtures_dir, shared_samples};

/// The running binary; killed if the test fails before it exits by itself.
struct Server {
    child: Option<Child>,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the binary on a free port and learns the port from its (JSON) log.
fn start(root: &Path, cache: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imgserver"))
        .args(["--port", "0", "--imagesdir"])
        .arg(root)
        .arg("--cachedir")
        .arg(cache)
        .env("IMGSERVER__SERVER__SHUTDOWN_TIMEOUT", "60s")
        .env("IMGSERVER__LIMITS__RENDER_TIMEOUT", "60s")
        .env("IMGSERVER__LOG__LEVEL", "info")
        .env("IMGSERVER__LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut server = Server {
        child: Some(child),
        port: 0,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the log to its end, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("\"port\":") {
                let digits: String = line[at + 7..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                let _ = tx.send(digits.parse::<u16>().unwrap());
            }
        }
    });
    server.port = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server logs the port it listens on");
    server
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

fn sigterm(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
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
    std::fs::copy(
        shared_samples().join("kleiber-20mp.jpg"),
        root.path().join("big.jpg"),
    )
    .unwrap();
    std::fs::copy(
        fixtures_dir().join("storm.jpg"),
        root.path().join("storm.jpg"),
    )
    .unwrap();
    let mut server = start(root.path(), cache.path());
    let port = server.port;
    let base = format!("http://127.0.0.1:{port}");
    let client = support::client_builder()
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
    sigterm(server.child.as_ref().unwrap());

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

    let mut child = server.child.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(temp_files(cache.path()), Vec::<String>::new());
}
