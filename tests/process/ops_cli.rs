//! `imgserver healthcheck`: the container health check, against a real running server.

mod ops_support;

use std::process::Command;

use ops_support::{fixtures_dir, ImgserverProcess, BIN};

fn healthcheck(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("healthcheck")
        .args(args)
        .env_remove("RUST_LOG")
        .args(["--imagesdir", fixtures_dir().to_str().unwrap()])
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["check-config", "healthcheck", "--config", "--port"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}
