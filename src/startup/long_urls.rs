//! URLs too long for actix-http. Its URI parser (the `http` crate's) refuses a request target
//! over 64 KiB with a bare 400 before any middleware runs, so the front door's JSON 414
//! (`middleware::guard`, for URLs over 8 KiB) cannot answer those. This reader sits between the
//! socket and actix-http: it watches each request line as it arrives, and one longer than
//! [`MAX_REQUEST_LINE`] it answers itself with the same 414, then closes the connection (reading
//! what the client still sends, up to a bound, so that the answer is not lost to a reset).
//!
//! To know where request lines start on a keep-alive connection it follows the framing: a head,
//! then the `Content-Length` bytes of its body. After a chunked body it stops watching (only
//! control-plane calls send bodies, and those are bounded elsewhere).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{error_body, ErrorCode};
use crate::middleware::MAX_URI_BYTES;

/// Longest request line handed to actix-http: under the 65 534 bytes its URI parser takes, far
/// over the 8 KiB the front door allows.
pub const MAX_REQUEST_LINE: usize = 60 * 1024;

/// What a refused client may still send that is read and dropped before the close.
const DRAIN_LIMIT: u64 = 1 << 20;

/// Enough of a header line to read `Content-Length` and `Transfer-Encoding`.
const HEADER_PREFIX: usize = 64;

#[derive(Debug, PartialEq)]
enum Framing {
    Head(Head),
    /// Body bytes still to come.
    Body(u64),
    /// Not watched any more (after a chunked or malformed body announcement).
    Off,
}

#[derive(Debug, PartialEq, Default)]
struct Head {
    /// Bytes of the current line so far (without CR and LF).
    line: usize,
    /// Whether the current line is the request line (blank lines before it are skipped).
    request_line: bool,
    /// The start of the current header line, lowercased.
    prefix: Vec<u8>,
    content_length: u64,
    chunked: bool,
}

impl Head {
    fn new() -> Self {
        Self {
            request_line: true,
            ..Self::default()
        }
    }
}

/// The verdict on a piece of the stream.
#[derive(Debug, PartialEq)]
enum Scan {
    Fine,
    /// A request line over the limit.
    TooLong,
}

impl Framing {
    fn scan(&mut self, mut bytes: &[u8]) -> Scan {
        while !bytes.is_empty() {
            match self {
                Framing::Off => return Scan::Fine,
                Framing::Body(left) => {
                    let taken = (*left).min(bytes.len() as u64);
                    bytes = &bytes[taken as usize..];
                    *left -= taken;
                    if *left == 0 {
                        *self = Framing::Head(Head::new());
                    }
                }
                Framing::Head(head) => {
                    let byte = bytes[0];
                    bytes = &bytes[1..];
                    match byte {
                        b'\r' => {}
                        b'\n' => {
                            if let Some(next) = head.end_line() {
                                *self = next;
                            }
                        }
                        _ => {
                            head.line += 1;
                            if head.request_line && head.line > MAX_REQUEST_LINE {
                                return Scan::TooLong;
                            }
                            if !head.request_line && head.prefix.len() < HEADER_PREFIX {
                                head.prefix.push(byte.to_ascii_lowercase());
                            }
                        }
                    }
                }
            }
        }
        Scan::Fine
    }
}

impl Head {
    /// A line ended: what comes next, when the head ended with it.
    fn end_line(&mut self) -> Option<Framing> {
        let empty = self.line == 0;
        self.line = 0;
        if self.request_line {
            // Blank lines before a request line are allowed and skipped.
            self.request_line = empty;
            return None;
        }
        if empty {
            return Some(if self.chunked {
                Framing::Off
            } else if self.content_length > 0 {
                Framing::Body(self.content_length)
            } else {
                Framing::Head(Head::new())
            });
        }
        let line = std::mem::take(&mut self.prefix);
        let colon = line.iter().position(|&b| b == b':')?;
        let value = String::from_utf8_lossy(&line[colon + 1..]);
        match line[..colon].trim_ascii() {
            b"content-length" => match value.trim().parse() {
                Ok(length) => self.content_length = length,
                // Too long to have been read whole, or not a number: actix refuses it anyway.
                Err(_) => return Some(Framing::Off),
            },
            b"transfer-encoding" if value.contains("chunked") => self.chunked = true,
            _ => {}
        }
        None
    }
}

/// The answer to a request line over the limit: the service's JSON 414, then close.
fn refusal() -> Vec<u8> {
    let body = error_body(
        ErrorCode::UriTooLong,
        &format!("the URL is longer than {MAX_URI_BYTES} bytes"),
    );
    format!(
        "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n\
         x-content-type-options: nosniff\r\ncache-control: no-store\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

enum Refusal {
    Writing { bytes: Vec<u8>, written: usize },
    Closing,
    Draining { read: u64 },
    Done,
}

/// A connection as actix-http reads it, with over-long request lines answered here.
pub struct LongUrlGuard<T> {
    inner: T,
    framing: Framing,
    refusal: Option<Refusal>,
}

impl<T> LongUrlGuard<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            framing: Framing::Head(Head::new()),
            refusal: None,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> LongUrlGuard<T> {
    /// Sends the refusal and drains the client; `Ready` means the connection is over for actix.
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let Some(state) = &mut self.refusal else {
                return Poll::Ready(Ok(()));
            };
            match state {
                Refusal::Writing { bytes, written } => {
                    while *written < bytes.len() {
                        let n =
                            ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
                        if n == 0 {
                            self.refusal = Some(Refusal::Done);
                            return Poll::Ready(Ok(()));
                        }
                        *written += n;
                    }
                    self.refusal = Some(Refusal::Closing);
                }
                Refusal::Closing => {
                    // FIN after the answer: the client reads it to the end.
                    ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
                    self.refusal = Some(Refusal::Draining { read: 0 });
                }
                Refusal::Draining { read } => {
                    let mut scratch = [0u8; 16 * 1024];
                    let mut buf = ReadBuf::new(&mut scratch);
                    ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf))?;
                    let n = buf.filled().len() as u64;
                    *read += n;
                    if n == 0 || *read > DRAIN_LIMIT {
                        self.refusal = Some(Refusal::Done);
                    }
                }
                Refusal::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for LongUrlGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusal.is_some() {
            // Whatever happens, actix reads the end of the stream.
            return this.poll_refusal(cx).map(|_| Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if this.framing.scan(&buf.filled()[before..]) == Scan::TooLong {
            tracing::info!(
                limit = MAX_REQUEST_LINE,
                "request line too long: answered 414 and closed"
            );
            buf.set_filled(before);
            this.framing = Framing::Off;
            this.refusal = Some(Refusal::Writing {
                bytes: refusal(),
                written: 0,
            });
            return this.poll_refusal(cx).map(|_| Ok(()));
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LongUrlGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, bytes)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(line_len: usize, headers: &str, body: &str) -> Vec<u8> {
        let target = format!("/img/a.jpg?x={}", "a".repeat(line_len));
        format!("GET {target} HTTP/1.1\r\n{headers}\r\n{body}").into_bytes()
    }

    #[test]
    fn request_lines_are_followed_across_keep_alive_requests() {
        let mut framing = Framing::Head(Head::new());
        // A POST with a body that holds a long line (not a request line), then a GET.
        let post = "POST /admin/cache/clear HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n";
        assert_eq!(framing.scan(post.as_bytes()), Scan::Fine);
        assert_eq!(framing, Framing::Body(70_000));
        assert_eq!(framing.scan(&vec![b'x'; 70_000]), Scan::Fine);
        let get = request(100, "Host: x\r\n", "");
        // Split anywhere, the verdict is the same.
        for piece in get.chunks(7) {
            assert_eq!(framing.scan(piece), Scan::Fine);
        }
        assert_eq!(framing, Framing::Head(Head::new()));
        let long = request(MAX_REQUEST_LINE, "Host: x\r\n", "");
        assert_eq!(framing.scan(&long[..1000]), Scan::Fine);
        assert_eq!(framing.scan(&long[1000..]), Scan::TooLong);
    }

    #[test]
    fn lines_at_the_limit_pass_and_chunked_bodies_end_the_watch() {
        let mut framing = Framing::Head(Head::new());
        let at_limit = "a".repeat(MAX_REQUEST_LINE);
        assert_eq!(
            framing.scan(format!("\r\n{at_limit}\r\n").as_bytes()),
            Scan::Fine
        );
        let mut framing = Framing::Head(Head::new());
        let chunked = "POST /hooks/git HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(framing.scan(chunked.as_bytes()), Scan::Fine);
        assert_eq!(framing, Framing::Off);
        assert_eq!(framing.scan(&request(MAX_REQUEST_LINE, "", "")), Scan::Fine);
    }

    #[test]
    fn the_refusal_is_the_services_json_414() {
        let text = String::from_utf8(refusal()).unwrap();
        assert!(text.starts_with("HTTP/1.1 414 "));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "uri_too_long");
    }
}
