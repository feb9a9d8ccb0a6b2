//! The spawned binary syncing from a real smart-HTTP forge (tests/common/git_http.rs) with a
//! token the forge refuses, then the one it accepts: at debug level, neither token appears in
//! any line of the log, nor in the responses.

use crate::common::git::{clone, Change, Remote};
use crate::common::git_http::GitHttpServer;
use crate::common::images::png;
use crate::common::process::ImgserverProcess;

const ADMIN: &str = "admin-token-for-the-log-test";

#[tokio::test]
async fn git_tokens_never_reach_the_log() {
    let remote = Remote::new();
    remote.commit(&[Change::Put("a.png", png(20, 20, [200, 20, 20]))]);
    let good = "github_pat_GOOD_0123456789abcdef";
    let bad = "github_pat_BAD_fedcba9876543210";
    let Some(server) = GitHttpServer::start(remote.dir.path(), good) else {
        return;
    };
    let checkout = clone(&remote);
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("token");
    std::fs::write(&token_file, bad).unwrap();
    let config = format!(
        "[server]\nport = 0\nworkers = 1\n[source]\ndir = \"{}\"\n[source.git]\nremote = \"{}\"\n\
         token_file = \"{}\"\n[admin]\ntoken = \"{ADMIN}\"\n[cache]\ndir = \"{{dir}}/cache\"\n\
         [log]\nformat = \"json\"\nlevel = \"debug\"\n",
        checkout.path().display(),
        server.url("remote.git"),
        token_file.display(),
    );
    let process = ImgserverProcess::start(&config, &[]);
    let client = reqwest::Client::new();
    let pull = || async {
        let res = client
            .post(process.url("/admin/git/pull"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    remote.commit(&[Change::Put("b.png", png(20, 20, [20, 200, 20]))]);
    let (refused, refused_body) = pull().await;
    std::fs::write(&token_file, good).unwrap();
    let (accepted, accepted_body) = pull().await;
    let status = client
        .get(process.url("/admin/git/status"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let log = process.stop();
    assert_eq!(
        (refused, accepted),
        (502, 200),
        "{refused_body} {accepted_body}"
    );
    assert!(
        log.iter().any(|l| l.contains("git fetch failed")),
        "the failure is logged"
    );
    for text in log.iter().chain([&refused_body, &accepted_body, &status]) {
        assert!(
            !text.contains(good) && !text.contains(bad),
            "a token leaked: {text}"
        );
    }
}
