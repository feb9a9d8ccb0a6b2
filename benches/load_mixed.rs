//! Mixed-workload load test of the real binary, with a size-sweep attack beside it.
//!
//! `cargo bench --bench load_mixed -- [--connections 64] [--duration 30] [--attackers 8]
//! [--attack-ips 1] [--attack-avif] [--users 4096] [--no-limits] [--json FILE]`
//!
//! Starts the release binary over the four images of the peers' workload C (copied from
//! `tests/fixtures/samples` into a temp dir), warms the 20 popular variants, then for `--duration`
//! seconds runs:
//! - the users: `--connections` keep-alive connections from 127.0.0.1, a trusted proxy, as behind
//!   Nginx; each request forwards for one of `--users` client addresses picked at random
//!   (`X-Forwarded-For: 10.x.y.z`), since a proxy multiplexes many users over few upstream
//!   connections (`--users 0`: no forwarding, every request is 127.0.0.1's own);
//!   90 % of their requests pick one of the 20 popular variants (4 images x {320, 640, 960 webp;
//!   480, 1280 jpeg}), 10 % a distinct one (odd widths 301..1299 x 4 images x jpeg/webp, never
//!   repeated within a run) — the same mix as `benches/mixed.lua` (workload C);
//! - the attacker: `--attackers` connections from 127.0.0.2 (and up to 127.0.0.(1+attack-ips)),
//!   untrusted, sweeping `w=300, 301, 302, ...` on the 12 MP image to WebP as fast as answered,
//!   with a spoofed `X-Forwarded-For` that must change nothing; with `--attack-avif`, the
//!   heaviest renders a client may ask for instead: the 12 MP image stretched to square AVIF at
//!   q=95, sweeping sizes up to the default `images.max_avif_pixels` (and just past it).
//!
//! It reports per class (popular/distinct/attack, and users' responses by cache result)
//! throughput, p50/p90/p99/max latency, statuses and error codes, plus the server's peak RSS
//! (VmHWM) and CPU seconds. Traffic goes to 127.0.0.x only; everything stops by itself.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;

const MAX_CONNECTIONS: usize = 512;
const MAX_DURATION_S: u64 = 300;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The images of the peers' workload C: (name served, file in tests/fixtures/samples).
const IMAGES: [(&str, &str); 4] = [
    ("k12.jpg", "kleiber-12mp.jpg"),
    ("storm.jpg", "storm.jpg"),
    ("prog12.jpg", "elephants-12mp-progressive.jpg"),
    ("focal.png", "focal.png"),
];
const POPULAR: [(u32, &str); 5] = [
    (320, "webp"),
    (640, "webp"),
    (960, "webp"),
    (480, "jpeg"),
    (1280, "jpeg"),
];
const DISTINCT_KEYS: u64 = 4000;

struct Options {
    connections: usize,
    duration: Duration,
    attackers: usize,
    attack_ips: u8,
    attack_avif: bool,
    limits: bool,
    users: u32,
    json: Option<PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        connections: 64,
        duration: Duration::from_secs(30),
        attackers: 8,
        attack_ips: 1,
        attack_avif: false,
        limits: true,
        users: 4096,
        json: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{what} needs a number"))
        };
        match arg.as_str() {
            "--connections" => o.connections = number("--connections") as usize,
            "--duration" => o.duration = Duration::from_secs(number("--duration")),
            "--attackers" => o.attackers = number("--attackers") as usize,
            "--attack-ips" => o.attack_ips = number("--attack-ips").clamp(1, 200) as u8,
            "--attack-avif" => o.attack_avif = true,
            "--no-limits" => o.limits = false,
            "--users" => o.users = number("--users").min(1 << 24) as u32,
            "--json" => o.json = args.next().map(PathBuf::from),
            // `cargo bench` passes --bench; filters do not apply.
            _ => {}
        }
    }
    o.connections = o.connections.clamp(1, MAX_CONNECTIONS);
    o.attackers = o.attackers.min(MAX_CONNECTIONS);
    o.duration = o.duration.min(Duration::from_secs(MAX_DURATION_S));
    o
}

/// The samples in the repository (`tests/fixtures/samples/`), or `$IMGSERVER_SAMPLES`.
fn samples_dir() -> PathBuf {
    match std::env::var_os("IMGSERVER_SAMPLES") {
        Some(dir) => dir.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samples"),
    }
}

/// The server under test, stopped (SIGTERM, then kill) when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(work: &Path, limits: bool) -> Server {
        let images = work.join("images");
        std::fs::create_dir_all(&images).unwrap();
        for (name, file) in IMAGES {
            std::fs::copy(samples_dir().join(file), images.join(name))
                .unwrap_or_else(|e| panic!("copying {file}: {e}"));
        }
        let limits = if limits {
            "" // the defaults: 10 renders/s (burst 50) and 1000 requests/s per client
        } else {
            "per_ip_per_second = 0\nhit_per_ip_per_second = 0\n"
        };
        let config = work.join("imgserver.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nbind = \"127.0.0.1\"\nport = 0\n\n[source]\ndir = \"{}\"\n\n\
                 [cache]\ndir = \"{}\"\n\n[limits]\n{limits}\n[log]\n\
                 level = \"warn,imgserver::startup=info\"\nformat = \"json\"\n",
                images.display(),
                work.join("cache").display()
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_imgserver"))
            .arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("\"port\":") {
                    let digits: String = line[at + 7..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let _ = tx.send(digits.parse::<u16>().unwrap_or(0));
                } else {
                    eprintln!("server: {line}");
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server reports its port");
        Server { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident memory (VmHWM) and CPU seconds of a process, from /proc.
fn proc_usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (hwm_kib * 1024, (ticks(11) + ticks(12)) as f64 / hz)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Popular,
    Distinct,
    Attack,
}

#[derive(Debug, Clone)]
struct Record {
    class: Class,
    status: u16,
    cache: &'static str,
    code: Option<String>,
    latency: Duration,
    /// Completed after the run's deadline (left out of the figures, like wrk does).
    late: bool,
}

struct Reply {
    status: u16,
    cache: &'static str,
    code: Option<String>,
    close: bool,
}

/// One keep-alive HTTP/1.1 connection from a chosen loopback address.
struct Conn {
    reader: AsyncBufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    body: Vec<u8>,
}

impl Conn {
    async fn open(from: Ipv4Addr, port: u16) -> std::io::Result<Conn> {
        assert!(from.is_loopback(), "load only from loopback");
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
        let stream = socket
            .connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        Ok(Conn {
            reader: AsyncBufReader::with_capacity(64 * 1024, r),
            writer: w,
            body: Vec::with_capacity(256 * 1024),
        })
    }

    async fn get(&mut self, path: &str, forwarded_for: Option<&str>) -> std::io::Result<Reply> {
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: image/webp,*/*\r\nUser-Agent: load_mixed\r\n"
        );
        if let Some(xff) = forwarded_for {
            head.push_str(&format!("X-Forwarded-For: {xff}\r\n"));
        }
        head.push_str("\r\n");
        self.writer.write_all(head.as_bytes()).await?;
        let mut line = String::new();
        let eof = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed");
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(eof());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(eof)?;
        let (mut length, mut cache, mut close) = (0usize, "-", false);
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                return Err(eof());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((name, value)) = l.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "x-cache" => {
                    cache = match value {
                        "hit-memory" => "hit-memory",
                        "hit-disk" => "hit-disk",
                        "miss" => "miss",
                        "bypass" => "bypass",
                        _ => "other",
                    }
                }
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body).await?;
        let code = (status >= 400).then(|| {
            let text = String::from_utf8_lossy(&self.body);
            text.split("\"code\":\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("?")
                .to_string()
        });
        Ok(Reply {
            status,
            cache,
            code,
            close,
        })
    }
}

fn fill(file: &str, w: u32, fmt: &str) -> String {
    format!("/img/{file}?w={w}&fmt={fmt}")
}

fn popular_paths() -> Vec<String> {
    IMAGES
        .iter()
        .flat_map(|(file, _)| POPULAR.iter().map(move |(w, fmt)| fill(file, *w, fmt)))
        .collect()
}

/// The k-th distinct variant of the run (4000 keys from a per-run offset).
fn distinct_path(seed: u64, k: u64) -> String {
    let k = (seed + k) % DISTINCT_KEYS;
    let file = IMAGES[(k % 4) as usize].0;
    let fmt = if (k / 4) % 2 == 0 { "jpeg" } else { "webp" };
    let w = 301 + 2 * ((k / 8) % 500) as u32;
    fill(file, w, fmt)
}

/// A tiny xorshift, so the client spends nothing on randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Shared {
    port: u16,
    deadline: Instant,
    popular: Vec<String>,
    seed: u64,
    next_distinct: AtomicU64,
    next_sweep: AtomicU64,
    attack_avif: bool,
}

async fn user(shared: Arc<Shared>, index: usize, users: u32) -> Vec<Record> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) * 0x1000_0001));
    let mut records = Vec::with_capacity(64 * 1024);
    let mut conn = None;
    while Instant::now() < shared.deadline {
        let (class, path) = if rng.next() % 100 < 90 {
            let i = (rng.next() % shared.popular.len() as u64) as usize;
            (Class::Popular, shared.popular[i].clone())
        } else {
            let k = shared.next_distinct.fetch_add(1, Ordering::Relaxed);
            (Class::Distinct, distinct_path(shared.seed, k))
        };
        let xff = (users > 0).then(|| {
            let n = (rng.next() % u64::from(users)) as u32;
            Ipv4Addr::from(0x0A00_0000 | n).to_string()
        });
        let from = Ipv4Addr::LOCALHOST;
        records.push(one(&shared, &mut conn, from, class, &path, xff.as_deref()).await);
    }
    records
}

async fn attacker(shared: Arc<Shared>, from: Ipv4Addr) -> Vec<Record> {
    let mut records = Vec::with_capacity(64 * 1024);
    let mut conn = None;
    while Instant::now() < shared.deadline {
        let n = shared.next_sweep.fetch_add(1, Ordering::Relaxed);
        let path = if shared.attack_avif {
            // Square sides 800..909 px, 0.64-0.83 MP of AVIF at q=95: up to the default
            // images.max_avif_pixels (800 000), the last few past it (400).
            let side = 800 + n % 110;
            format!("/img/k12.jpg?w={side}&h={side}&fit=fill&enlarge=1&fmt=avif&q=95")
        } else {
            format!("/img/k12.jpg?w={}&fmt=webp", 300 + n % 3700)
        };
        // The spoofed header must not buy the attacker a fresh allowance.
        let spoof = format!("192.0.2.{}", n % 250);
        records.push(one(&shared, &mut conn, from, Class::Attack, &path, Some(&spoof)).await);
    }
    records
}

/// Sends one request on `conn` (reconnecting when needed) and records its outcome.
async fn one(
    shared: &Shared,
    conn: &mut Option<Conn>,
    from: Ipv4Addr,
    class: Class,
    path: &str,
    xff: Option<&str>,
) -> Record {
    let started = Instant::now();
    let outcome = tokio::time::timeout(REQUEST_TIMEOUT, async {
        if conn.is_none() {
            *conn = Some(Conn::open(from, shared.port).await?);
        }
        conn.as_mut().unwrap().get(path, xff).await
    })
    .await;
    let latency = started.elapsed();
    let late = Instant::now() > shared.deadline;
    match outcome {
        Ok(Ok(reply)) => {
            if reply.close {
                *conn = None;
            }
            Record {
                class,
                status: reply.status,
                cache: reply.cache,
                code: reply.code,
                latency,
                late,
            }
        }
        Ok(Err(e)) => {
            *conn = None;
            Record {
                class,
                status: 0,
                cache: "-",
                code: Some(format!("socket: {}", e.kind())),
                latency,
                late,
            }
        }
        Err(_) => {
            *conn = None;
            Record {
                class,
                status: 0,
                cache: "-",
                code: Some("client timeout".into()),
                latency,
                late,
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn summarize(name: &str, records: &[&Record], seconds: f64) -> serde_json::Value {
    let mut ok: Vec<Duration> = records
        .iter()
        .filter(|r| r.status != 0)
        .map(|r| r.latency)
        .collect();
    ok.sort_unstable();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for r in records {
        let key = match &r.code {
            Some(code) => format!("{} {code}", r.status),
            None => r.status.to_string(),
        };
        *statuses.entry(key).or_default() += 1;
    }
    let line = serde_json::json!({
        "class": name,
        "requests": records.len(),
        "req_s": records.len() as f64 / seconds,
        "p50_ms": percentile(&ok, 50.0),
        "p90_ms": percentile(&ok, 90.0),
        "p99_ms": percentile(&ok, 99.0),
        "max_ms": ok.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        "statuses": statuses,
    });
    println!(
        "{name:<22} {:>8} req {:>9.1} req/s  p50 {:>8.2}  p90 {:>8.2}  p99 {:>8.2}  max {:>8.1} ms  {}",
        records.len(),
        records.len() as f64 / seconds,
        percentile(&ok, 50.0),
        percentile(&ok, 90.0),
        percentile(&ok, 99.0),
        ok.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        serde_json::to_string(&line["statuses"]).unwrap()
    );
    line
}

fn main() {
    let o = options();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(work.path(), o.limits);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % DISTINCT_KEYS;
    let popular = popular_paths();

    // Warm the popular variants (as workload C does), from an address of their own.
    runtime.block_on(async {
        let mut conn = Conn::open(Ipv4Addr::new(127, 0, 0, 250), server.port)
            .await
            .unwrap();
        for path in &popular {
            let reply = conn.get(path, None).await.unwrap();
            assert_eq!(reply.status, 200, "warming {path}: {:?}", reply.code);
        }
    });
    let (warm_rss, warm_cpu) = proc_usage(server.pid());

    let shared = Arc::new(Shared {
        port: server.port,
        deadline: Instant::now() + o.duration,
        popular,
        seed,
        next_distinct: AtomicU64::new(0),
        next_sweep: AtomicU64::new(0),
        attack_avif: o.attack_avif,
    });
    let started = Instant::now();
    let records: Vec<Record> = runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..o.connections {
            tasks.push(tokio::spawn(user(shared.clone(), i, o.users)));
        }
        for i in 0..o.attackers {
            let from = Ipv4Addr::new(127, 0, 0, 2 + (i % o.attack_ips as usize) as u8);
            tasks.push(tokio::spawn(attacker(shared.clone(), from)));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let seconds = o.duration.as_secs_f64();
    let (peak_rss, cpu) = proc_usage(server.pid());
    let late = records.iter().filter(|r| r.late).count();
    let records: Vec<Record> = records.into_iter().filter(|r| !r.late).collect();
    let drained = started.elapsed().as_secs_f64() - seconds;
    drop(server);

    println!(
        "\nload_mixed: {} user connections ({}), {} attack connections from {} address(es), {:.1} s, limits {}",
        o.connections,
        if o.users > 0 {
            format!("127.0.0.1 forwarding for {} users", o.users)
        } else {
            "direct from 127.0.0.1".to_string()
        },
        o.attackers,
        o.attack_ips,
        seconds,
        if o.limits { "on (defaults)" } else { "off" }
    );
    let by =
        |f: &dyn Fn(&Record) -> bool| -> Vec<&Record> { records.iter().filter(|r| f(r)).collect() };
    let users = by(&|r| r.class != Class::Attack);
    let classes = vec![
        summarize("users (all)", &users, seconds),
        summarize(
            "users popular",
            &by(&|r| r.class == Class::Popular),
            seconds,
        ),
        summarize(
            "users distinct",
            &by(&|r| r.class == Class::Distinct),
            seconds,
        ),
        summarize(
            "users cache hits",
            &by(&|r| r.class != Class::Attack && r.cache.starts_with("hit")),
            seconds,
        ),
        summarize(
            "users renders",
            &by(&|r| r.class != Class::Attack && r.cache == "miss"),
            seconds,
        ),
        summarize("attack", &by(&|r| r.class == Class::Attack), seconds),
    ];
    let unintended_5xx = records
        .iter()
        .filter(|r| r.status >= 500)
        .filter(|r| !matches!(r.code.as_deref(), Some("overloaded" | "render_timeout")))
        .count();
    let socket_errors = records.iter().filter(|r| r.status == 0).count();
    println!(
        "server peak RSS {:.1} MiB (after warm-up {:.1} MiB), CPU {:.1} s during the run; \
         unintended 5xx {unintended_5xx}, socket errors/timeouts {socket_errors}; \
         {late} requests completed in the {drained:.1} s after the deadline (not counted)",
        peak_rss as f64 / 1048576.0,
        warm_rss as f64 / 1048576.0,
        cpu - warm_cpu
    );
    let report = serde_json::json!({
        "connections": o.connections,
        "attackers": o.attackers,
        "attack_ips": o.attack_ips,
        "attack_avif": o.attack_avif,
        "limits": o.limits,
        "users": o.users,
        "seconds": seconds,
        "peak_rss_bytes": peak_rss,
        "server_cpu_s": cpu - warm_cpu,
        "unintended_5xx": unintended_5xx,
        "socket_errors": socket_errors,
        "late_requests": late,
        "classes": classes,
    });
    println!("LOAD_MIXED_JSON {report}");
    if let Some(path) = o.json {
        std::fs::write(path, format!("{report}\n")).unwrap();
    }
}
