//! Client load through Nginx: many clients, each from its own loopback address (127.0.1.x), so
//! per-client rate limits (Nginx's and imgserver's) see a crowd of users, not one flooding IP.
//! Every response is checked: status 200, the format asked for, and the width asked for read
//! from the image header of a body received in full.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub const CLIENT_ADDRESSES: u8 = 64;

/// One image request and what it must return.
#[derive(Debug, Clone)]
pub struct Want {
    pub path: String,
    pub width: u32,
    pub content_type: &'static str,
}

impl Want {
    /// `/img/{source}?w={width}&fmt={fmt}`.
    pub fn variant(source: &str, width: u32, fmt: &'static str) -> Want {
        let content_type = match fmt {
            "webp" => "image/webp",
            "png" => "image/png",
            _ => "image/jpeg",
        };
        Want {
            path: format!("/img/{source}?w={width}&fmt={fmt}"),
            width,
            content_type,
        }
    }
}

#[derive(Clone)]
pub struct Crowd {
    clients: Arc<Vec<reqwest::Client>>,
}

impl Crowd {
    pub fn new() -> Crowd {
        let clients = (1..=CLIENT_ADDRESSES)
            .map(|i| {
                crate::common::client::client_builder()
                    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 1, i)))
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap()
            })
            .collect();
        Crowd {
            clients: Arc::new(clients),
        }
    }

    /// GETs `base + want.path` as client number `who`: the body, or what was wrong.
    pub async fn fetch(&self, who: usize, base: &str, want: &Want) -> Result<Bytes, String> {
        let client = &self.clients[who % self.clients.len()];
        let res = client
            .get(format!("{base}{}", want.path))
            .send()
            .await
            .map_err(|e| format!("{}: {}", want.path, crate::common::client::error_chain(&e)))?;
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = res
            .bytes()
            .await
            .map_err(|e| format!("{}: body: {e}", want.path))?;
        if status != 200 {
            return Err(format!(
                "{}: {status} {}",
                want.path,
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        if content_type != want.content_type {
            return Err(format!("{}: content-type {content_type}", want.path));
        }
        let (width, _) = image::ImageReader::new(std::io::Cursor::new(&body))
            .with_guessed_format()
            .unwrap()
            .into_dimensions()
            .map_err(|e| format!("{}: not an image: {e}", want.path))?;
        if width != want.width {
            return Err(format!("{}: width {width}", want.path));
        }
        Ok(body)
    }

    /// Runs `jobs` with `concurrency` requests at a time; each job's requests are sent one
    /// after the other by one client. `done` counts finished requests as they finish. Returns
    /// every failure, and the body bytes received.
    pub async fn run(
        &self,
        base: &str,
        jobs: Vec<Vec<Want>>,
        concurrency: usize,
        done: Arc<AtomicUsize>,
    ) -> (Vec<String>, u64) {
        let jobs = Arc::new(jobs);
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let (crowd, jobs, next, done) =
                (self.clone(), jobs.clone(), next.clone(), done.clone());
            let base = base.to_string();
            workers.push(tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut received = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else {
                        break;
                    };
                    for want in job {
                        match crowd.fetch(i, &base, want).await {
                            Ok(body) => received += body.len() as u64,
                            Err(e) => failures.push(e),
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                }
                (failures, received)
            }));
        }
        let mut failures = Vec::new();
        let mut received = 0;
        for worker in workers {
            let (f, r) = worker.await.expect("a load worker panicked");
            failures.extend(f);
            received += r;
        }
        (failures, received)
    }
}
