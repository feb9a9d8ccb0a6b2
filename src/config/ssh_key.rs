//! What `source.git.ssh_key` must be: a private key without a passphrase. The sync runs
//! unattended, so a key that needs one could never be used; it is refused when the
//! configuration is checked, with a message saying why, instead of failing every sync.

use base64::Engine;

/// Why a key file cannot serve as the deploy key, if it cannot.
pub fn problem(text: &str) -> Option<&'static str> {
    const PASSPHRASE: &str = "is protected by a passphrase, which an unattended sync cannot \
                              type: use a deploy key without one (ssh-keygen -N '')";
    if text.contains("ENCRYPTED") {
        // PEM: `Proc-Type: 4,ENCRYPTED`, or PKCS#8's `BEGIN ENCRYPTED PRIVATE KEY`.
        return Some(PASSPHRASE);
    }
    let body = text
        .split("-----BEGIN OPENSSH PRIVATE KEY-----")
        .nth(1)?
        .split("-----END OPENSSH PRIVATE KEY-----")
        .next()?;
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(body) else {
        return Some("is not a readable OpenSSH private key");
    };
    // "openssh-key-v1\0", then the cipher name as a length-prefixed string: "none" when the
    // key has no passphrase.
    let rest = blob.strip_prefix(b"openssh-key-v1\0".as_slice())?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let cipher = rest.get(4..4 + len)?;
    (cipher != b"none").then_some(PASSPHRASE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssh(cipher: &str) -> String {
        let mut blob = b"openssh-key-v1\0".to_vec();
        blob.extend_from_slice(&(cipher.len() as u32).to_be_bytes());
        blob.extend_from_slice(cipher.as_bytes());
        blob.extend_from_slice(&[0; 16]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{b64}\n-----END OPENSSH PRIVATE KEY-----\n")
    }

    #[test]
    fn keys_with_a_passphrase_are_refused() {
        assert_eq!(problem(&openssh("none")), None);
        assert!(problem(&openssh("aes256-ctr"))
            .unwrap()
            .contains("passphrase"));
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: x\n\nAAAA\n";
        assert!(problem(pem).unwrap().contains("passphrase"));
        assert_eq!(problem("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"), None);
    }
}
