//! The start of a connection under `--proxy-protocol`: the PROXY header,
//! read from the raw TCP stream before TLS or HTTP sees a byte.
//!
//! The peer must be a trusted proxy (checked before anything is read);
//! the header must arrive whole within the head timeout and parse
//! ([`crate::proxy_protocol::parse`], which caps its size). Any other
//! connection is closed without a response: to a client that speaks no
//! PROXY protocol an answer would be noise, and to one that forges it
//! nothing is owed. Refusals are counted in
//! `ringress_proxy_protocol_refused_total` and logged at most once a
//! second per worker, as accept-time refusals are; each is also logged at
//! debug level.
//!
//! The header is read into a pooled buffer, as many bytes as the socket
//! has: the ClientHello or request head that follows it may come in the
//! same read. Those bytes stay in the buffer, at its front once the header
//! is consumed, and go to the next layer ([`crate::stream::StreamKind::wrap`]).
//! Without `--proxy-protocol` none of this runs.

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use super::io::{consume, read_more, IoFail};
use crate::buffers;
use crate::local::Worker;
use crate::proxy_protocol::{self, ProxyProtocolError};

/// Why a connection was closed before its PROXY header was read.
#[derive(Debug)]
enum Refusal {
    /// The peer is not in `--trusted-proxies`.
    Untrusted,
    /// The bytes are not an acceptable header (malformed, oversized).
    Header(ProxyProtocolError),
    /// The peer closed before the header was complete.
    Truncated,
    /// The head timeout passed before the header was complete.
    Timeout,
    /// The socket failed.
    Io(std::io::Error),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Untrusted => f.write_str("peer is not in --trusted-proxies"),
            Refusal::Header(e) => e.fmt(f),
            Refusal::Truncated => f.write_str("connection closed inside the PROXY header"),
            Refusal::Timeout => f.write_str("no complete PROXY header within the head timeout"),
            Refusal::Io(e) => write!(f, "reading the PROXY header failed: {e}"),
        }
    }
}

thread_local! {
    /// When this worker last warned about a refusal.
    static LAST_WARNING: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Reads the PROXY header of a connection from `peer`. Returns the client
/// address it carries (the peer's for v2 `LOCAL`, `UNSPEC`, `UNIX` and v1
/// `UNKNOWN`), with any bytes read after the header at the front of
/// `early`; `None` when the connection must be closed without a response
/// (already counted and logged; `early` is left empty).
pub(super) async fn read_proxy_header(
    worker: &Worker,
    tcp: &mut TcpStream,
    peer: SocketAddr,
    early: &mut Vec<u8>,
) -> Option<SocketAddr> {
    let result = if worker.settings.trusted_proxies.contains(peer.ip()) {
        *early = buffers::take();
        read(tcp, early, worker.settings.client_head_timeout).await
    } else {
        Err(Refusal::Untrusted)
    };
    match result {
        Ok((header, used)) => {
            consume(early, used);
            Some(header.client(peer))
        }
        Err(refusal) => {
            buffers::release(early);
            refuse(worker, peer, &refusal);
            None
        }
    }
}

async fn read(
    tcp: &mut TcpStream,
    buf: &mut Vec<u8>,
    limit: Duration,
) -> Result<(proxy_protocol::ProxyHeader, usize), Refusal> {
    let deadline = Instant::now() + limit;
    loop {
        // The parser refuses anything longer than MAX_HEADER_BYTES, so the
        // buffer never grows: a pooled one holds far more.
        if let Some(done) = proxy_protocol::parse(buf).map_err(Refusal::Header)? {
            return Ok(done);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match read_more(tcp, buf, left).await {
            Ok(0) => return Err(Refusal::Truncated),
            Ok(_) => {}
            Err(IoFail::Timeout) => return Err(Refusal::Timeout),
            Err(IoFail::Io(e)) => return Err(Refusal::Io(e)),
        }
    }
}

fn refuse(worker: &Worker, peer: SocketAddr, refusal: &Refusal) {
    worker.m().proxy_protocol_refused.inc();
    tracing::debug!(%peer, reason = %refusal, "connection closed without a response (--proxy-protocol)");
    let now = Instant::now();
    let warn = LAST_WARNING.with(|last| {
        let due = last.get().is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if due {
            last.set(Some(now));
        }
        due
    });
    if warn {
        tracing::warn!(
            worker = worker.index,
            %peer,
            reason = %refusal,
            "closing connections without a PROXY protocol header from a trusted proxy (--proxy-protocol); \
             counted in ringress_proxy_protocol_refused_total"
        );
    }
}
