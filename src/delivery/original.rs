//! Sources served without holding them: the header probe of originals and `/info` reads a
//! prefix (growing only while the header needs more), and an original's bytes are streamed in
//! bounded chunks, read only as the client takes them. Every byte held is charged to the
//! source budget for as long as it is held.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::task::JoinHandle;

use super::blocking;
use crate::error::AppError;
use crate::limits::{SourceBudget, SourcePermit};
use crate::pipeline::{self, Outputs, PipelineError, PipelineSettings};
use crate::source::Opened;

/// The first header read: enough for nearly every file (JPEG's EXIF and ICC segments included).
const FIRST_PREFIX_BYTES: u64 = 64 * 1024;
/// Each further read takes this many times more, so a header deep in the file (a GIF's frames,
/// JPEG segments or an AVIF `meta` after `mdat`) costs a few reads, never more than the file.
const PREFIX_GROWTH: u64 = 4;
/// One read of a streamed original.
const STREAM_CHUNK_BYTES: u64 = 64 * 1024;
/// Charged per streamed original: its chunk, and the connection's write buffer that copies it.
pub(super) const STREAM_HELD_BYTES: u64 = 2 * STREAM_CHUNK_BYTES;

/// The source's checked header, read from a prefix of `opened`. A prefix that does not hold the
/// whole header is grown, up to the whole file (which `images.max_source_bytes` bounds); the
/// error of the whole file is the answer.
pub(super) async fn probe(
    opened: &Opened,
    budget: &Arc<SourceBudget>,
    settings: &PipelineSettings,
) -> Result<Outputs, AppError> {
    if !opened.reads_in_place() {
        // Already in memory (and charged whole): a slice costs nothing.
        let bytes = opened
            .read_at(0, opened.size() as usize)
            .map_err(read_error)?;
        return Ok(pipeline::outputs(&bytes, settings)?);
    }
    let size = opened.size();
    let mut want = FIRST_PREFIX_BYTES;
    loop {
        let len = want.min(size);
        let _held = budget.acquire(len).await?;
        let file = opened.clone();
        let prefix = blocking(move || file.read_at(0, len as usize).map_err(read_error)).await?;
        match pipeline::outputs(&prefix, settings) {
            Err(PipelineError::Unsupported(_)) if len < size => {
                want = want.saturating_mul(PREFIX_GROWTH);
            }
            other => return Ok(other?),
        }
    }
}

fn read_error(e: io::Error) -> AppError {
    AppError::internal(anyhow::Error::new(e).context("cannot read a source file"))
}

/// An original's bytes as a body: chunks read (off the async workers) only when the connection
/// asks for the next one, which it does only once the previous one is written out.
pub struct OriginalStream {
    opened: Opened,
    offset: u64,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    _held: SourcePermit,
}

impl OriginalStream {
    pub(super) fn new(opened: Opened, held: SourcePermit) -> Self {
        Self {
            opened,
            offset: 0,
            pending: None,
            _held: held,
        }
    }

    /// The body's length (sent as `Content-Length`).
    pub fn len(&self) -> u64 {
        self.opened.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for OriginalStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginalStream")
            .field("size", &self.len())
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl Stream for OriginalStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let size = this.opened.size();
        if this.offset >= size {
            return Poll::Ready(None);
        }
        let len = STREAM_CHUNK_BYTES.min(size - this.offset) as usize;
        let result = match &this.opened {
            Opened::Memory(_) => this.opened.read_at(this.offset, len),
            Opened::File { .. } => {
                let (opened, offset) = (&this.opened, this.offset);
                let pending = this.pending.get_or_insert_with(|| {
                    let file = opened.clone();
                    tokio::task::spawn_blocking(move || file.read_at(offset, len))
                });
                let joined = ready!(Pin::new(pending).poll(cx));
                this.pending = None;
                joined.unwrap_or_else(|e| Err(io::Error::other(e)))
            }
        };
        // The file shrank under the response: end it as broken, not short.
        let result = result.and_then(|chunk| match chunk.is_empty() {
            true => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the source file shrank while it was sent",
            )),
            false => Ok(chunk),
        });
        Poll::Ready(Some(match result {
            Ok(chunk) => {
                this.offset += chunk.len() as u64;
                Ok(chunk)
            }
            Err(e) => {
                tracing::warn!("an original could not be read to the end: {e}");
                this.offset = size;
                Err(e)
            }
        }))
    }
}
