//! Phase 5 in detail: the response coming back, its body streamed
//! through the connection's reused buffers in every framing, never held
//! whole; the upstream connection pooled when it is in step.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;

use super::io::{consume, read_more, write_all, write_range, IoFail};
use super::state::Body;
use super::state::Progress;
use super::{closes_anyway, After};
use crate::error::ProxyError;
use crate::http::upgrade::switch_agreed;
use crate::http::{
    parse_response_head, write_downstream_response_head, ChunkedState, HeadError, HeadLimits,
    RequestHead, ResponseContext, ResponseFraming, ResponseHead,
};
use crate::local::drain::ConnGuard;
use crate::local::Worker;
use ringress_control::table::NextUpstream;

/// What phase 5 reads and changes, borrowed from the connection for one
/// request, and nothing else of it.
pub(super) struct Download<'c> {
    /// Settings, metrics, the date, the pool the upstream goes back to.
    pub worker: &'c Worker,
    /// Response head limits (those of requests).
    pub limits: &'c HeadLimits,
    /// The request's clock (read once, when its head arrived).
    pub now: Instant,
    /// The connection's drain registration and its request count: whether
    /// it closes after this response whatever the client asked
    /// ([`closes_anyway`]), read when the response head is written.
    pub guard: &'c ConnGuard,
    pub requests: u32,
    /// Upstream bytes: the response head, then its body as it arrives.
    pub ubuf: &'c mut Vec<u8>,
    /// The downstream response head (and small bodies with it).
    pub out: &'c mut Vec<u8>,
    /// Where the request stands ([`Progress`]).
    pub p: &'c mut Progress,
    /// The route's `proxy-read-timeout`, in place of
    /// `--upstream-response-timeout` and `--upstream-body-timeout`.
    pub read_timeout: Option<Duration>,
    /// `proxy-next-upstream` statuses (`NextUpstream::statuses` bits) to
    /// give up on instead of relaying, when another attempt may follow.
    pub retry_statuses: u8,
    /// `custom-http-errors` statuses to hand to the default backend
    /// instead of relaying (empty: none).
    pub intercept: &'c [u16],
    /// Header lines the final response carries (the route's CORS lines),
    /// in place of the upstream's lines of the same names.
    pub extra: &'c [u8],
}

impl Download<'_> {
    /// Longest pause between two reads of the response body.
    #[inline]
    fn body_read_timeout(&self) -> Duration {
        self.read_timeout.unwrap_or(self.worker.settings.upstream_body_timeout)
    }
}

/// Read from upstream until a complete response head is at the start of
/// `c.ubuf`.
async fn read_response_head(
    c: &mut Download<'_>,
    up: &mut TcpStream,
    head: &RequestHead,
) -> Result<ResponseHead, ProxyError> {
    let timeout = c.read_timeout.unwrap_or(c.worker.settings.upstream_response_timeout);
    let mut deadline = None;
    loop {
        if !c.ubuf.is_empty() {
            if let Some(resp) = parse_response(c.ubuf, head, c.limits)? {
                return Ok(resp);
            }
        }
        // The first read waits the whole timeout; later ones what is left.
        let left = match deadline {
            None => {
                deadline = Some(c.now + timeout);
                timeout
            }
            Some(d) => d.saturating_duration_since(Instant::now()),
        };
        let n = read_more(up, c.ubuf, left)
            .await
            .map_err(|e| ProxyError::upstream_io(e, ProxyError::UpstreamTimeout))?;
        if n == 0 {
            return Err(ProxyError::UpstreamClosedEarly);
        }
        c.p.answered();
    }
}

/// Phase 5: relay the response head and body downstream; return the
/// upstream connection to the pool when it can carry another request.
pub(super) async fn relay_response<S>(
    mut c: Download<'_>,
    down: &mut S,
    head: &RequestHead,
    mut up: TcpStream,
    addr: SocketAddr,
) -> Result<After, ProxyError>
where
    S: AsyncReadRent + AsyncWriteRent,
{
    let down_limit = c.worker.settings.client_body_timeout;
    c.ubuf.clear();
    let mut resp = loop {
        let resp = read_response_head(&mut c, &mut up, head).await?;
        if !resp.is_interim() {
            break resp;
        }
        // 1xx other than 101: relay to HTTP/1.1 clients, then read on.
        if head.minor_version == 1 {
            let date = c.worker.date();
            let ctx = ResponseContext::new(head, &resp, &date, false);
            c.out.clear();
            write_downstream_response_head(c.ubuf, &resp, &ctx, c.out);
            c.p.responding();
            c.worker.m().response(resp.status);
            write_all(down, c.out, down_limit).await.map_err(ProxyError::downstream_io)?;
        }
        consume(c.ubuf, resp.head_len);
    };
    if c.retry_statuses & NextUpstream::status_bit(resp.status) != 0
        && !matches!(c.p, Progress::Responding(_))
    {
        // Nothing relayed; this connection is dropped, not pooled.
        return Err(ProxyError::UpstreamStatus(resp.status));
    }
    if c.intercept.contains(&resp.status) && !matches!(c.p, Progress::Responding(_)) {
        return Err(ProxyError::Intercepted(resp.status));
    }
    let force_close = c.p.must_close(
        head.keep_alive,
        closes_anyway(&c.worker.settings, c.guard, c.requests),
        None,
    );
    let date = c.worker.date();
    let mut ctx = ResponseContext::new(head, &resp, &date, force_close);
    if !c.extra.is_empty() {
        // As `more_set_headers`: the proxy's lines replace the upstream's.
        let mut resp_drop = resp.drop;
        for (i, h) in resp.headers().iter().enumerate() {
            if ringress_control::table::Cors::replaces(h.name.get(c.ubuf)) {
                resp_drop.insert(i);
            }
        }
        resp.drop = resp_drop;
        ctx.extra = c.extra;
    }
    if resp.status == 101 && !switch_agreed_to(c.worker, c.ubuf, head, &resp) {
        return Err(ProxyError::UpstreamBadResponse(HeadError::BadStatusLine));
    }
    c.out.clear();
    write_downstream_response_head(c.ubuf, &resp, &ctx, c.out);
    consume(c.ubuf, resp.head_len);
    if resp.status == 101 {
        c.p.responding();
        c.worker.m().response(101);
        write_all(down, c.out, down_limit).await.map_err(ProxyError::downstream_io)?;
        return Ok(After::Upgrade(up));
    }
    c.worker.m().response(resp.status);
    let reusable = match resp.framing {
        ResponseFraming::Empty => {
            c.p.responding();
            write_all(down, c.out, down_limit).await.map_err(ProxyError::downstream_io)?;
            c.ubuf.is_empty()
        }
        ResponseFraming::Length(n) => relay_length(&mut c, down, &mut up, n).await?,
        ResponseFraming::Chunked => relay_chunked(&mut c, down, &mut up, ctx.dechunk).await?,
        ResponseFraming::CloseDelimited => {
            relay_until_close(&mut c, down, &mut up).await?;
            false
        }
    };
    // An upstream that answered before the whole request body was sent
    // (`Progress::may_have_early_answer`) is never reused: it is out of step.
    if reusable && resp.keep_alive && c.ubuf.is_empty() && c.p.body() == Body::Complete {
        c.worker.pool.put(addr, up, c.now);
    }
    Ok(if ctx.close { After::Close } else { After::KeepAlive })
}

/// A Content-Length body. Returns whether the upstream sent exactly it.
async fn relay_length<S: AsyncWriteRent>(
    c: &mut Download<'_>,
    down: &mut S,
    up: &mut TcpStream,
    n: u64,
) -> Result<bool, ProxyError> {
    let (down_limit, up_limit) = (c.worker.settings.client_body_timeout, c.body_read_timeout());
    let k = (c.ubuf.len() as u64).min(n) as usize;
    if k as u64 == n {
        // The whole body is here: one write for head and body.
        c.out.extend_from_slice(&c.ubuf[..k]);
        consume(c.ubuf, k);
        c.p.responding();
        write_all(down, c.out, down_limit).await.map_err(ProxyError::downstream_io)?;
        return Ok(c.ubuf.is_empty());
    }
    c.p.responding();
    write_all(down, c.out, down_limit).await.map_err(ProxyError::downstream_io)?;
    let mut left = n;
    loop {
        let k = (c.ubuf.len() as u64).min(left) as usize;
        write_range(down, c.ubuf, 0, k, down_limit).await.map_err(ProxyError::downstream_io)?;
        left -= k as u64;
        consume(c.ubuf, k);
        if left == 0 {
            return Ok(c.ubuf.is_empty());
        }
        let got = read_more(up, c.ubuf, up_limit)
            .await
            .map_err(|e| ProxyError::upstream_io(e, ProxyError::UpstreamBodyTimeout))?;
        if got == 0 {
            return Err(ProxyError::UpstreamClosedEarly);
        }
    }
}

/// A chunked body, validated as it passes; with `dechunk` only the chunk
/// data goes downstream (an HTTP/1.0 client, closed after).
async fn relay_chunked<S: AsyncWriteRent>(
    c: &mut Download<'_>,
    down: &mut S,
    up: &mut TcpStream,
    dechunk: bool,
) -> Result<bool, ProxyError> {
    let (down_limit, up_limit) = (c.worker.settings.client_body_timeout, c.body_read_timeout());
    let mut state = ChunkedState::new();
    loop {
        if !c.ubuf.is_empty() {
            let (k, done) = if dechunk {
                let out = &mut c.out;
                state.advance_with(c.ubuf, |data| out.extend_from_slice(data))
            } else {
                state.advance(c.ubuf)
            }
            .map_err(ProxyError::UpstreamChunk)?;
            if !dechunk {
                c.out.extend_from_slice(&c.ubuf[..k]);
            }
            consume(c.ubuf, k);
            if done {
                c.p.responding();
                write_all(down, c.out, down_limit).await.map_err(ProxyError::downstream_io)?;
                return Ok(c.ubuf.is_empty());
            }
        }
        if !c.out.is_empty() {
            c.p.responding();
            write_all(down, c.out, down_limit).await.map_err(ProxyError::downstream_io)?;
            c.out.clear();
        }
        let got = read_more(up, c.ubuf, up_limit)
            .await
            .map_err(|e| ProxyError::upstream_io(e, ProxyError::UpstreamBodyTimeout))?;
        if got == 0 {
            return Err(ProxyError::UpstreamClosedEarly);
        }
    }
}

/// A body delimited by the upstream closing the connection.
async fn relay_until_close<S: AsyncWriteRent>(
    c: &mut Download<'_>,
    down: &mut S,
    up: &mut TcpStream,
) -> Result<(), ProxyError> {
    let (down_limit, up_limit) = (c.worker.settings.client_body_timeout, c.body_read_timeout());
    c.p.responding();
    write_all(down, c.out, down_limit).await.map_err(ProxyError::downstream_io)?;
    loop {
        let len = c.ubuf.len();
        write_range(down, c.ubuf, 0, len, down_limit).await.map_err(ProxyError::downstream_io)?;
        c.ubuf.clear();
        match read_more(up, c.ubuf, up_limit).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(IoFail::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(ProxyError::upstream_io(e, ProxyError::UpstreamBodyTimeout)),
        }
    }
}

/// Whether an upstream's `101` may turn this request into a tunnel: both
/// sides asked for an upgrade, and the upstream switched only to protocols
/// the client offered and the proxy forwarded.
fn switch_agreed_to(worker: &Worker, ubuf: &[u8], head: &RequestHead, resp: &ResponseHead) -> bool {
    resp.upgrade
        && head.upgrade
        && switch_agreed(
            resp.header(ubuf, "upgrade").unwrap_or_default(),
            head.upgrade_offered,
            &worker.settings.allowed_upgrades,
        )
}

/// Parse the response head at the start of `ubuf`.
fn parse_response(
    ubuf: &[u8],
    head: &RequestHead,
    limits: &HeadLimits,
) -> Result<Option<ResponseHead>, ProxyError> {
    parse_response_head(ubuf, head.method_kind == crate::http::Method::Head, limits)
        .map_err(ProxyError::UpstreamBadResponse)
}
