//! `imgserver healthcheck`: asks the running server's `/healthz` and exits 0 only on 200, for
//! container health checks where no HTTP client is installed. It reads the same configuration
//! layers as the server, so it knows the port; a wildcard bind address is reached on loopback.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::config::Settings;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Where the server configured by `settings` can be reached from this host.
pub fn target(settings: &Settings) -> SocketAddr {
    let ip = match settings.server.bind {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, settings.server.port)
}

/// One `GET /healthz`; `Ok` on a 200 answer within the timeout.
pub fn check(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut head = [0u8; 32];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..]).context("no answer")?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let status_line = String::from_utf8_lossy(&head[..read]);
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        Some(status) => bail!("{addr} answered {status}"),
        None => bail!("{addr} sent no HTTP status"),
    }
}
