//! What a sync costs in a repository of the size a site's images reach: 2 000 images (4x4
//! PNGs: the objects, not the pixels, are what a sync handles) in 200 folders, 50 commits.
//! Times, against the release binary over a `file://` remote made with git2:
//! - the first clone at start (until `/readyz`), and what `source.git.depth = 1` would leave
//!   out of it (objects and bytes of the history beyond the served tree);
//! - a pull when nothing changed, and a pull of a commit changing 10 files.
//!
//! `cargo bench --bench git_pull [-- --rounds 10]`. Loopback only; stops by itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-0123456789";

fn png(seed: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, 4, 4);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&seed.repeat(16)).unwrap();
    }
    out
}

/// Commits `files` (path, bytes) on top of `main`.
fn commit(repo: &git2::Repository, files: &[(String, Vec<u8>)], tick: i64) {
    let mut index = repo.index().unwrap();
    index.clear().unwrap();
    let parent = repo
        .refname_to_id("refs/heads/main")
        .ok()
        .map(|id| repo.find_commit(id).unwrap());
    if let Some(parent) = &parent {
        index.read_tree(&parent.tree().unwrap()).unwrap();
    }
    for (path, bytes) in files {
        let entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100644,
            uid: 0,
            gid: 0,
            file_size: bytes.len() as u32,
            id: git2::Oid::ZERO_SHA1,
            flags: 0,
            flags_extended: 0,
            path: path.as_bytes().to_vec(),
        };
        index.add_frombuffer(&entry, bytes).unwrap();
    }
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new("bench", "b@example.com", &git2::Time::new(tick, 0)).unwrap();
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo
        .commit(None, &sig, &sig, "bench", &tree, &parents)
        .unwrap();
    repo.reference("refs/heads/main", oid, true, "bench")
        .unwrap();
}

fn path(folder: usize, file: usize) -> String {
    format!("f{folder:03}/img{file}.png")
}

fn big_repo(dir: &Path) -> git2::Repository {
    let mut options = git2::RepositoryInitOptions::new();
    options.bare(true).initial_head("main");
    let repo = git2::Repository::init_opts(dir.join("remote.git"), &options).unwrap();
    let all: Vec<(String, Vec<u8>)> = (0..200)
        .flat_map(|f| (0..10).map(move |i| (path(f, i), png([f as u8, i as u8 * 20, 0]))))
        .collect();
    commit(&repo, &all, 1);
    for v in 1..50 {
        let changed = vec![
            (path(v, 0), png([v as u8, 0, 1])),
            (path(v + 100, 1), png([v as u8, 1, 1])),
        ];
        commit(&repo, &changed, 1 + v as i64);
    }
    repo
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

/// The release binary over an empty folder cloning `url`, and how long until it was ready.
fn start(url: &str, depth: u32) -> (Server, tempfile::TempDir, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_imgserver"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--imagesdir")
        .arg(dir.path().join("images"))
        .arg("--cachedir")
        .arg(dir.path().join("cache"))
        .env("IMGSERVER__SOURCE__GIT__REMOTE", url)
        .env("IMGSERVER__SOURCE__GIT__DEPTH", depth.to_string())
        .env("IMGSERVER__ADMIN__TOKEN", TOKEN)
        .env("IMGSERVER__LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .spawn()
        .expect("the release binary starts");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && request(port, "GET", "/readyz").0 == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        std::thread::sleep(Duration::from_millis(5));
    }
    (server, dir, started.elapsed())
}

/// Distinct objects (commits, trees, blobs) and blob bytes reachable from `main`: in its
/// whole history, and in its tip alone (what a depth-1 clone fetches).
fn reachable(repo: &git2::Repository) -> [(usize, u64); 2] {
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    let commits: Vec<git2::Oid> = walk.map(Result::unwrap).collect();
    let count = |commits: &[git2::Oid]| {
        let mut seen = std::collections::HashSet::new();
        let mut bytes = 0u64;
        for &c in commits {
            seen.insert(c);
            let tree = repo.find_commit(c).unwrap().tree().unwrap();
            seen.insert(tree.id());
            tree.walk(git2::TreeWalkMode::PreOrder, |_, entry| {
                if seen.insert(entry.id()) {
                    if let Ok(blob) = repo.find_blob(entry.id()) {
                        bytes += blob.size() as u64;
                    }
                }
                git2::TreeWalkResult::Ok
            })
            .unwrap();
        }
        (seen.len(), bytes)
    };
    [count(&commits), count(&commits[..1])]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let home = tempfile::tempdir().unwrap();
    let repo = big_repo(home.path());
    let url = format!("file://{}", repo.path().display());
    let [(all, all_bytes), (tip, tip_bytes)] = reachable(&repo);

    let mut clones = Vec::new();
    for _ in 0..rounds.min(5) {
        let (_server, dir, ready) = start(&url, 0);
        clones.push(ready);
        drop(dir);
    }
    let (server, _dir, _) = start(&url, 0);
    let pull = |port: u16| {
        let t = Instant::now();
        let (status, body) = request(port, "POST", "/admin/git/pull");
        assert_eq!(status, 200, "{body}");
        (t.elapsed(), body)
    };
    let mut unchanged = Vec::new();
    for _ in 0..rounds {
        unchanged.push(pull(server.port).0);
    }
    let mut ten = Vec::new();
    for round in 0..rounds {
        let files: Vec<(String, Vec<u8>)> = (0..10)
            .map(|i| (path(150 + i, round % 10), png([round as u8, i as u8, 7])))
            .collect();
        commit(&repo, &files, 1000 + round as i64);
        let (took, body) = pull(server.port);
        assert!(body.contains("\"changed_total\":10"), "{body}");
        ten.push(took);
    }
    println!("git_pull: 2000 images in 200 folders, 50 commits, {rounds} rounds (median)");
    println!(
        "  first clone at start (until /readyz): {}",
        ms(median(clones))
    );
    println!(
        "  objects: whole history {all} ({all_bytes} blob bytes); tip only, what depth 1 \
         fetches, {tip} ({tip_bytes} blob bytes)"
    );
    println!(
        "  pull, nothing changed:                {}",
        ms(median(unchanged))
    );
    println!(
        "  pull of a 10-file commit:             {}",
        ms(median(ten))
    );
}
