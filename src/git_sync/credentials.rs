//! What the sync presents to the remote: an https token (from `source.git.token` or, re-read at
//! every sync so it can be rotated, `source.git.token_file`) or an ssh key
//! (`source.git.ssh_key`). Secrets never reach a log line or a response: [`Scrubber`] masks
//! them (and the userinfo of URLs) in any text that might carry them.

use std::cell::Cell;
use std::path::PathBuf;

use git2::{Cred, CredentialType};

use crate::config::{GitSettings, Secret};

use super::host_keys::{self, HostKeyError};
use super::SyncError;

/// The username sent with a token when the URL names none (GitHub, Gitea and GitLab accept
/// any username with a personal access token; this one also fits GitHub app tokens).
const TOKEN_USERNAME: &str = "x-access-token";
/// The username of ssh remotes that name none (`ssh://host/repo`).
const SSH_USERNAME: &str = "git";

#[derive(Clone, Default)]
pub struct Credentials {
    token: Option<Secret>,
    token_file: Option<PathBuf>,
    ssh_key: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_file", &self.token_file.is_some())
            .field("ssh_key", &self.ssh_key.is_some())
            .field("known_hosts", &self.known_hosts)
            .finish()
    }
}

/// The secrets of one sync, resolved once at its start.
pub struct Resolved {
    token: Option<String>,
    ssh_key: Option<PathBuf>,
    /// `None`: libgit2 checks `~/.ssh/known_hosts` itself.
    known_hosts: Option<PathBuf>,
}

impl Credentials {
    pub fn from_settings(git: &GitSettings) -> Self {
        Self {
            token: git.token.clone(),
            token_file: git.token_file.clone(),
            ssh_key: git.ssh_key.clone(),
            known_hosts: git.known_hosts.clone(),
        }
    }

    /// Reads the token file (if any) now, so a rotated token is picked up by the next sync.
    pub fn resolve(&self) -> Result<Resolved, SyncError> {
        let token = match (&self.token, &self.token_file) {
            (Some(token), _) => Some(token.expose().to_string()),
            (None, Some(file)) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    tracing::error!(error = %e, "cannot read source.git.token_file");
                    SyncError::Local("cannot read source.git.token_file".into())
                })?;
                Some(text.trim().to_string()).filter(|t| !t.is_empty())
            }
            (None, None) => None,
        };
        Ok(Resolved {
            token,
            ssh_key: self.ssh_key.clone(),
            known_hosts: self.known_hosts.clone(),
        })
    }
}

impl Resolved {
    /// Secrets to mask in anything logged.
    pub fn secrets(&self) -> Vec<String> {
        self.token.iter().cloned().collect()
    }
}

/// What happened in the credential callback of one connection, to explain its failure.
#[derive(Default)]
pub struct AuthAttempts {
    offered_token: Cell<bool>,
    offered_key: Cell<bool>,
    offered_username: Cell<bool>,
    /// The remote asked for a kind of credential that is not configured.
    pub missing: Cell<bool>,
    /// Why the remote's SSH host key was refused, when it was.
    pub host_key: Cell<Option<HostKeyError>>,
}

impl AuthAttempts {
    /// Whether configured credentials were offered (so a failure means they were refused).
    pub fn offered(&self) -> bool {
        self.offered_token.get() || self.offered_key.get()
    }

    /// Answers libgit2's credential callback. Each kind is offered once: libgit2 asks again
    /// after a refusal, and offering the same secret forever would loop.
    pub fn answer(
        &self,
        creds: &Resolved,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let refuse = || git2::Error::from_str("credentials refused");
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Some(token) = &creds.token {
                if self.offered_token.replace(true) {
                    return Err(refuse());
                }
                return Cred::userpass_plaintext(
                    username_from_url.unwrap_or(TOKEN_USERNAME),
                    token,
                );
            }
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            if let Some(key) = &creds.ssh_key {
                if self.offered_key.replace(true) {
                    return Err(refuse());
                }
                return Cred::ssh_key(username_from_url.unwrap_or(SSH_USERNAME), None, key, None);
            }
        }
        if allowed.contains(CredentialType::USERNAME) && !self.offered_username.replace(true) {
            return Cred::username(username_from_url.unwrap_or(SSH_USERNAME));
        }
        self.missing.set(true);
        Err(git2::Error::from_str("no credentials configured"))
    }
    /// Answers libgit2's certificate callback: an SSH host key is checked against
    /// `source.git.known_hosts` when it is set (else libgit2 checks `~/.ssh/known_hosts`, as it
    /// does TLS certificates against the system's roots).
    pub fn check_host(
        &self,
        creds: &Resolved,
        cert: &git2::cert::Cert<'_>,
        host: &str,
        port: u16,
    ) -> Result<git2::CertificateCheckStatus, git2::Error> {
        let passthrough = Ok(git2::CertificateCheckStatus::CertificatePassthrough);
        let (Some(known_hosts), Some(key)) = (
            &creds.known_hosts,
            cert.as_hostkey().and_then(|k| k.hostkey()),
        ) else {
            return passthrough;
        };
        match host_keys::check(known_hosts, host, port, key) {
            Ok(()) => Ok(git2::CertificateCheckStatus::CertificateOk),
            Err(e) => {
                if matches!(e, HostKeyError::Changed | HostKeyError::Revoked) {
                    tracing::error!(
                        host,
                        port,
                        reason = %e,
                        "the SSH host key of the remote is refused (if the server was \
                         re-provisioned, replace its line in source.git.known_hosts)"
                    );
                }
                self.host_key.set(Some(e));
                Err(git2::Error::from_str(&e.to_string()))
            }
        }
    }
}

/// Masks secrets and URL userinfo in text bound for a log.
pub struct Scrubber {
    /// (text to hide, what to show instead), longest first.
    replacements: Vec<(String, String)>,
}

impl Scrubber {
    /// Hides `secrets` and the userinfo of `url`.
    pub fn new(secrets: Vec<String>, url: Option<&str>) -> Self {
        let mut replacements: Vec<(String, String)> = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| (s, "***".to_string()))
            .collect();
        if let Some(userinfo) = url.and_then(userinfo) {
            replacements.push((userinfo.to_string(), String::new()));
        }
        replacements.sort_by_key(|(hide, _)| std::cmp::Reverse(hide.len()));
        Self { replacements }
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (hide, show) in &self.replacements {
            out = out.replace(hide.as_str(), show);
        }
        out
    }
}

/// The `user:password@` part of a URL, if any.
fn userinfo(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let at = authority.rfind('@')?;
    Some(&authority[..=at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_masks_secrets_and_userinfo() {
        let url = "https://me:s3cret@host/r.git";
        let s = Scrubber::new(vec!["s3cret".into()], Some(url));
        let out = s.scrub("failed to fetch 'https://me:s3cret@host/r.git': token s3cret refused");
        assert!(!out.contains("s3cret"), "{out}");
        assert!(out.contains("'https://host/r.git'"), "{out}");
    }

    #[test]
    fn each_credential_is_offered_once() {
        let creds = Resolved {
            token: Some("t".into()),
            ssh_key: None,
            known_hosts: None,
        };
        let attempts = AuthAttempts::default();
        assert!(attempts
            .answer(&creds, None, CredentialType::USER_PASS_PLAINTEXT)
            .is_ok());
        assert!(attempts
            .answer(&creds, None, CredentialType::USER_PASS_PLAINTEXT)
            .is_err());
        assert!(attempts.offered());
        let none = Resolved {
            token: None,
            ssh_key: None,
            known_hosts: None,
        };
        let attempts = AuthAttempts::default();
        assert!(attempts
            .answer(&none, None, CredentialType::USER_PASS_PLAINTEXT)
            .is_err());
        assert!(attempts.missing.get());
    }
}
