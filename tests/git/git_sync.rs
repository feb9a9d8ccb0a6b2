//! The git-synced source against real repositories: pulls serve new content at once and keep
//! unrelated variants warm, deletes and renames, force-pushes, cloning at start, local edits,
//! the interval poller, links leaving the tree, and no torn image while syncs run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::git::*;
use crate::common::images::{is_solid, png, BLUE, GREEN, RED};
use crate::common::{client::error_of, images::decode};

#[tokio::test]
async fn a_pull_serves_the_new_image_and_keeps_other_variants_warm() {
    let remote = Remote::new();
    let first = remote.commit(&[
        Change::Put("cats/a.png", png(64, 48, RED)),
        Change::Put("b.png", png(40, 40, GREEN)),
    ]);
    let app = spawn(clone(&remote), &[]).await;

    let (cache, body) = fetch(&app, "/img/cats/a.png?w=32").await;
    assert_eq!(cache, "miss");
    assert!(is_solid(&body, RED));
    assert_eq!(fetch(&app, "/img/b.png?w=20").await.0, "miss");
    assert_eq!(fetch(&app, "/img/b.png?w=20").await.0, "hit-memory");
    let old_etag = app.get("/img/cats/a.png?w=32").await.headers()["etag"].clone();

    let second = remote.commit(&[Change::Put("cats/a.png", png(80, 60, BLUE))]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["updated"], true);
    assert_eq!(report["from"], first.to_string());
    assert_eq!(report["to"], second.to_string());
    assert_eq!(report["changed"], serde_json::json!(["cats/a.png"]));
    // At least the one variant of the old content (tiers may count separately).
    assert!(report["invalidated"].as_u64().unwrap() >= 1, "{report}");
    assert!(report["duration_ms"].is_u64());

    // The changed file: a new render of the new content, under a new ETag.
    let res = app.get("/img/cats/a.png?w=32").await;
    assert_ne!(res.headers()["etag"], old_etag);
    assert_eq!(res.headers()["x-cache"], "miss");
    let body = res.bytes().await.unwrap();
    assert!(is_solid(&body, BLUE));
    assert_eq!(decode(&body), ("png".into(), 32, 24));
    let (_, original) = fetch(&app, "/img/cats/a.png").await;
    assert_eq!(decode(&original), ("png".into(), 80, 60));
    // The unchanged file stays warm.
    assert_eq!(fetch(&app, "/img/b.png?w=20").await.0, "hit-memory");

    // The working tree follows, for humans.
    let on_disk = std::fs::read(app.root.path().join("cats/a.png")).unwrap();
    assert_eq!(decode(&on_disk), ("png".into(), 80, 60));

    let (code, again) = pull(&app).await;
    assert_eq!(code, 200);
    assert_eq!(again["updated"], false);
    assert_eq!(again["to"], second.to_string());
    assert_eq!(again["changed"], serde_json::json!([]));

    let s = status(&app).await;
    assert_eq!(s["commit"], second.to_string());
    assert_eq!(s["branch"], "main");
    assert_eq!(s["last_sync"]["result"], "unchanged");
    assert_eq!(s["syncs"], 2);
    assert!(s["last_error"].is_null());
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn deleted_and_renamed_files_are_gone_and_found() {
    let remote = Remote::new();
    remote.commit(&[
        Change::Put("a.png", png(30, 30, RED)),
        Change::Put("b.png", png(30, 30, GREEN)),
    ]);
    let app = spawn(clone(&remote), &[]).await;
    fetch(&app, "/img/a.png?w=10").await;
    fetch(&app, "/img/b.png?w=10").await;
    let renders = app.renders();

    remote.commit(&[
        Change::Delete("a.png"),
        Change::Delete("b.png"),
        Change::Put("moved/b.png", png(30, 30, GREEN)),
    ]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(
        report["changed"],
        serde_json::json!(["a.png", "b.png", "moved/b.png"])
    );
    assert!(report["invalidated"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(app.get("/img/a.png?w=10").await.status(), 404);
    assert_eq!(app.get("/img/b.png").await.status(), 404);
    let (cache, body) = fetch(&app, "/img/moved/b.png?w=10").await;
    assert_eq!(cache, "miss");
    assert!(is_solid(&body, GREEN));
    assert_eq!(app.renders(), renders + 1);
    assert!(!app.root.path().join("a.png").exists());
    assert!(app.root.path().join("moved/b.png").exists());
}

#[tokio::test]
async fn a_force_push_is_followed_by_default() {
    let remote = Remote::new();
    let base = remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    remote.commit(&[Change::Put("a.png", png(20, 20, GREEN))]);
    let app = spawn(clone(&remote), &[]).await;
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, GREEN));

    let rewritten = remote.commit_on(Some(base), &[Change::Put("a.png", png(20, 20, BLUE))]);
    remote.set_main(rewritten);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["updated"], true);
    assert_eq!(report["to"], rewritten.to_string());
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, BLUE));
    let checkout = git2::Repository::open(app.root.path()).unwrap();
    assert_eq!(checkout.head().unwrap().target(), Some(rewritten));
}

#[tokio::test]
async fn a_force_push_is_refused_when_configured() {
    let remote = Remote::new();
    let base = remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    let served = remote.commit(&[Change::Put("a.png", png(20, 20, GREEN))]);
    let app = spawn(clone(&remote), &[("source.git.on_diverge", "refuse")]).await;
    fetch(&app, "/img/a.png?w=10").await;

    let rewritten = remote.commit_on(Some(base), &[Change::Put("a.png", png(20, 20, BLUE))]);
    remote.set_main(rewritten);
    let res = admin_post(&app, "/admin/git/pull").await;
    assert_eq!(res.status(), 409);
    let (code, message) = error_of(&res.bytes().await.unwrap());
    assert_eq!(code, "conflict");
    assert!(message.contains("rewritten"), "{message}");

    let (cache, body) = fetch(&app, "/img/a.png?w=10").await;
    assert_eq!(cache, "hit-memory");
    assert!(is_solid(&body, GREEN));
    let s = status(&app).await;
    assert_eq!(s["commit"], served.to_string());
    assert_eq!(s["last_error"]["code"], "conflict");
    assert_eq!(s["last_sync"]["result"], "failed");

    // A fast-forward on top of the served commit is still taken.
    remote.set_main(served);
    let next = remote.commit(&[Change::Put("a.png", png(20, 20, BLUE))]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], next.to_string());
}

#[tokio::test]
async fn an_empty_folder_is_cloned_at_start_following_the_default_branch() {
    let remote = Remote::new();
    let head = remote.commit(&[Change::Put("cats/a.png", png(50, 40, RED))]);
    let empty = tempfile::tempdir().unwrap();
    let url = remote.url();
    let app = spawn(empty, &[("source.git.remote", url.as_str())]).await;

    assert_eq!(app.get("/readyz").await.status(), 200);
    let (_, body) = fetch(&app, "/img/cats/a.png").await;
    assert_eq!(decode(&body), ("png".into(), 50, 40));
    let s = status(&app).await;
    assert_eq!(s["commit"], head.to_string());
    assert_eq!(s["branch"], "main");
    assert_eq!(s["last_sync"]["trigger"], "startup");
    assert!(app.root.path().join("cats/a.png").is_file());
}

#[tokio::test]
async fn the_configured_remote_replaces_the_checkouts_origin() {
    let old = Remote::new();
    old.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    let new = Remote::new();
    let head = new.commit(&[Change::Put("a.png", png(20, 20, BLUE))]);
    let url = new.url();
    let app = spawn(clone(&old), &[("source.git.remote", url.as_str())]).await;
    let checkout = git2::Repository::open(app.root.path()).unwrap();
    assert_eq!(checkout.find_remote("origin").unwrap().url().unwrap(), url);

    // Unrelated histories count as rewritten: followed by default.
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], head.to_string());
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, BLUE));
}

#[tokio::test]
async fn local_changes_never_block_a_sync_and_are_never_served() {
    let remote = Remote::new();
    remote.commit(&[
        Change::Put("a.png", png(20, 20, RED)),
        Change::Put("b.png", png(20, 20, RED)),
    ]);
    let checkout = clone(&remote);
    let root = checkout.path().to_path_buf();
    // A local edit of a tracked file, a staged one, an untracked file and a local commit.
    let repo = git2::Repository::open(&root).unwrap();
    std::fs::write(root.join("b.png"), png(20, 20, GREEN)).unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(std::path::Path::new("b.png")).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("local", "local@example.com").unwrap();
    let parent = repo.head().unwrap().peel_to_commit().unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "local", &tree, &[&parent])
        .unwrap();
    std::fs::write(root.join("a.png"), png(20, 20, GREEN)).unwrap();
    std::fs::write(root.join("untracked.png"), png(20, 20, GREEN)).unwrap();

    let app = spawn(checkout, &[]).await;
    // Served from the commit, not the working tree: the local commit, not the edit.
    assert!(is_solid(&fetch(&app, "/img/a.png").await.1, RED));
    assert!(is_solid(&fetch(&app, "/img/b.png").await.1, GREEN));
    assert_eq!(app.get("/img/untracked.png").await.status(), 404);

    let head = remote.commit(&[Change::Put("a.png", png(20, 20, BLUE))]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], head.to_string());
    assert!(is_solid(&fetch(&app, "/img/a.png").await.1, BLUE));
    assert!(is_solid(&fetch(&app, "/img/b.png").await.1, RED));
    assert!(is_solid(&std::fs::read(root.join("a.png")).unwrap(), BLUE));
    assert!(root.join("untracked.png").is_file());
    // Nothing was pushed.
    assert_eq!(remote.head(), Some(head));
}

#[tokio::test]
async fn the_interval_poller_syncs_by_itself() {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    let app = spawn(clone(&remote), &[("source.git.sync_interval", "300ms")]).await;
    assert!(is_solid(&fetch(&app, "/img/a.png").await.1, RED));
    let head = remote.commit(&[Change::Put("a.png", png(20, 20, BLUE))]);
    let started = Instant::now();
    loop {
        if is_solid(&fetch(&app, "/img/a.png").await.1, BLUE) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no sync happened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = status(&app).await;
    assert_eq!(s["commit"], head.to_string());
    assert_eq!(s["sync_interval"], "300ms");
}

#[tokio::test]
async fn committed_links_leaving_the_tree_are_not_served() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.png");
    std::fs::write(&secret, png(20, 20, GREEN)).unwrap();
    let remote = Remote::new();
    let secret_path = secret.display().to_string();
    remote.commit(&[
        Change::Put("a.png", png(20, 20, RED)),
        Change::Put(".hidden/h.png", png(20, 20, RED)),
        Change::Link("inside.png", "a.png"),
        Change::Link("absolute.png", &secret_path),
        Change::Link("relative.png", "../../../../../../../../etc/passwd"),
        Change::Link("hidden.png", ".hidden/h.png"),
        Change::Link("dir/up.png", "../a.png"),
    ]);
    let app = spawn(clone(&remote), &[]).await;
    assert!(is_solid(&fetch(&app, "/img/inside.png").await.1, RED));
    assert!(is_solid(&fetch(&app, "/img/dir/up.png?w=5").await.1, RED));
    for path in [
        "/img/absolute.png",
        "/img/absolute.png?w=5",
        "/img/relative.png",
        "/img/hidden.png",
        "/img/.hidden/h.png",
        "/img/.git/config",
        "/info/absolute.png",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains(outside.path().to_str().unwrap()), "{body}");
    }
}

/// Two versions of one image alternate on the remote while readers hammer it: every response
/// decodes completely and is entirely one version, and once a pull returns every response is
/// the new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_during_syncs_never_see_a_torn_or_mixed_image() {
    let remote = Remote::new();
    let red = png(300, 200, RED);
    let blue = png(300, 200, BLUE);
    remote.commit(&[Change::Put("pic.png", red.clone())]);
    let app = Arc::new(spawn(clone(&remote), &[]).await);

    let stop = Arc::new(AtomicBool::new(false));
    let checked = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for reader in 0..4 {
        let (app, stop, checked) = (app.clone(), stop.clone(), checked.clone());
        readers.push(tokio::spawn(async move {
            let path = if reader % 2 == 0 {
                "/img/pic.png"
            } else {
                "/img/pic.png?w=60"
            };
            while !stop.load(Ordering::SeqCst) {
                let (_, body) = fetch(&app, path).await;
                assert!(
                    is_solid(&body, RED) || is_solid(&body, BLUE),
                    "a mixed image from {path}"
                );
                checked.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for round in 0..8 {
        let (bytes, colour) = if round % 2 == 0 {
            (&blue, BLUE)
        } else {
            (&red, RED)
        };
        let head = remote.commit(&[Change::Put("pic.png", bytes.clone())]);
        let (code, report) = pull(&app).await;
        assert_eq!(code, 200, "{report}");
        assert_eq!(report["to"], head.to_string());
        for path in ["/img/pic.png", "/img/pic.png?w=60"] {
            assert!(
                is_solid(&fetch(&app, path).await.1, colour),
                "round {round}: {path} is not the new version after the pull returned"
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    for r in readers {
        r.await.expect("a reader saw a bad response");
    }
    assert!(checked.load(Ordering::SeqCst) > 20);
}

#[tokio::test]
async fn a_bare_repository_is_served_from_its_head() {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    let bare = remote.path().display().to_string();
    let app = spawn(
        tempfile::tempdir().unwrap(),
        &[("source.dir", bare.as_str())],
    )
    .await;
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
    assert_eq!(app.get("/img/config").await.status(), 404);
    assert_eq!(app.get("/img/HEAD").await.status(), 404);
    // It has no origin to sync from.
    assert_eq!(admin_post(&app, "/admin/git/pull").await.status(), 409);
}

/// A loose object whose header claims `claimed` bytes but whose zlib stream stops after a few:
/// its size can be read from the header, and any attempt to inflate it fails.
fn write_hollow_blob(git_dir: &std::path::Path, claimed: u64) -> git2::Oid {
    let mut raw = format!("blob {claimed}\0").into_bytes();
    raw.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    // zlib header, then one stored, non-final deflate block, and nothing after it.
    let mut zlib = vec![0x78, 0x01, 0x00];
    let len = raw.len() as u16;
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    let hex = "5e1f0000000000000000000000000000000000b1";
    let dir = git_dir.join("objects").join(&hex[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex[2..]), zlib).unwrap();
    git2::Oid::from_str(hex).unwrap()
}

/// A 300 MB blob is refused from its object header: 422 `source_too_large` for the original,
/// a render and `/info`, without inflating it (this one cannot be inflated at all, so any
/// read of its content would fail with a 500 instead).
#[tokio::test]
async fn a_blob_over_the_size_limit_is_refused_without_being_inflated() {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    let hollow = write_hollow_blob(&remote.path(), 300_000_000);
    let repo = &remote.repo;
    let head = repo.find_commit(remote.head().unwrap()).unwrap();
    let mut tree = repo.treebuilder(Some(&head.tree().unwrap())).unwrap();
    tree.insert("huge.jpg", hollow, 0o100644).unwrap();
    let tree = repo.find_tree(tree.write().unwrap()).unwrap();
    let sig = git2::Signature::now("Test", "test@example.com").unwrap();
    let commit = repo
        .commit(None, &sig, &sig, "a huge blob", &tree, &[&head])
        .unwrap();
    remote.set_main(commit);

    let bare = remote.path().display().to_string();
    let app = spawn(
        tempfile::tempdir().unwrap(),
        &[("source.dir", bare.as_str())],
    )
    .await;
    for path in [
        "/img/huge.jpg",
        "/img/huge.jpg?w=10",
        "/info/huge.jpg",
        "/img/huge?w=10",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 422, "{path}");
        let (code, _) = error_of(&res.bytes().await.unwrap());
        assert_eq!(code, "source_too_large", "{path}");
    }
    assert_eq!(app.state.delivery.source_budget().in_use(), 0);
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
}
