//! Phase 4 in detail: the request going up, its body streamed through the
//! connection's reused buffers in either framing, never held whole.

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;

use super::io::{consume, read_more, write_all, write_range, write_static};
use super::state::{Body, Progress};
use super::Conn;
use crate::error::ProxyError;
use crate::http::{write_upstream_request_head, BodyFraming, ChunkedState, RequestHead, CONTINUE};

/// Where a request body stands after the bytes already buffered.
enum Rest {
    Done,
    Length(u64),
    Chunked(ChunkedState),
}

/// Phase 4: send the rewritten head and the body upstream. With `again`
/// (a retry) `conn.out` already holds the complete request.
pub(super) async fn forward<S>(
    c: &mut Conn,
    down: &mut S,
    head: &RequestHead,
    up: &mut TcpStream,
    again: bool,
) -> Result<(), ProxyError>
where
    S: AsyncReadRent + AsyncWriteRent,
{
    let up_limit = c.worker.settings.upstream_body_timeout;
    let down_limit = c.worker.settings.client_body_timeout;
    let mut rest = Rest::Done;
    if !again {
        c.out.clear();
        write_upstream_request_head(&c.buf, head, &c.fwd, &mut c.out);
        consume(&mut c.buf, head.head_len);
        c.p = Progress::Sending(Body::Pending);
        rest = match head.framing {
            BodyFraming::Empty => Rest::Done,
            BodyFraming::Length(n) => {
                let k = (c.buf.len() as u64).min(n) as usize;
                if k as u64 == n {
                    c.out.extend_from_slice(&c.buf[..k]);
                    consume(&mut c.buf, k);
                    Rest::Done
                } else {
                    Rest::Length(n)
                }
            }
            BodyFraming::Chunked => {
                let mut state = ChunkedState::new();
                let mut data = 0u64;
                let (k, done) = state
                    .advance_with(&c.buf, |d| data += d.len() as u64)
                    .map_err(ProxyError::BadRequestBody)?;
                if done {
                    check_body_size(data, c.max_body)?;
                    c.out.extend_from_slice(&c.buf[..k]);
                    consume(&mut c.buf, k);
                    Rest::Done
                } else {
                    Rest::Chunked(ChunkedState::new())
                }
            }
        };
        if matches!(rest, Rest::Done) {
            c.p = Progress::Sending(Body::Complete);
        }
    } else {
        // Only a request wholly in `out` is sent again (`Progress::can_retry`).
        c.p = Progress::Sending(Body::Complete);
    }
    write_all(up, &mut c.out, up_limit)
        .await
        .map_err(|e| ProxyError::upstream_io(e, ProxyError::UpstreamTimeout))?;
    if matches!(rest, Rest::Done) {
        c.p = Progress::Sent { replayable: true };
        return Ok(());
    }
    // The body continues beyond what was buffered: stream it.
    c.p = Progress::StreamingBody;
    if head.expect_continue && c.buf.is_empty() {
        write_static(down, CONTINUE, down_limit).await.map_err(ProxyError::downstream_io)?;
    }
    // Chunk data seen so far (a declared length was checked up front).
    let mut data = 0u64;
    loop {
        if c.buf.is_empty() {
            let n =
                read_more(down, &mut c.buf, down_limit).await.map_err(ProxyError::downstream_io)?;
            if n == 0 {
                return Err(ProxyError::DownstreamClosed);
            }
        }
        let (k, done) = match &mut rest {
            Rest::Length(left) => {
                let k = (c.buf.len() as u64).min(*left);
                *left -= k;
                (k as usize, *left == 0)
            }
            Rest::Chunked(state) => {
                let step = state
                    .advance_with(&c.buf, |d| data += d.len() as u64)
                    .map_err(ProxyError::BadRequestBody)?;
                // Counted before these bytes go up: the upstream never
                // gets more than the limit.
                check_body_size(data, c.max_body)?;
                step
            }
            Rest::Done => (0, true),
        };
        write_range(up, &mut c.buf, 0, k, up_limit)
            .await
            .map_err(|e| ProxyError::upstream_io(e, ProxyError::UpstreamTimeout))?;
        consume(&mut c.buf, k);
        if done {
            c.p = Progress::Sent { replayable: false };
            return Ok(());
        }
    }
}

/// A chunked body that has grown past the limit is refused (413 while no
/// response has started; the upstream connection it was going to is
/// dropped with the error, never pooled).
#[inline]
fn check_body_size(data: u64, limit: Option<u64>) -> Result<(), ProxyError> {
    match limit {
        Some(limit) if data > limit => Err(ProxyError::BodyTooLarge),
        _ => Ok(()),
    }
}
