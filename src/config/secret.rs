//! A configuration value that must never be printed: tokens, keys, secrets; how long the ones
//! this server checks must be; and how one is read from a file.

use std::fmt;
use std::path::Path;

/// Shortest `admin.token`, `webhook.secret` and `security.signing_key` accepted: 16 bytes
/// (`openssl rand -hex 32` makes 64).
pub const MIN_SECRET_BYTES: usize = 16;

/// A non-empty secret string. `Debug`, `Display` and `Serialize` print a mask, never the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// `None` for an empty string, so "unset" and "set to nothing" mean the same.
    pub fn new(value: String) -> Option<Self> {
        (!value.is_empty()).then_some(Self(value))
    }

    /// The secret held by a file's text: the line end editors and `echo` leave after it
    /// (`\n`, `\r\n`) is not part of it.
    pub fn from_file_text(text: &str) -> Option<Self> {
        Self::new(text.trim_end_matches(['\n', '\r']).to_string())
    }

    /// The secret in the file at `path` ([`from_file_text`](Self::from_file_text)).
    pub fn read_file(path: &Path) -> std::io::Result<Option<Self>> {
        Ok(Self::from_file_text(&std::fs::read_to_string(path)?))
    }

    /// The secret itself, for comparing and signing; never for logging.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_trailing_newline_is_not_part_of_the_secret() {
        for text in [
            "0123456789abcdef",
            "0123456789abcdef\n",
            "0123456789abcdef\r\n",
            "0123456789abcdef\n\n",
        ] {
            let secret = Secret::from_file_text(text).unwrap();
            assert_eq!(secret.expose(), "0123456789abcdef", "{text:?}");
        }
        // Only line ends are cut: other whitespace may be part of a secret.
        assert_eq!(
            Secret::from_file_text(" padded secret \n")
                .unwrap()
                .expose(),
            " padded secret "
        );
        assert_eq!(Secret::from_file_text("\n"), None, "an empty file is unset");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-a-file-0123456789\n").unwrap();
        assert_eq!(
            Secret::read_file(&file).unwrap().unwrap().expose(),
            "from-a-file-0123456789"
        );
    }
}
