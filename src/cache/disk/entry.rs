//! The on-disk format of one variant: a single file holding a fixed prefix, a small header and
//! the encoded image, so an entry is served without decoding anything and found again by source
//! path or version without reading its body.
//!
//! ```text
//! 0   magic "IMGSVAR1" (a format change makes old entries unreadable, hence deleted)
//! 8   header length  u32 LE
//! 12  body length    u64 LE
//! 20  CRC-32 of header and body  u32 LE
//! 24  header: key, content type, ETag, origin path, origin content id (each u16 LE length + UTF-8)
//! ..  body: the encoded image
//! ```
//!
//! The file length must be exactly the prefix plus both lengths, and the checksum must match:
//! an entry cut off by a crash or damaged on disk is detected and never served.

use bytes::Bytes;

use crate::cache::{Origin, Variant};
use crate::source::RelPath;

const MAGIC: &[u8; 8] = b"IMGSVAR1";
pub(super) const PREFIX_LEN: usize = 24;
/// Headers are a few hundred bytes; anything bigger is damage.
pub(super) const MAX_HEADER_LEN: usize = 16 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("not a cache entry of this version")]
    Magic,
    #[error("the entry's length does not match its header (cut off)")]
    Length,
    #[error("the entry's checksum does not match")]
    Checksum,
    #[error("malformed header")]
    Header,
    #[error("the entry belongs to another key")]
    Key,
}

/// What the start-up scan learns from an entry's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    pub key: String,
    pub origin: Origin,
}

/// The prefix and header of `variant` stored under `key`; the body follows it unchanged.
pub fn encode_head(key: &str, variant: &Variant) -> Vec<u8> {
    let mut header = Vec::with_capacity(256);
    for field in [
        key,
        &variant.content_type,
        &variant.etag,
        variant.origin.path.as_str(),
        &variant.origin.content_id,
    ] {
        let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
        header.extend_from_slice(&len.to_le_bytes());
        header.extend_from_slice(&field.as_bytes()[..len as usize]);
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header);
    crc.update(&variant.bytes);
    let mut head = Vec::with_capacity(PREFIX_LEN + header.len());
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&(header.len() as u32).to_le_bytes());
    head.extend_from_slice(&(variant.bytes.len() as u64).to_le_bytes());
    head.extend_from_slice(&crc.finalize().to_le_bytes());
    head.extend_from_slice(&header);
    head
}

/// The variant in a whole entry file, after checking its length, checksum and key.
pub fn decode(key: &str, file: Bytes) -> Result<Variant, EntryError> {
    let prefix = Prefix::parse(&file, file.len() as u64)?;
    let header_end = PREFIX_LEN + prefix.header_len;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&file[PREFIX_LEN..]);
    if crc.finalize() != prefix.crc {
        return Err(EntryError::Checksum);
    }
    let fields = Fields::parse(&file[PREFIX_LEN..header_end])?;
    if fields.key != key {
        return Err(EntryError::Key);
    }
    Ok(Variant {
        content_type: fields.content_type.to_string(),
        etag: fields.etag.to_string(),
        origin: fields.origin()?,
        bytes: file.slice(header_end..),
    })
}

/// The key and origin of an entry from its first bytes (at least the prefix and header), given
/// the file's length; the body is not read, so its checksum is checked only when served.
pub fn read_meta(head: &[u8], file_len: u64) -> Result<EntryMeta, EntryError> {
    let prefix = Prefix::parse(head, file_len)?;
    let header = head
        .get(PREFIX_LEN..PREFIX_LEN + prefix.header_len)
        .ok_or(EntryError::Length)?;
    let fields = Fields::parse(header)?;
    Ok(EntryMeta {
        key: fields.key.to_string(),
        origin: fields.origin()?,
    })
}

/// The header length announced by an entry's prefix (its first [`PREFIX_LEN`] bytes).
pub fn header_len(prefix: &[u8]) -> Result<usize, EntryError> {
    if prefix.len() < PREFIX_LEN || &prefix[..8] != MAGIC {
        return Err(EntryError::Magic);
    }
    let len = u32::from_le_bytes(prefix[8..12].try_into().expect("4 bytes")) as usize;
    if len > MAX_HEADER_LEN {
        return Err(EntryError::Header);
    }
    Ok(len)
}

struct Prefix {
    header_len: usize,
    crc: u32,
}

impl Prefix {
    fn parse(head: &[u8], file_len: u64) -> Result<Self, EntryError> {
        if head.len() < PREFIX_LEN {
            return Err(if MAGIC.starts_with(head) {
                EntryError::Length
            } else {
                EntryError::Magic
            });
        }
        if &head[..8] != MAGIC {
            return Err(EntryError::Magic);
        }
        let header_len = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) as usize;
        let body_len = u64::from_le_bytes(head[12..20].try_into().expect("8 bytes"));
        let crc = u32::from_le_bytes(head[20..24].try_into().expect("4 bytes"));
        if header_len > MAX_HEADER_LEN {
            return Err(EntryError::Header);
        }
        let expected = (PREFIX_LEN as u64 + header_len as u64).checked_add(body_len);
        if expected != Some(file_len) {
            return Err(EntryError::Length);
        }
        Ok(Self { header_len, crc })
    }
}

struct Fields<'a> {
    key: &'a str,
    content_type: &'a str,
    etag: &'a str,
    path: &'a str,
    content_id: &'a str,
}

impl<'a> Fields<'a> {
    fn parse(mut header: &'a [u8]) -> Result<Self, EntryError> {
        let mut next = || -> Result<&'a str, EntryError> {
            let len_bytes = header.get(..2).ok_or(EntryError::Header)?;
            let len = u16::from_le_bytes([len_bytes[0], len_bytes[1]]) as usize;
            let field = header.get(2..2 + len).ok_or(EntryError::Header)?;
            header = &header[2 + len..];
            std::str::from_utf8(field).map_err(|_| EntryError::Header)
        };
        let fields = Self {
            key: next()?,
            content_type: next()?,
            etag: next()?,
            path: next()?,
            content_id: next()?,
        };
        if !header.is_empty() {
            return Err(EntryError::Header);
        }
        Ok(fields)
    }

    fn origin(&self) -> Result<Origin, EntryError> {
        Ok(Origin {
            path: RelPath::parse(self.path).map_err(|_| EntryError::Header)?,
            content_id: self.content_id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant() -> Variant {
        Variant {
            bytes: Bytes::from_static(b"\x89PNG pretend image bytes"),
            content_type: "image/png".into(),
            etag: "\"abc\"".into(),
            origin: Origin {
                path: RelPath::parse("cats/a.png").unwrap(),
                content_id: "c0ffee".into(),
            },
        }
    }

    fn file(key: &str, v: &Variant) -> Vec<u8> {
        let mut f = encode_head(key, v);
        f.extend_from_slice(&v.bytes);
        f
    }

    #[test]
    fn round_trips_and_reads_meta_from_the_head() {
        let v = variant();
        let f = file("k1", &v);
        let back = decode("k1", Bytes::from(f.clone())).unwrap();
        assert_eq!(back.bytes, v.bytes);
        assert_eq!(back.content_type, v.content_type);
        assert_eq!(back.etag, v.etag);
        assert_eq!(back.origin, v.origin);
        let head_len = f.len() - v.bytes.len();
        let meta = read_meta(&f[..head_len], f.len() as u64).unwrap();
        assert_eq!(meta.key, "k1");
        assert_eq!(meta.origin, v.origin);
    }

    #[test]
    fn every_truncation_is_detected() {
        let f = file("k1", &variant());
        for cut in 0..f.len() {
            let part = Bytes::copy_from_slice(&f[..cut]);
            assert!(decode("k1", part).is_err(), "cut at {cut} was accepted");
            assert!(read_meta(&f[..cut], cut as u64).is_err());
        }
    }

    #[test]
    fn damage_and_wrong_keys_are_detected() {
        let f = file("k1", &variant());
        for at in [0, 9, 13, 21, 30, f.len() - 1] {
            let mut bad = f.clone();
            bad[at] ^= 0x40;
            assert!(decode("k1", Bytes::from(bad)).is_err(), "flip at {at}");
        }
        assert_eq!(
            decode("k2", Bytes::from(f.clone())).unwrap_err(),
            EntryError::Key
        );
        let mut longer = f;
        longer.push(0);
        assert_eq!(
            decode("k1", Bytes::from(longer)).unwrap_err(),
            EntryError::Length
        );
    }
}
