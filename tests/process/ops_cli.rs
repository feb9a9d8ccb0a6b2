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
    for word in ["check-config", "healthcheck", "--config", "--port"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}
