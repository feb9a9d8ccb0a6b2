//! The disk tier through HTTP: its budget, crash leftovers and cut-off entries, an unusable
//! cache folder, and a real kill -9 in the middle of writes.

use std::path::Path;
use std::time::Duration;

use crate::common::app::{cache_files, is_temp_file, TestApp};
use crate::common::client::client_builder;
use crate::common::fixtures::copy_served_fixtures;
use crate::common::images::decode;
use crate::common::process::{command, ImgserverProcess};

/// What the files occupy on disk: allocated blocks, not their lengths.
fn dir_bytes(files: &[std::path::PathBuf]) -> u64 {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.blocks() * 512).unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn eviction_keeps_the_disk_under_its_budget_while_serving() {
    const BUDGET: u64 = 40_000;
    let app = TestApp::spawn_with(&[("cache.max_disk_bytes", "40000")]).await;
    for w in 100..130 {
        let res = app.get(&format!("/img/storm.jpg?w={w}&fmt=jpeg")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(decode(&res.bytes().await.unwrap()).1, w);
    }
    let stats = app.wait_for_disk(1).await;
    let files = cache_files(app.cache_dir.path());
    assert!(
        dir_bytes(&files) <= BUDGET,
        "{} bytes on disk",
        dir_bytes(&files)
    );
    assert!(stats.disk.bytes <= BUDGET);
    assert_eq!(stats.disk.entries, files.len() as u64);
    assert!(stats.disk.evictions > 0);
    assert!(stats.disk.entries < 30 && stats.disk.entries > 3);
    assert_eq!(stats.disk_write_errors, 0);

    // The most recent variants survive, the oldest went first.
    let (root, outside, cache_dir) = app.into_dirs();
    let again = TestApp::spawn_on(
        root,
        outside,
        cache_dir,
        &[("cache.max_disk_bytes", "40000")],
    )
    .await;
    again.wait_for_disk(1).await;
    let newest = again.get("/img/storm.jpg?w=129&fmt=jpeg").await;
    assert_eq!(newest.headers()["x-cache"], "hit-disk");
    let oldest = again.get("/img/storm.jpg?w=100&fmt=jpeg").await;
    assert_eq!(oldest.headers()["x-cache"], "miss");
}

#[tokio::test]
async fn a_flood_of_tiny_variants_stays_within_the_entry_bound() {
    let app = TestApp::spawn_with(&[("cache.max_disk_entries", "8")]).await;
    for w in 1..=40 {
        let res = app
            .get(&format!("/img/storm.jpg?w={w}&fmt=webp&q=10"))
            .await;
        assert_eq!(res.status(), 200);
    }
    let stats = app.wait_for_disk(1).await;
    // Writes are asynchronous: give the last ones their turn before counting files.
    for _ in 0..200 {
        if app.cache_stats().disk_writes_pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let files = cache_files(app.cache_dir.path());
    assert!(files.len() <= 8, "{} entry files", files.len());
    assert!(stats.disk.entries <= 8);
    assert!(app.cache_stats().disk.evictions >= 32);
}

#[tokio::test]
async fn an_entry_cut_off_mid_write_is_never_served() {
    let first = TestApp::spawn().await;
    let a = "/img/storm.jpg?w=140&fmt=png";
    let b = "/img/storm.jpg?w=160&fmt=webp";
    first.get(a).await;
    first.get(b).await;
    first.wait_for_disk(2).await;
    let files = cache_files(first.cache_dir.path());
    assert_eq!(files.len(), 2);
    // One entry cut off mid-body, one damaged in place (same length), and a temp file of a
    // write that never reached its rename.
    let whole = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &whole[..whole.len() / 2]).unwrap();
    let mut damaged = std::fs::read(&files[1]).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    std::fs::write(&files[1], &damaged).unwrap();
    let temp = files[0].with_file_name(".tmp-0000000000000000-1");
    std::fs::write(&temp, &whole[..whole.len() / 3]).unwrap();

    let (root, outside, cache_dir) = first.into_dirs();
    let second = TestApp::spawn_on(root, outside, cache_dir, &[]).await;
    second.wait_for_disk(0).await;
    assert!(!temp.exists(), "leftover temp files are removed at start");
    assert!(!files[0].exists(), "a cut-off entry is removed at start");
    for (url, format, width) in [(a, "png", 140), (b, "webp", 160)] {
        let res = second.get(url).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["x-cache"],
            "miss",
            "{url} was served from a bad entry"
        );
        let (f, w, _) = decode(&res.bytes().await.unwrap());
        assert_eq!((f.as_str(), w), (format, width));
    }
    assert_eq!(second.renders(), 2);
    let stats = second.wait_for_disk(2).await;
    assert_eq!(stats.disk_bad_entries, 2);
    assert!(cache_files(second.cache_dir.path())
        .iter()
        .all(|f| !is_temp_file(f)));
}

#[tokio::test]
async fn a_read_only_cache_folder_still_serves_images() {
    let cache = tempfile::tempdir().unwrap();
    // Root ignores permission bits, so every shard folder is also taken by a plain file.
    for shard in 0..=255u8 {
        std::fs::write(cache.path().join(format!("{shard:02x}")), b"").unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let app = TestApp::spawn_with(&[
        ("cache.dir", cache.path().to_str().unwrap()),
        ("cache.memory_bytes", "0"),
    ])
    .await;
    for _ in 0..2 {
        let res = app.get("/img/storm.jpg?w=90&fmt=webp").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-cache"], "miss");
        assert_eq!(decode(&res.bytes().await.unwrap()).1, 90);
    }
    let stats = app.wait_for_disk(0).await;
    assert_eq!(stats.disk_write_errors, 2);
    assert_eq!(stats.disk.entries, 0);
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    // A cache folder that cannot even be created: same.
    let file = app.cache_dir.path().join("not-a-folder");
    std::fs::write(&file, b"").unwrap();
    let app = TestApp::spawn_with(&[("cache.dir", file.to_str().unwrap())]).await;
    let res = app.get("/img/storm.jpg?w=90&fmt=webp").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get("/img/storm.jpg?w=90&fmt=webp").await.headers()["x-cache"],
        "hit-memory"
    );
}

/// The real binary over `root`, its log in JSON.
fn start_binary(root: &Path, cache: &Path) -> ImgserverProcess {
    let mut cmd = command();
    cmd.args(["--bind", "127.0.0.1", "--port", "0"])
        .arg("--imagesdir")
        .arg(root)
        .arg("--cachedir")
        .arg(cache)
        .env("IMGSERVER__LOG__FORMAT", "json")
        .env("IMGSERVER__LOG__LEVEL", "info")
        .env("IMGSERVER__SERVER__WORKERS", "2")
        .env("IMGSERVER__LIMITS__PER_IP_PER_SECOND", "0");
    ImgserverProcess::spawn(cmd)
}

#[tokio::test]
async fn kill_9_during_writes_leaves_complete_entries_or_none() {
    let root = tempfile::tempdir().unwrap();
    copy_served_fixtures(root.path());
    let cache = tempfile::tempdir().unwrap();
    let mut server = start_binary(root.path(), cache.path());
    let client = client_builder().build().unwrap();
    let widths: Vec<u32> = (200..240).collect();
    let mut served = 0;
    for chunk in widths.chunks(4) {
        let requests: Vec<_> = chunk
            .iter()
            .map(|w| {
                let url = format!(
                    "http://127.0.0.1:{}/img/storm.jpg?w={w}&fmt=png",
                    server.port
                );
                let client = client.clone();
                tokio::spawn(async move { client.get(url).send().await })
            })
            .collect();
        for r in requests {
            if matches!(r.await.unwrap(), Ok(res) if res.status() == 200) {
                served += 1;
            }
        }
        if served >= 12 {
            break; // writes of the last responses are still in progress
        }
    }
    server.kill(); // SIGKILL
    assert!(served >= 12);
    let left = cache_files(cache.path());
    let entries_left = left.iter().filter(|f| !is_temp_file(f)).count() as u64;

    let outside = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_on(root, outside, cache, &[]).await;
    let stats = app.wait_for_disk(0).await;
    assert_eq!(stats.disk_bad_entries, 0, "a renamed entry was incomplete");
    assert_eq!(stats.disk.entries, entries_left);
    assert!(cache_files(app.cache_dir.path())
        .iter()
        .all(|f| !is_temp_file(f)));
    let mut from_disk = 0;
    for w in widths {
        let res = app.get(&format!("/img/storm.jpg?w={w}&fmt=png")).await;
        assert_eq!(res.status(), 200);
        from_disk += u64::from(res.headers()["x-cache"] == "hit-disk");
        assert_eq!(
            decode(&res.bytes().await.unwrap()),
            ("png".into(), w, (w as f64 * 2.0 / 3.0).round() as u32)
        );
    }
    assert_eq!(from_disk, entries_left);
    assert_eq!(app.cache_stats().disk_bad_entries, 0);
}
