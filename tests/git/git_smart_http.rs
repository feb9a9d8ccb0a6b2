//! Sync over real smart HTTP, as from a forge: Nginx with basic authentication in front of
//! `git http-backend` (tests/common/git_http.rs). A fresh clone and a pull with the token, a
//! force-push followed, a wrong or missing token refused with 502 while the current commit is
//! served and the token appears nowhere, a token file rotated between two syncs, a forge that
//! refuses and then accepts the token, a shallow first clone, and a forge too slow for
//! `source.git.timeout`.

use crate::common::client::error_of;
use crate::common::git::*;
use crate::common::git_http::{GitHttpServer, TOKEN_USER};
use crate::common::images::{is_solid, png, BLUE, GREEN, RED};

const TOKEN: &str = "github_pat_11ABCDEFG0123456789_token";

/// A remote with one commit, served over smart HTTP, and its URL.
fn served_remote() -> Option<(Remote, GitHttpServer, String)> {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    let server = GitHttpServer::start(remote.dir.path(), TOKEN)?;
    let url = server.url("remote.git");
    Some((remote, server, url))
}

/// The server's requests that got `status` (from its access log).
fn answered(server: &GitHttpServer, status: u16) -> usize {
    server
        .access_log()
        .lines()
        .filter(|l| l.contains(&format!("\" {status} ")))
        .count()
}

#[tokio::test]
async fn an_empty_folder_clones_and_pulls_over_smart_http_with_a_token() {
    let Some((remote, server, url)) = served_remote() else {
        return;
    };
    let empty = tempfile::tempdir().unwrap();
    let app = spawn(
        empty,
        &[
            ("source.git.remote", url.as_str()),
            ("source.git.token", TOKEN),
        ],
    )
    .await;
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
    // The server asked for the credentials (401) and took them (200), as a forge does.
    assert!(answered(&server, 401) >= 1, "{}", server.access_log());
    assert!(
        server.access_log().contains(TOKEN_USER),
        "{}",
        server.access_log()
    );

    let next = remote.commit(&[Change::Put("b.png", png(20, 20, GREEN))]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], next.to_string());
    assert!(is_solid(&fetch(&app, "/img/b.png?w=10").await.1, GREEN));

    // A force-push (history rewritten) is followed.
    let rewritten = remote.commit_on(None, &[Change::Put("a.png", png(20, 20, BLUE))]);
    remote.set_main(rewritten);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], rewritten.to_string());
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, BLUE));
    assert_eq!(app.get("/img/b.png?w=10").await.status(), 404);
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_a_502_and_the_token_appears_nowhere() {
    let Some((remote, _server, url)) = served_remote() else {
        return;
    };
    let wrong = "ghp_wrong_token_9876543210";
    for (token, new) in [(Some(wrong), "c.png"), (None, "d.png")] {
        let mut overrides = vec![("source.git.remote", url.as_str())];
        if let Some(token) = token {
            overrides.push(("source.git.token", token));
        }
        let app = spawn(clone(&remote), &overrides).await;
        remote.commit(&[Change::Put(new, png(20, 20, GREEN))]);
        let res = admin_post(&app, "/admin/git/pull").await;
        assert_eq!(res.status(), 502, "token {token:?}");
        let body = res.text().await.unwrap();
        let (code, _) = error_of(body.as_bytes());
        assert_eq!(code, "git_remote_error", "{body}");
        let status_text = admin_get(&app, "/admin/git/status")
            .await
            .text()
            .await
            .unwrap();
        for text in [&body, &status_text] {
            assert!(!text.contains(wrong) && !text.contains(TOKEN), "{text}");
        }
        // Still serving the commit it had.
        assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
        assert_eq!(app.get(&format!("/img/{new}?w=10")).await.status(), 404);
    }
}

#[tokio::test]
async fn a_token_file_rotated_between_two_syncs_is_read_again() {
    let Some((remote, _server, url)) = served_remote() else {
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("token");
    std::fs::write(&file, "expired-token-000\n").unwrap();
    let file_setting = file.display().to_string();
    let app = spawn(
        clone(&remote),
        &[
            ("source.git.remote", url.as_str()),
            ("source.git.token_file", file_setting.as_str()),
        ],
    )
    .await;
    let next = remote.commit(&[Change::Put("b.png", png(20, 20, GREEN))]);
    assert_eq!(pull(&app).await.0, 502);
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], next.to_string());
    assert!(is_solid(&fetch(&app, "/img/b.png?w=10").await.1, GREEN));
}

#[tokio::test]
async fn a_remote_that_refuses_then_accepts_the_token_recovers_at_the_next_sync() {
    let Some((remote, server, url)) = served_remote() else {
        return;
    };
    let app = spawn(
        clone(&remote),
        &[
            ("source.git.remote", url.as_str()),
            ("source.git.token", TOKEN),
        ],
    )
    .await;
    // The forge stops accepting the token (401 to every request)...
    server.set_token("some-other-token");
    let next = remote.commit(&[Change::Put("b.png", png(20, 20, GREEN))]);
    let res = admin_post(&app, "/admin/git/pull").await;
    assert_eq!(res.status(), 502);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "git_remote_error");
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
    // ...and accepts it again: the next sync goes through.
    server.set_token(TOKEN);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], next.to_string());
    let s = status(&app).await;
    assert_eq!(s["last_sync"]["result"], "updated", "{s}");
    // The failure stays on record, older than the success.
    assert_eq!(s["last_error"]["code"], "git_remote_error", "{s}");
    assert!(
        s["last_success_at"].as_str() >= s["last_error"]["at"].as_str(),
        "{s}"
    );
}

#[tokio::test]
async fn a_shallow_first_clone_brings_one_commit_and_still_tells_fast_forwards() {
    let Some((remote, _server, url)) = served_remote() else {
        return;
    };
    let first = remote.head().unwrap();
    for i in 0..4u8 {
        remote.commit(&[Change::Put("a.png", png(20, 20, [200, 10 * i, 10]))]);
    }
    remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    let empty = tempfile::tempdir().unwrap();
    let app = spawn(
        empty,
        &[
            ("source.git.remote", url.as_str()),
            ("source.git.token", TOKEN),
            ("source.git.depth", "1"),
            // A shallow history must not look rewritten: a refusal here would be a 409.
            ("source.git.on_diverge", "refuse"),
        ],
    )
    .await;
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
    let checkout = git2::Repository::open(app.root.path()).unwrap();
    assert!(checkout.is_shallow());
    assert!(
        checkout.find_commit(first).is_err(),
        "older history was not fetched"
    );

    let next = remote.commit(&[Change::Put("b.png", png(20, 20, GREEN))]);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["to"], next.to_string());
    assert!(is_solid(&fetch(&app, "/img/b.png?w=10").await.1, GREEN));
}

#[tokio::test]
async fn a_forge_too_slow_for_the_timeout_is_a_504_and_changes_nothing() {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(20, 20, RED))]);
    // 2 KB/s: the refs arrive within a second, the pack of 400 KB would take minutes.
    let Some(server) = GitHttpServer::start_throttled(remote.dir.path(), TOKEN, 2_000) else {
        return;
    };
    let url = server.url("remote.git");
    let app = spawn(
        clone(&remote),
        &[
            ("source.git.remote", url.as_str()),
            ("source.git.token", TOKEN),
            ("source.git.timeout", "3s"),
        ],
    )
    .await;
    // Incompressible, so the pack stays large.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..400_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    remote.commit(&[Change::Put("big.bin", noise)]);
    let started = std::time::Instant::now();
    let res = admin_post(&app, "/admin/git/pull").await;
    let took = started.elapsed();
    assert_eq!(res.status(), 504);
    assert_eq!(error_of(&res.bytes().await.unwrap()).0, "git_timeout");
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    assert!(is_solid(&fetch(&app, "/img/a.png?w=10").await.1, RED));
    assert_eq!(status(&app).await["last_error"]["code"], "git_timeout");
}
