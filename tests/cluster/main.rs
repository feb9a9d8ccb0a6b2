//! Scaling out, as deployed: three imgserver instances (the real binary with
//! `deploy/cluster/instance.toml`, each over its own git2 clone of one bare "remote", with its own
//! cache folder and port) behind the real Nginx with `deploy/nginx/imgserver-cluster.conf`, all
//! on loopback. Checks that
//! - 200 distinct variants requested twice each through Nginx are rendered exactly once in total
//!   (sum of `imgserver_renders_total` over the instances), and that the same check fails when
//!   the upstream does not hash (the control run, round robin);
//! - a signed webhook sent to Nginx brings every instance to the new commit within 10 s, each by
//!   its own webhook (each checks the signature itself: a bad one is refused by all three); an
//!   admin pull sent to Nginx does the same; no instance serves the old image afterwards;
//! - SIGKILL of one instance in the middle of a load (with renders in flight on it) fails no
//!   request; a push announced while it is down reaches the others, and the instance catches up
//!   by polling when it comes back;
//! - each instance's peak memory and cache folder stay within their budgets.
//!
//! Ignored by plain `cargo test` (a multi-process load test): `deploy/cluster/run.sh` runs it,
//! `cargo test --test cluster -- --ignored --nocapture --test-threads=1`. Lines starting with
//! `cluster:` are the measurements quoted in the README. Every wait has a deadline, and a
//! watchdog kills every process it started (by PID) if the whole test overruns.

#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;

mod front;
mod instance;
mod load;
mod watchdog;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::client::{client_builder, error_chain};
use common::fixtures::fixtures_dir;
use common::git::{Change, Remote};
use common::images::{is_solid, png};
use common::images::{BLUE, GREEN, RED};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tempfile::TempDir;

use front::{nginx_binary, Nginx};
use instance::{Instance, ADMIN_TOKEN, MAX_DISK_BYTES, MEMORY_BYTES, WEBHOOK_SECRET};
use load::{Crowd, Want};
use watchdog::Watchdog;

const INSTANCES: usize = 3;
const VARIANTS: u32 = 200;
/// Peak resident memory allowed per instance: the memory tier's budget (8 MiB), two renders of
/// a 1920x1280 JPEG at once, and the process itself (a debug build).
const PEAK_RSS_BOUND: u64 = 128 << 20;
/// Temporary files of renders being written may briefly exceed the disk budget.
const DISK_SLACK: u64 = 512 << 10;
const SYNC_DEADLINE: Duration = Duration::from_secs(10);

struct Cluster {
    // Field order is drop order: processes stop before their folders go.
    nginx: Nginx,
    instances: Vec<Instance>,
    remote: Remote,
    home: TempDir,
    checkouts: Vec<TempDir>,
    watchdog: Watchdog,
    /// Operators and the forge: 127.0.0.1, which the cluster file lets into /admin/ and /hooks/.
    operator: reqwest::Client,
}

impl Cluster {
    fn start(hashing: bool) -> Option<Cluster> {
        let nginx_binary = nginx_binary()?;
        let watchdog = Watchdog::start(Duration::from_secs(240));
        let remote = Remote::new();
        watchdog.track_dir(remote.dir.path().to_path_buf());
        let fixture =
            |name: &str| std::fs::read(fixtures_dir().join(name)).expect("a fixture image");
        remote.commit(&[
            Change::Put("cats/default.jpg", fixture("cats/default.jpg")),
            Change::Put("cats/kitten.png", fixture("cats/kitten.png")),
            Change::Put("sync/flag.png", png(64, 64, RED)),
        ]);
        let home = tempfile::tempdir().unwrap();
        watchdog.track_dir(home.path().to_path_buf());
        let mut checkouts = Vec::new();
        let mut instances = Vec::new();
        for n in 1..=INSTANCES {
            let checkout = common::git::clone(&remote);
            watchdog.track_dir(checkout.path().to_path_buf());
            instances.push(Instance::start(
                &format!("instance {n}"),
                &home.path().join(format!("instance-{n}")),
                checkout.path(),
                0,
                &[],
                &watchdog,
            ));
            checkouts.push(checkout);
        }
        let addresses: Vec<String> = instances.iter().map(Instance::addr).collect();
        let nginx = Nginx::start(&nginx_binary, home.path(), &addresses, hashing, &watchdog);
        let operator = client_builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 1]))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Some(Cluster {
            nginx,
            instances,
            remote,
            home,
            checkouts,
            watchdog,
            operator,
        })
    }

    fn base(&self) -> String {
        self.nginx.url("")
    }

    async fn scrape(&self, instance: &Instance) -> String {
        let res = self
            .operator
            .get(instance.url("/metrics"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} /metrics: {}", instance.name, error_chain(&e)));
        assert_eq!(res.status(), 200, "{} /metrics", instance.name);
        res.text().await.unwrap()
    }

    /// Renders started by each instance since it started.
    async fn renders(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for instance in &self.instances {
            let text = self.scrape(instance).await;
            out.push(sample(&text, "imgserver_renders_total") as u64);
        }
        out
    }

    async fn git_status(&self, instance: &Instance) -> Value {
        let res = self
            .operator
            .get(instance.url("/admin/git/status"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{} /admin/git/status", instance.name);
        res.json().await.unwrap()
    }

    /// Waits until the instances numbered `which` (0-based) serve `commit` (read from their
    /// metrics, which are not rate-limited like the admin API); returns how long the last one
    /// took. Then checks, once per instance, that `GET /admin/git/status` says so too and that
    /// `trigger` brought it there.
    async fn wait_on(
        &self,
        which: &[usize],
        commit: &str,
        trigger: &str,
        since: Instant,
    ) -> Duration {
        let deadline = since + SYNC_DEADLINE;
        let mut waiting: Vec<&Instance> = which.iter().map(|n| &self.instances[*n]).collect();
        let mut last = Duration::ZERO;
        while !waiting.is_empty() {
            let mut still = Vec::new();
            for instance in waiting {
                if served_commit(&self.scrape(instance).await).as_deref() == Some(commit) {
                    last = since.elapsed();
                } else {
                    still.push(instance);
                }
            }
            waiting = still;
            if !waiting.is_empty() {
                let names: Vec<&str> = waiting.iter().map(|i| i.name.as_str()).collect();
                assert!(
                    Instant::now() < deadline,
                    "not on {commit} within {SYNC_DEADLINE:?}: {names:?}"
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        for n in which {
            let instance = &self.instances[*n];
            let status = self.git_status(instance).await;
            assert_eq!(status["commit"], commit, "{}: {status}", instance.name);
            assert_eq!(
                status["last_sync"]["trigger"], trigger,
                "{} got there by its own {trigger}: {status}",
                instance.name
            );
        }
        last
    }

    /// A GitHub push webhook sent to Nginx, signed with `secret`.
    async fn webhook(&self, secret: &str) -> reqwest::Response {
        let body = r#"{"ref":"refs/heads/main","after":"0000000","repository":{"name":"images"}}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        self.operator
            .post(self.nginx.url("/hooks/git"))
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "push")
            .header("X-Hub-Signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The flag image at several widths through Nginx (the hash spreads them over the
    /// instances): whether every one of them is solid `rgb`.
    async fn flags_are(&self, crowd: &Crowd, rgb: [u8; 3]) -> bool {
        let mut all = true;
        for width in (8..=40).step_by(2) {
            let want = Want::variant("sync/flag.png", width, "png");
            let body = crowd
                .fetch(width as usize, &self.base(), &want)
                .await
                .unwrap();
            all &= is_solid(&body, rgb);
        }
        all
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.watchdog.finish();
    }
}

/// The value of an unlabelled sample in a Prometheus exposition.
fn sample(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// The value of the sample of `name` whose labels include `label` (`tier="memory"`).
fn labelled(exposition: &str, name: &str, label: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {name}{{{label}}} in the metrics"))
}

/// The `commit` label of `imgserver_source_info`.
fn served_commit(exposition: &str) -> Option<String> {
    let line = exposition
        .lines()
        .find(|l| l.starts_with("imgserver_source_info{"))?;
    let rest = &line[line.find("commit=\"")? + "commit=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// 200 distinct variants, each requested twice in a row by one client, 8 clients at a time;
/// returns the renders each instance did meanwhile.
async fn each_variant_twice(cluster: &Cluster, crowd: &Crowd) -> Vec<u64> {
    let before = cluster.renders().await;
    let jobs: Vec<Vec<Want>> = (0..VARIANTS)
        .map(|i| {
            let fmt = if i % 2 == 0 { "jpeg" } else { "webp" };
            let want = Want::variant("cats/default.jpg", 60 + i, fmt);
            vec![want.clone(), want]
        })
        .collect();
    let (failures, _) = crowd.run(&cluster.base(), jobs, 8, Arc::default()).await;
    assert!(failures.is_empty(), "failed requests: {failures:#?}");
    let after = cluster.renders().await;
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process load test: run by deploy/cluster/run.sh"]
async fn three_instances_behind_nginx() {
    let Some(mut cluster) = Cluster::start(true) else {
        return;
    };
    let crowd = Crowd::new();
    let mut report: Vec<String> = Vec::new();

    // The admin API, webhooks, metrics and the fan-out locations are closed to other addresses.
    let outsider = client_builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    for (path, status) in [
        ("/admin/git/pull", 403),
        ("/cmd/gitupdate", 403),
        ("/hooks/git", 403),
        ("/metrics", 403),
        ("/_imgserver_instance/2", 404),
    ] {
        let res = outsider.post(cluster.nginx.url(path)).send().await.unwrap();
        assert_eq!(res.status(), status, "{path} from an outside address");
    }

    // 1. One render per variant in the whole cluster.
    let renders = each_variant_twice(&cluster, &crowd).await;
    let total: u64 = renders.iter().sum();
    assert_eq!(
        total,
        u64::from(VARIANTS),
        "{VARIANTS} variants requested twice each: renders per instance {renders:?}"
    );
    assert!(
        renders.iter().all(|r| *r > 0),
        "the hash spreads variants over every instance: {renders:?}"
    );
    report.push(format!(
        "{VARIANTS} variants x 2 requests -> {total} renders in total (per instance {renders:?})"
    ));

    // 2. Webhook fan-out. A bad signature is refused by every instance (each checks its copy).
    assert!(cluster.flags_are(&crowd, RED).await);
    let res = cluster.webhook("not-the-secret").await;
    assert_eq!(
        res.status(),
        401,
        "the first instance's answer reaches the forge"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    for instance in &cluster.instances {
        while instance.log_lines_with(&["hooks.git", "\"status\":401"]) == 0 {
            assert!(
                Instant::now() < deadline,
                "{} never saw the mirrored webhook",
                instance.name
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let pushed = cluster
        .remote
        .commit(&[Change::Put("sync/flag.png", png(64, 64, BLUE))])
        .to_string();
    let sent = Instant::now();
    let res = cluster.webhook(WEBHOOK_SECRET).await;
    assert_eq!(res.status(), 202);
    let took = cluster.wait_on(&[0, 1, 2], &pushed, "webhook", sent).await;
    assert!(
        cluster.flags_are(&crowd, BLUE).await,
        "no instance serves the old image after the sync"
    );
    report.push(format!(
        "webhook to Nginx -> 3/3 instances on the new commit after {} ms",
        took.as_millis()
    ));

    // 3. Admin fan-out: a pull sent to Nginx runs on every instance.
    let pushed = cluster
        .remote
        .commit(&[Change::Put("sync/flag.png", png(64, 64, GREEN))])
        .to_string();
    let sent = Instant::now();
    let res = cluster
        .operator
        .post(cluster.nginx.url("/admin/git/pull"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["to"], pushed.as_str(), "{answer}");
    let took = cluster.wait_on(&[0, 1, 2], &pushed, "admin", sent).await;
    assert!(cluster.flags_are(&crowd, GREEN).await);
    report.push(format!(
        "admin pull to Nginx -> 3/3 instances on the new commit after {} ms",
        took.as_millis()
    ));

    // 4. SIGKILL of instance 1 (also the first of the webhook upstream) in the middle of a load,
    // with renders in flight on it.
    let jobs: Vec<Vec<Want>> = {
        let distinct: Vec<Want> = (0..300)
            .map(|i| {
                // PNG too: big bodies, so the load exceeds the memory budget.
                let fmt = ["jpeg", "webp", "png"][i as usize % 3];
                Want::variant("cats/kitten.png", 180 + i, fmt)
            })
            .collect();
        let again = distinct.iter().rev().cloned();
        distinct
            .iter()
            .cloned()
            .chain(again)
            .map(|w| vec![w])
            .collect()
    };
    let requests = jobs.len();
    let load_started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let load = {
        let (crowd, base, done) = (crowd.clone(), cluster.base(), done.clone());
        tokio::spawn(async move { crowd.run(&base, jobs, 12, done).await })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Ordering::SeqCst) < requests / 5 {
        assert!(Instant::now() < deadline, "the load does not progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let victim = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut in_flight = 0.0;
    while Instant::now() < deadline {
        let text = cluster.scrape(&cluster.instances[victim]).await;
        in_flight = sample(&text, "imgserver_render_queue_depth");
        if in_flight > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let victim_peak_rss = cluster.instances[victim].peak_rss();
    let victim_addr = cluster.instances[victim].addr();
    let victim_port = cluster.instances[victim].port;
    cluster.instances[victim].kill();
    let killed_after = done.load(Ordering::SeqCst);
    let (failures, received) = load.await.unwrap();
    let load_took = load_started.elapsed();
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed after SIGKILL: {failures:#?}",
        failures.len()
    );
    let kittens = cluster
        .nginx
        .wait_accesses(requests, |a| a.uri.starts_with("/img/cats/kitten.png"));
    assert!(kittens.iter().all(|a| a.status == 200));
    let retried: Vec<_> = kittens
        .iter()
        .filter(|a| a.upstreams.len() > 1 && a.upstreams[0] == victim_addr)
        .collect();
    assert!(
        !retried.is_empty(),
        "some requests went to the killed instance and on to another one"
    );
    assert!(retried
        .iter()
        .all(|a| a.upstream_statuses.last().unwrap() == "200"));
    report.push(format!(
        "SIGKILL of 1 instance after {killed_after}/{requests} responses, {in_flight} renders \
         in flight on it: 0 failed requests, {} passed on to another instance by Nginx \
         ({:.1} s for the {requests})",
        retried.len(),
        load_took.as_secs_f64()
    ));

    // 5. A push announced while instance 1 is down reaches the others (the webhook goes to the
    // next instance); instance 1, back on its port, catches up at its first poll.
    let pushed = cluster
        .remote
        .commit(&[Change::Put("sync/late.png", png(16, 16, BLUE))])
        .to_string();
    let sent = Instant::now();
    let res = cluster.webhook(WEBHOOK_SECRET).await;
    assert_eq!(res.status(), 202, "answered by the next instance");
    cluster.wait_on(&[1, 2], &pushed, "webhook", sent).await;
    let back = Instance::start(
        "instance 1 (restarted)",
        &cluster.home.path().join("instance-1"),
        cluster.checkouts[victim].path(),
        victim_port,
        &[("IMGSERVER__SOURCE__GIT__SYNC_INTERVAL", "1s")],
        &cluster.watchdog,
    );
    cluster.instances[victim] = back;
    let restarted = Instant::now();
    let took = cluster
        .wait_on(&[victim], &pushed, "interval", restarted)
        .await;
    let remote_head = cluster.remote.head().unwrap().to_string();
    assert_eq!(pushed, remote_head);
    report.push(format!(
        "push while 1 instance was down: the 2 others on it by webhook; the restarted one by \
         its poll ({} ms after restart, sync_interval 1s)",
        took.as_millis()
    ));

    // 6. Budgets. The load above sent each instance more variant bytes than its memory tier
    // may hold.
    let per_instance = received / 2 / INSTANCES as u64;
    assert!(
        per_instance > MEMORY_BYTES,
        "the load ({}) should exceed the memory budget ({})",
        mib(per_instance),
        mib(MEMORY_BYTES)
    );
    let mut held = Vec::new();
    for instance in &cluster.instances[1..] {
        let text = cluster.scrape(instance).await;
        let bytes = labelled(&text, "imgserver_cache_bytes", "tier=\"memory\"");
        let budget = labelled(&text, "imgserver_cache_capacity_bytes", "tier=\"memory\"");
        assert_eq!(budget as u64, MEMORY_BYTES);
        assert!(
            bytes as u64 <= MEMORY_BYTES,
            "{}: memory tier holds {} over its budget {}",
            instance.name,
            mib(bytes as u64),
            mib(MEMORY_BYTES)
        );
        held.push(mib(bytes as u64));
    }
    let mut peaks = vec![victim_peak_rss];
    peaks.extend(cluster.instances[1..].iter().map(Instance::peak_rss));
    let disks: Vec<u64> = cluster.instances.iter().map(Instance::disk_bytes).collect();
    for (n, peak) in peaks.iter().enumerate() {
        assert!(
            *peak <= PEAK_RSS_BOUND,
            "instance {}: peak RSS {} over {}",
            n + 1,
            mib(*peak),
            mib(PEAK_RSS_BOUND)
        );
    }
    for (n, disk) in disks.iter().enumerate() {
        assert!(
            *disk <= MAX_DISK_BYTES + DISK_SLACK,
            "instance {}: cache folder {} over its budget {}",
            n + 1,
            mib(*disk),
            mib(MAX_DISK_BYTES)
        );
    }
    let list = |values: &[u64]| {
        values
            .iter()
            .map(|v| mib(*v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    report.push(format!(
        "distinct variant bytes per instance ~{}; memory tier of instances 2, 3: {} (budget {}); \
         peak RSS per instance {} (bound {}); cache folder per instance {} (budget {})",
        mib(per_instance),
        held.join(", "),
        mib(MEMORY_BYTES),
        list(&peaks),
        mib(PEAK_RSS_BOUND),
        list(&disks),
        mib(MAX_DISK_BYTES)
    ));
    for line in report {
        println!("cluster: {line}");
    }
}

/// The control run: with round robin instead of the hash, the render check above must fail,
/// or it proves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process load test: run by deploy/cluster/run.sh"]
async fn round_robin_would_render_variants_again() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let renders = each_variant_twice(&cluster, &Crowd::new()).await;
    let total: u64 = renders.iter().sum();
    assert!(
        total > u64::from(VARIANTS),
        "without the hash, repeats land on other instances and render again: {renders:?}"
    );
    println!(
        "cluster: control run, round robin: {VARIANTS} variants x 2 requests -> {total} renders \
         (per instance {renders:?})"
    );
}
