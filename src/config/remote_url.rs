//! Remote URLs as they may be shown (in `check-config`, the git status, logs): the configured
//! `source.git.remote` can carry a token in its userinfo, which must never be printed.

/// A remote URL fit for display: no userinfo (`https://user:token@host/x` → `https://host/x`),
/// no query or fragment. scp-like ssh addresses (`git@host:org/repo.git`) name a user, not a
/// secret, and are kept.
pub fn display_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(
            display_url("https://user:s3cret@git.example.com/org/repo.git"),
            "https://git.example.com/org/repo.git"
        );
        assert_eq!(
            display_url("https://tok@host:8443/r.git?x=1#f"),
            "https://host:8443/r.git"
        );
        assert_eq!(
            display_url("ssh://git@host/org/r.git"),
            "ssh://host/org/r.git"
        );
        assert_eq!(display_url("git@host:org/r.git"), "git@host:org/r.git");
        assert_eq!(display_url("file:///srv/r.git"), "file:///srv/r.git");
    }
}
