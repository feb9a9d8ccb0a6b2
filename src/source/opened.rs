//! A source file opened for reading: the very file its lookup checked (a plain file), or a blob
//! inflated into memory. Everything a request reads of one file — the sniff, the header prefix,
//! the bytes streamed or rendered — comes from one [`Opened`], so it can never be a different
//! file than the one that was checked.

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

#[derive(Debug, Clone)]
pub enum Opened {
    /// A regular file, read in place with positional reads (clones share the descriptor).
    File { file: Arc<fs::File>, size: u64 },
    /// A whole blob (libgit2 cannot stream packed objects).
    Memory(Bytes),
}

impl Opened {
    pub fn size(&self) -> u64 {
        match self {
            Opened::File { size, .. } => *size,
            Opened::Memory(bytes) => bytes.len() as u64,
        }
    }

    /// Whether reading a part holds only that part in memory (a plain file), rather than the
    /// whole source (a blob).
    pub fn reads_in_place(&self) -> bool {
        matches!(self, Opened::File { .. })
    }

    /// Up to `len` bytes from `offset` (fewer only at the end of the file).
    pub fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        match self {
            Opened::Memory(bytes) => {
                let start = offset.min(bytes.len() as u64) as usize;
                let end = start.saturating_add(len).min(bytes.len());
                Ok(bytes.slice(start..end))
            }
            Opened::File { file, size } => {
                let len = len.min(size.saturating_sub(offset) as usize);
                let mut buf = vec![0u8; len];
                let mut filled = 0;
                while filled < len {
                    match file.read_at(&mut buf[filled..], offset + filled as u64) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                buf.truncate(filled);
                Ok(Bytes::from(buf))
            }
        }
    }

    /// The whole content; a file that changed size since it was opened is an error rather than
    /// a silently different image.
    pub fn read_all(&self) -> io::Result<Bytes> {
        let size = self.size();
        let len = usize::try_from(size).map_err(|_| io::Error::other("source too large"))?;
        let bytes = self.read_at(0, len)?;
        if bytes.len() as u64 != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the source file shrank while it was read",
            ));
        }
        Ok(bytes)
    }
}
