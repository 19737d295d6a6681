//! Ownership-passing I/O helpers: each takes a connection's reused `Vec`
//! out of its slot, lends it to the kernel, and puts it back. A timeout
//! drops the operation (and the buffer with it); a fresh buffer of the same
//! capacity takes its place.

use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

pub use crate::error::IoFail;

/// Read once into the spare capacity of `buf` (growing it when full).
/// `Ok(0)` is end of stream.
pub async fn read_more<R: AsyncReadRent>(
    r: &mut R,
    buf: &mut Vec<u8>,
    limit: Duration,
) -> Result<usize, IoFail> {
    if buf.len() == buf.capacity() {
        buf.reserve(buf.capacity().max(4096));
    }
    let (len, cap) = (buf.len(), buf.capacity());
    let owned = std::mem::take(buf);
    match monoio::time::timeout(limit, r.read(owned.slice_mut(len..cap))).await {
        Ok((res, slice)) => {
            *buf = slice.into_inner();
            res.map_err(IoFail::Io)
        }
        Err(_) => {
            *buf = Vec::with_capacity(cap);
            Err(IoFail::Timeout)
        }
    }
}

/// Write all of `buf[from..to]`.
pub async fn write_range<W: AsyncWriteRent>(
    w: &mut W,
    buf: &mut Vec<u8>,
    from: usize,
    to: usize,
    limit: Duration,
) -> Result<(), IoFail> {
    if from >= to {
        return Ok(());
    }
    let cap = buf.capacity();
    let owned = std::mem::take(buf);
    match monoio::time::timeout(limit, w.write_all(owned.slice(from..to))).await {
        Ok((res, slice)) => {
            *buf = slice.into_inner();
            res.map(|_| ()).map_err(IoFail::Io)
        }
        Err(_) => {
            *buf = Vec::with_capacity(cap);
            Err(IoFail::Timeout)
        }
    }
}

/// Write all of `buf`.
pub async fn write_all<W: AsyncWriteRent>(
    w: &mut W,
    buf: &mut Vec<u8>,
    limit: Duration,
) -> Result<(), IoFail> {
    let len = buf.len();
    write_range(w, buf, 0, len, limit).await
}

/// Write a static byte string (`100 Continue`).
pub async fn write_static<W: AsyncWriteRent>(
    w: &mut W,
    bytes: &'static [u8],
    limit: Duration,
) -> Result<(), IoFail> {
    match monoio::time::timeout(limit, w.write_all(bytes)).await {
        Ok((res, _)) => res.map(|_| ()).map_err(IoFail::Io),
        Err(_) => Err(IoFail::Timeout),
    }
}

/// Remove the first `n` bytes of `buf`, keeping the rest (a pipelined
/// request, the rest of a body) at the front.
#[inline]
pub fn consume(buf: &mut Vec<u8>, n: usize) {
    if n >= buf.len() {
        buf.clear();
    } else if n > 0 {
        buf.drain(..n);
    }
}

/// Longest a closing connection keeps reading what the client still sends.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes read and dropped while lingering.
const LINGER_BYTES: usize = 256 * 1024;

/// Close after an error answer without losing it: closing a socket with
/// unread input makes the kernel send a reset, which can destroy the answer
/// before the client reads it. So half-close, then read and drop what the
/// client still sends, until it closes, [`LINGER`] passes or
/// [`LINGER_BYTES`] arrived.
pub async fn lingering_close<S: AsyncReadRent + AsyncWriteRent>(s: &mut S, buf: &mut Vec<u8>) {
    if s.shutdown().await.is_err() {
        return;
    }
    let deadline = std::time::Instant::now() + LINGER;
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        buf.clear();
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match read_more(s, buf, left).await {
            Ok(0) | Err(_) => return,
            Ok(n) => dropped += n,
        }
    }
}
