//! `imgserver healthcheck`: the container health check, against a real running server.

use crate::common::fixtures::fixtures_dir;
use crate::common::process::{run, ImgserverProcess};

fn healthcheck(args: &[&str]) -> (i32, String) {
    let dir = fixtures_dir();
    let mut all = vec!["healthcheck"];
    all.extend_from_slice(args);
    all.extend(["--imagesdir", dir.to_str().unwrap()]);
    let (code, _, stderr) = run(&all, &[]);
    (code, stderr)
}

#[test]
fn healthcheck_passes_while_the_server_answers_and_fails_after() {
    let config = format!(
        "[server]\nport = 0\nworkers = 1\n[source]\ndir = \"{}\"\n[cache]\ndir = \"{{dir}}/cache\"\n",
        fixtures_dir().display()
    );
    let server = ImgserverProcess::start(&config, &[]);
    let port = server.port.to_string();
    assert_eq!(healthcheck(&["--port", &port]), (0, String::new()));
    // A server bound to every interface is checked on loopback.
    assert_eq!(healthcheck(&["--bind", "0.0.0.0", "--port", &port]).0, 0);

    server.stop();
    let (code, err) = healthcheck(&["--port", &port]);
    assert_eq!(code, 1);
    assert!(err.contains("unhealthy"), "{err}");
}

#[test]
fn help_lists_the_subcommands() {
    let (_, help, _) = run(&["--help"], &[]);
    for word in [
        "check-config",
        "check-source",
        "healthcheck",
        "--config",
        "--port",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}

#[test]
fn check_source_reports_every_bad_metadata_file_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(
        root.join(".imgserver.toml"),
        "[\"x.jpg\"]\nalt = \"fine\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("a/b/.imgserver.toml"),
        "[\"y.jpg\"]\n\nfocus = [0.5, 7]\n",
    )
    .unwrap();
    std::fs::write(root.join(".git/.imgserver.toml"), "not toml at all [").unwrap();
    std::fs::write(root.join("x.jpg"), b"").unwrap();
    std::fs::write(root.join("a/b/y.jpg"), b"").unwrap();
    let (code, out, err) = run(&["check-source", root.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{out}{err}");
    let bad = root.join("a/b/.imgserver.toml");
    assert!(
        err.contains(&format!("{}:3: focus of \"y.jpg\"", bad.display())),
        "{err}"
    );
    assert!(
        err.contains("1 problem(s) in 2 metadata file(s)"),
        ".git is skipped: {err}"
    );

    std::fs::write(
        root.join("a/b/.imgserver.toml"),
        "[\"y.jpg\"]\nfocus = [0.5, 0.7]\n",
    )
    .unwrap();
    let (code, out, err) = run(&["check-source", root.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 metadata file(s)"), "{out}");
    // An entry naming no file of its folder is a problem too (most likely a typo).
    std::fs::write(
        root.join(".imgserver.toml"),
        "[\"x.jpg\"]\nalt = \"fine\"\n\n[\"ghost.jpg\"]\nalt = \"?\"\n",
    )
    .unwrap();
    let (code, _, err) = run(&["check-source", root.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    let top = root.join(".imgserver.toml");
    let expected = format!("{}:4: \"ghost.jpg\": no such file", top.display());
    assert!(err.contains(&expected), "{err}");
    // No configuration needed, and a missing folder is an error.
    let (code, _, _) = run(&["check-source", "/definitely/not/here"], &[]);
    assert_eq!(code, 2);
}

#[tokio::test]
async fn a_malformed_metadata_file_is_logged_with_its_folder_and_line_not_sent() {
    let images = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(images.path().join("shots")).unwrap();
    std::fs::copy(
        fixtures_dir().join("storm.jpg"),
        images.path().join("shots/storm.jpg"),
    )
    .unwrap();
    std::fs::write(
        images.path().join("shots/.imgserver.toml"),
        "[\"storm.jpg\"]\nfocus = [0.5, 0.5]\nzoom = 3\n",
    )
    .unwrap();
    let config = format!(
        "[server]\nport = 0\nworkers = 1\n[source]\ndir = \"{}\"\n[cache]\ndir = \"{{dir}}/cache\"\n",
        images.path().display()
    );
    let mut server = ImgserverProcess::start(&config, &[]);
    let res = reqwest::get(server.url("/img/shots/storm.jpg?w=64&h=64"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.bytes().await.unwrap();
    assert!(!String::from_utf8_lossy(&body).contains("zoom"));
    let line = server.wait_for(|l| l.contains("malformed folder metadata"));
    assert!(
        line.contains("folder=\"shots\"") && line.contains("line=3") && line.contains("zoom"),
        "{line}"
    );
    server.stop();
}

/// `imgserver srcset`, with no server running, prints what `/srcset` answers: the JSON with
/// `--json`, else the `<picture>` element; signed with the same key; exit 2 on a bad request.
#[tokio::test]
async fn srcset_prints_what_the_server_answers() {
    use crate::common::app::TestApp;
    const KEY: &str = "srcset command-line signing key";
    const TOKEN: &str = "srcset-cli-admin-token-0123456789";
    let app = TestApp::spawn_with(&[("security.signing_key", KEY), ("admin.token", TOKEN)]).await;
    let root = app.root.path().to_str().unwrap().to_string();
    let env = [
        ("IMGSERVER__SECURITY__SIGNING_KEY", KEY),
        ("IMGSERVER__SOURCE__DIR", root.as_str()),
    ];
    let query = "w=300&h=200&widths=150,300,900&sizes=(min-width: 40em) 50vw, 100vw";
    let served = |form: &'static str| {
        let url = app.url(&format!(
            "/srcset/with%20space/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9%20%231%3Bx.jpg?{}{form}",
            query.replace(' ', "%20")
        ));
        let req = app.client.get(url).bearer_auth(TOKEN);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    let path = "with space/ünï cødé #1;x.jpg";

    let (code, out, err) = run(&["srcset", "--json", path, query], &env);
    assert_eq!(code, 0, "{err}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let answered: serde_json::Value = serde_json::from_str(&served("").await).unwrap();
    assert_eq!(printed, answered);
    assert!(
        printed["src"].as_str().unwrap().contains("&s="),
        "{printed}"
    );
    assert_eq!(printed["width"], 480, "capped at the 480 px source");

    let (code, out, err) = run(&["srcset", path, query], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, served("&format=html").await);
    assert!(
        out.starts_with("<picture><source type=\"image/avif\""),
        "{out}"
    );

    let (code, out, err) = run(&["srcset", "missing.jpg"], &env);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("not_found"), "{err}");
    let (code, _, err) = run(&["srcset", path, "widths=0"], &env);
    assert_eq!(code, 2);
    assert!(err.contains("invalid_parameter"), "{err}");
}
