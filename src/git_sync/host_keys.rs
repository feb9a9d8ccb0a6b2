//! SSH host keys checked against `source.git.known_hosts`, an OpenSSH known-hosts file, read
//! again at every sync. Without that setting libgit2 checks the service user's
//! `~/.ssh/known_hosts` itself; either way an unknown key is refused, never accepted on first
//! use. A host listed with another key (a changed key: a re-provisioned server, or someone in
//! between) is refused and said so in the log.

use std::path::Path;

use base64::Engine;

/// Why a host key was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostKeyError {
    #[error("the remote's host key is not in source.git.known_hosts")]
    Unknown,
    #[error("the remote's host key changed: it differs from source.git.known_hosts")]
    Changed,
    #[error("the remote's host key is marked @revoked in source.git.known_hosts")]
    Revoked,
    #[error("source.git.known_hosts cannot be read")]
    Unreadable,
}

/// Checks the raw public key `key` (SSH wire format, as libgit2 hands it over) of `host` on
/// `port` against the known-hosts file at `path`. Hashed host names (`|1|...`, from
/// `ssh-keyscan -H`) are not matched: write the file with `ssh-keyscan` without `-H`.
pub fn check(path: &Path, host: &str, port: u16, key: &[u8]) -> Result<(), HostKeyError> {
    let text = std::fs::read_to_string(path).map_err(|_| HostKeyError::Unreadable)?;
    let names = if port == 22 {
        vec![host.to_string(), format!("[{host}]:22")]
    } else {
        vec![format!("[{host}]:{port}")]
    };
    let mut listed = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let patterns = fields.next().unwrap_or_default();
        if patterns.starts_with('@') {
            // `@revoked` or `@cert-authority` markers: a revoked key never matches, and
            // certificates are not checked here.
            if patterns == "@revoked" {
                let (_, _, blob) = (fields.next(), fields.next(), fields.next());
                if blob.and_then(decode).as_deref() == Some(key) {
                    return Err(HostKeyError::Revoked);
                }
            }
            continue;
        }
        let (Some(_kind), Some(blob)) = (fields.next(), fields.next()) else {
            continue;
        };
        if patterns.starts_with('|') {
            continue;
        }
        let matches = patterns
            .split(',')
            .any(|p| names.iter().any(|n| n.eq_ignore_ascii_case(p)));
        if !matches {
            continue;
        }
        listed = true;
        if decode(blob).as_deref() == Some(key) {
            return Ok(());
        }
    }
    Err(if listed {
        HostKeyError::Changed
    } else {
        HostKeyError::Unknown
    })
}

fn decode(blob: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(blob).ok()
}

/// The port of an ssh remote URL: `ssh://user@host:2222/path` names it, scp-like
/// `user@host:path` never does (22).
pub fn port_of(url: &str) -> u16 {
    let Some(rest) = url.strip_prefix("ssh://") else {
        return 22;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(':') {
        Some((_, port)) if !host_port.ends_with(']') => port.parse().unwrap_or(22),
        _ => 22,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"\0\0\0\x0bssh-ed25519\0\0\0\x20abcdefghijklmnopqrstuvwxyz012345";

    fn file(lines: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), lines).unwrap();
        f
    }

    fn line(host: &str, key: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        format!("{host} ssh-ed25519 {b64}\n")
    }

    #[test]
    fn a_listed_key_passes_an_unlisted_host_or_another_key_does_not() {
        let other = b"\0\0\0\x0bssh-ed25519\0\0\0\x20ZZZZefghijklmnopqrstuvwxyz012345";
        let f = file(&format!(
            "# comment\n{}{}",
            line("github.com,140.82.112.3", KEY),
            line("[127.0.0.1]:2222", KEY)
        ));
        assert_eq!(check(f.path(), "github.com", 22, KEY), Ok(()));
        assert_eq!(check(f.path(), "140.82.112.3", 22, KEY), Ok(()));
        assert_eq!(check(f.path(), "127.0.0.1", 2222, KEY), Ok(()));
        // Port 22's entry is not the one of another port.
        assert_eq!(
            check(f.path(), "github.com", 2222, KEY),
            Err(HostKeyError::Unknown)
        );
        assert_eq!(
            check(f.path(), "gitlab.com", 22, KEY),
            Err(HostKeyError::Unknown)
        );
        assert_eq!(
            check(f.path(), "github.com", 22, other),
            Err(HostKeyError::Changed)
        );
        let missing = Path::new("/nonexistent/known_hosts");
        assert_eq!(
            check(missing, "github.com", 22, KEY),
            Err(HostKeyError::Unreadable)
        );
    }

    #[test]
    fn a_revoked_key_is_refused_even_when_listed() {
        let f = file(&format!(
            "@revoked {}{}",
            line("*", KEY),
            line("github.com", KEY)
        ));
        assert_eq!(
            check(f.path(), "github.com", 22, KEY),
            Err(HostKeyError::Revoked)
        );
    }

    #[test]
    fn ports_come_from_ssh_urls_only() {
        assert_eq!(port_of("ssh://git@host:2222/org/repo.git"), 2222);
        assert_eq!(port_of("ssh://git@host/org/repo.git"), 22);
        assert_eq!(port_of("git@host:org/repo.git"), 22);
        assert_eq!(port_of("ssh://[::1]/r.git"), 22);
    }
}
