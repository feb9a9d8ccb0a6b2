//! The binary's configuration: layers (defaults < file < environment < flags), validation that
//! reports every problem at once with exit code 2, secrets masked, and the no-argument start on
//! the bundled samples.

use crate::common::process::{command, run, ImgserverProcess};
use crate::common::raw::raw_request_blocking;

fn effective(stdout: &str) -> toml::Table {
    stdout
        .parse()
        .unwrap_or_else(|e| panic!("check-config prints TOML: {e}\n{stdout}"))
}

#[test]
fn layers_override_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[server]\nport = 9000\nworkers = 3\n[http]\ncache_control = \"public, max-age=60\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();

    let (code, out, err) = run(&["check-config", "--config", f], &[]);
    assert_eq!(code, 0, "{err}");
    let t = effective(&out);
    assert_eq!(
        t["server"]["port"].as_integer(),
        Some(9000),
        "file over defaults"
    );
    assert_eq!(t["server"]["workers"].as_integer(), Some(3));
    assert_eq!(
        t["images"]["max_width"].as_integer(),
        Some(4096),
        "defaults kept"
    );
    assert_eq!(
        t["http"]["cache_control"].as_str(),
        Some("public, max-age=60")
    );

    let env = [
        ("IMGSERVER__SERVER__PORT", "9100"),
        (
            "IMGSERVER__SERVER__TRUSTED_PROXIES",
            "127.0.0.1/32,10.0.0.0/8",
        ),
        ("IMGSERVER__IMAGES__ALLOWED_WIDTHS", "320,640"),
        ("IMGSERVER__CACHE__MEMORY_BYTES", "64MiB"),
        ("IMGSERVER__IMAGES__SHRINK_ON_LOAD", "fast"),
        ("IMGSERVER__ADMIN__TOKEN", "s3cr3t-t0ken-0f-16-bytes"),
        (
            "IMGSERVER__SOURCE__GIT__REMOTE",
            "https://bot:url-t0ken@git.example.org/site.git",
        ),
    ];
    let (code, out, err) = run(&["check-config", "--config", f], &env);
    assert_eq!(code, 0, "{err}");
    let t = effective(&out);
    assert_eq!(
        t["server"]["port"].as_integer(),
        Some(9100),
        "environment over file"
    );
    let proxies: Vec<&str> = t["server"]["trusted_proxies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(proxies, vec!["127.0.0.1/32", "10.0.0.0/8"]);
    let widths: Vec<i64> = t["images"]["allowed_widths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_integer().unwrap())
        .collect();
    assert_eq!(widths, vec![320, 640]);
    assert_eq!(t["cache"]["memory_bytes"].as_integer(), Some(64 << 20));
    assert_eq!(t["images"]["shrink_on_load"].as_str(), Some("fast"));
    assert!(
        !out.contains("s3cr3t-t0ken-0f-16-bytes") && !err.contains("s3cr3t-t0ken-0f-16-bytes"),
        "secrets are masked"
    );
    assert_eq!(t["admin"]["token"].as_str(), Some("***"));
    assert!(
        !out.contains("url-t0ken"),
        "credentials in a remote URL are masked"
    );
    assert_eq!(
        t["source"]["git"]["remote"].as_str(),
        Some("https://git.example.org/site.git")
    );

    let (code, out, _) = run(
        &[
            "check-config",
            "--config",
            f,
            "--port",
            "9200",
            "--imagesdir",
            "tests/fixtures",
        ],
        &env,
    );
    assert_eq!(code, 0);
    let t = effective(&out);
    assert_eq!(
        t["server"]["port"].as_integer(),
        Some(9200),
        "flags over environment"
    );
    assert_eq!(t["source"]["dir"].as_str(), Some("tests/fixtures"));
}

#[test]
fn every_problem_is_reported_together_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nport = \"eighty\"\nbind = \"not-an-ip\"\n[images]\nmax_width = 0\ndefault_quality = 150\nshrink_on_load = \"turbo\"\n\
         [images.quality]\njpeg = 0\npng = 90\n[cache]\nmemory_bytes = \"lots\"\n[log]\nformat = \"xml\"\n[limits]\nrender_timeout = \"soon\"\n[typo]\nx = 1\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &["--config", file.to_str().unwrap()],
        &[("IMGSERVER__SERVER__TRUSTED_PROXIES", "10.0.0.0/99")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    for key in [
        "server.port",
        "server.bind",
        "images.max_width",
        "images.default_quality",
        "images.shrink_on_load",
        "images.quality.jpeg",
        "images.quality: \"png\" is not a lossy format",
        "cache.memory_bytes",
        "log.format",
        "limits.render_timeout",
        "typo: unknown key",
        "server.trusted_proxies",
    ] {
        assert!(err.contains(key), "missing {key:?} in:\n{err}");
    }
    let (code, _, err) = run(&["--imagesdir", "/definitely/not/here"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("source.dir"), "{err}");
    let (code, _, _) = run(&["--config", "/no/such/file.toml"], &[]);
    assert_eq!(code, 2);
}

#[test]
fn short_secrets_are_refused_at_start_with_exit_code_2() {
    let (code, out, err) = run(
        &["--imagesdir", "tests/fixtures"],
        &[
            ("IMGSERVER__ADMIN__TOKEN", "short-token"),
            ("IMGSERVER__WEBHOOK__SECRET", "hook"),
            ("IMGSERVER__SECURITY__SIGNING_KEY", "0123456789abcde"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    for key in ["admin.token", "webhook.secret", "security.signing_key"] {
        let line = err
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("{key} is named in:\n{err}"));
        assert!(line.contains("at least 16 bytes"), "{line}");
    }
    for secret in ["short-token", "0123456789abcde"] {
        assert!(!err.contains(secret), "the secret itself is never printed");
    }
    // 16 bytes is enough.
    let (code, _, err) = run(
        &["check-config", "--imagesdir", "tests/fixtures"],
        &[("IMGSERVER__ADMIN__TOKEN", "0123456789abcdef")],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn secrets_can_come_from_files_without_their_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin-token");
    std::fs::write(&token, "token-from-a-file-0123\n").unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "0123456789abcde\n").unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let both = write(
        "both.toml",
        format!(
            "[admin]\ntoken_file = \"{}\"\n[webhook]\nsecret_file = \"{}\"\n",
            token.display(),
            short.display()
        ),
    );
    let (code, _, err) = run(&["check-config", "--config", &both], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("webhook.secret") && err.contains("is 15 bytes long"),
        "the newline does not count toward the length: {err}"
    );
    assert!(!err.contains("admin.token"), "{err}");

    let admin = write(
        "admin.toml",
        format!("[admin]\ntoken_file = \"{}\"\n", token.display()),
    );
    let (code, out, err) = run(&["check-config", "--config", &admin], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(effective(&out)["admin"]["token"].as_str(), Some("***"));
    let (code, _, err) = run(
        &["check-config", "--config", &admin],
        &[("IMGSERVER__ADMIN__TOKEN", "an-inline-token-too-0123")],
    );
    assert_eq!(code, 2);
    assert!(err.contains("not both"), "{err}");
}

#[test]
fn help_documents_the_flags() {
    let (code, out, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    for flag in [
        "--config",
        "--bind",
        "--port",
        "--imagesdir",
        "--cachedir",
        "check-config",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}");
    }
    let (code, out, _) = run(&["--version"], &[]);
    assert_eq!(code, 0);
    assert!(out.starts_with("imgserver "));
}

/// With no configuration, from the repository root, the bundled samples are served.
#[test]
fn no_arguments_serves_the_bundled_samples() {
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.args(["--port", "0", "--cachedir", cache.path().to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let server = ImgserverProcess::spawn(cmd);
    let res = raw_request_blocking(server.port, "GET", "/img/storm.jpg?w=120&fmt=png", &[]);
    assert_eq!(res.status, 200, "{:?}", res.headers);
    let body = res.body;
    drop(server);
    let img = image::load_from_memory(&body).expect("an image");
    assert_eq!((img.width(), img.height()), (120, 80));
}
