//! What the tests that run real processes (imgserver binaries, Nginx) share: finding Nginx and
//! reading the port a server bound from its "listening" log line.
#![allow(dead_code)]

use std::path::PathBuf;

/// Nginx, from `$IMGSERVER_NGINX`, the sbin folders or `PATH`. `None` (the test skips) when it
/// is not installed, unless `$IMGSERVER_REQUIRE_NGINX` says it must be.
pub fn nginx_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("IMGSERVER_NGINX") {
        return Some(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = vec!["/usr/sbin".into(), "/usr/local/sbin".into()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let found = dirs
        .into_iter()
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("IMGSERVER_REQUIRE_NGINX").is_none(),
            "nginx is required (IMGSERVER_REQUIRE_NGINX) but not installed"
        );
        eprintln!("SKIPPED: nginx is not installed (apt-get install -y nginx-light)");
    }
    found
}

/// The port in imgserver's "listening" log line (text or JSON).
pub fn listening_port(line: &str) -> u16 {
    let digits: String = line
        .rsplit("port")
        .next()
        .unwrap()
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().expect("a port in the listening line")
}
