//! Phase 4 in detail: the request going up, its body streamed through the
//! connection's reused buffers in either framing, never held whole.

use std::net::SocketAddr;
use std::time::Instant;

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use ringress_control::table::{Backend, NextUpstream};

use super::io::{consume, read_more, write_all, write_range, write_static};
use super::state::{Body, Progress};
use super::{After, Conn};
use crate::error::ProxyError;
use crate::http::ForwardContext;
use crate::http::{
    write_upstream_request_head_with, BodyFraming, ChunkedState, HeadOverrides, RequestHead,
    CONTINUE,
};
use crate::local::Settings;

/// Where a request body stands after the bytes already buffered.
enum Rest {
    Done,
    Length(u64),
    Chunked(ChunkedState),
}

/// What phase 4 reads and changes, borrowed from the connection for one
/// request, and nothing else of it.
pub(super) struct Upload<'c> {
    /// Timeouts (`upstream_body_timeout`, `client_body_timeout`).
    pub settings: &'c Settings,
    /// Who the client is, for the forwarding headers.
    pub fwd: &'c ForwardContext,
    /// What the route's policy changes in the upstream head.
    pub overrides: HeadOverrides<'c>,
    /// The route's `proxy-send-timeout`, in place of
    /// `--upstream-body-timeout` while sending.
    pub send_timeout: Option<std::time::Duration>,
    /// The largest body this request may send (`None`: no limit).
    pub max_body: Option<u64>,
    /// Downstream bytes: the head, then the body as it arrives.
    pub buf: &'c mut Vec<u8>,
    /// The upstream request as sent: kept whole for a retry while it fits.
    pub out: &'c mut Vec<u8>,
    /// Where the request stands ([`Progress`]).
    pub p: &'c mut Progress,
}

/// Phase 4: send the rewritten head and the body upstream. With `again`
/// (a retry) `c.out` already holds the complete request.
pub(super) async fn forward<S>(
    c: Upload<'_>,
    down: &mut S,
    head: &RequestHead,
    up: &mut TcpStream,
    again: bool,
) -> Result<(), ProxyError>
where
    S: AsyncReadRent + AsyncWriteRent,
{
    let up_limit = c.send_timeout.unwrap_or(c.settings.upstream_body_timeout);
    let down_limit = c.settings.client_body_timeout;
    let mut rest = Rest::Done;
    if !again {
        c.out.clear();
        write_upstream_request_head_with(c.buf, head, c.fwd, c.overrides, c.out);
        consume(c.buf, head.head_len);
        *c.p = Progress::Sending(Body::Pending);
        rest = match head.framing {
            BodyFraming::Empty => Rest::Done,
            BodyFraming::Length(n) => {
                let k = (c.buf.len() as u64).min(n) as usize;
                if k as u64 == n {
                    c.out.extend_from_slice(&c.buf[..k]);
                    consume(c.buf, k);
                    Rest::Done
                } else {
                    Rest::Length(n)
                }
            }
            BodyFraming::Chunked => {
                let mut state = ChunkedState::new();
                let mut data = 0u64;
                let (k, done) = state
                    .advance_with(c.buf, |d| data += d.len() as u64)
                    .map_err(ProxyError::BadRequestBody)?;
                if done {
                    check_body_size(data, c.max_body)?;
                    c.out.extend_from_slice(&c.buf[..k]);
                    consume(c.buf, k);
                    Rest::Done
                } else {
                    Rest::Chunked(ChunkedState::new())
                }
            }
        };
        if matches!(rest, Rest::Done) {
            *c.p = Progress::Sending(Body::Complete);
        }
    } else {
        // Only a request wholly in `out` is sent again (`Progress::can_retry`).
        *c.p = Progress::Sending(Body::Complete);
    }
    write_all(up, c.out, up_limit)
        .await
        .map_err(|e| ProxyError::upstream_io(e, ProxyError::UpstreamTimeout))?;
    if matches!(rest, Rest::Done) {
        *c.p = Progress::Sent { replayable: true };
        return Ok(());
    }
    // The body continues beyond what was buffered: stream it.
    *c.p = Progress::StreamingBody;
    if head.expect_continue && c.buf.is_empty() {
        write_static(down, CONTINUE, down_limit).await.map_err(ProxyError::downstream_io)?;
    }
    // Chunk data seen so far (a declared length was checked up front).
    let mut data = 0u64;
    loop {
        if c.buf.is_empty() {
            let n = read_more(down, c.buf, down_limit).await.map_err(ProxyError::downstream_io)?;
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
                    .advance_with(c.buf, |d| data += d.len() as u64)
                    .map_err(ProxyError::BadRequestBody)?;
                // Counted before these bytes go up: the upstream never
                // gets more than the limit.
                check_body_size(data, c.max_body)?;
                step
            }
            Rest::Done => (0, true),
        };
        write_range(up, c.buf, 0, k, up_limit)
            .await
            .map_err(|e| ProxyError::upstream_io(e, ProxyError::UpstreamTimeout))?;
        consume(c.buf, k);
        if done {
            *c.p = Progress::Sent { replayable: false };
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

impl Conn {
    /// Phases 4 and 5, with one retry on a fresh connection when a pooled
    /// connection failed before any response byte and the request can be
    /// sent again.
    pub(super) async fn forward_and_relay<S>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
        backend: &Backend,
        mut addr: SocketAddr,
    ) -> Result<After, ProxyError>
    where
        S: AsyncReadRent + AsyncWriteRent,
    {
        if let Some(nu) = self.policy.as_deref().and_then(|p| p.next_upstream) {
            // Boxed: only routes with the annotation pay for its future.
            return Box::pin(self.forward_next_upstream(down, head, backend, addr, nu)).await;
        }
        let mut fresh_only = false;
        let mut retried = false;
        let mut prepared = false;
        loop {
            let (mut up, reused) = match self.checkout(addr, fresh_only).await {
                Ok(c) => c,
                Err(e) if !retried && backend.endpoints.len() > 1 => {
                    // Connecting failed: try another endpoint once.
                    tracing::debug!(%addr, error = %e, "upstream connect failed; trying another endpoint");
                    retried = true;
                    match self.worker.balancer.pick(backend, Instant::now()) {
                        Some(next) if next != addr => {
                            self.worker.m().upstream_retries.inc();
                            addr = next;
                            continue;
                        }
                        _ => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
            // After the first attempt `out` holds the request to send again.
            let again = std::mem::replace(&mut prepared, true);
            let result = match self.forward(down, head, &mut up, again).await {
                Ok(()) => self.relay_response(down, head, up, addr, 0).await,
                // The upstream stopped taking the body: a server refusing
                // an upload answers (413, 401 …) and closes. Its answer may
                // be waiting; relay it rather than a 502 of our own.
                Err(e @ (ProxyError::UpstreamReset | ProxyError::UpstreamIo(_)))
                    if self.p.may_have_early_answer() =>
                {
                    match self.relay_response(down, head, up, addr, 0).await {
                        Ok(after) => Ok(after),
                        // Nothing relayed: our answer to the first failure.
                        Err(_) if self.p.can_answer(&e) => Err(e),
                        Err(later) => Err(later),
                    }
                }
                Err(e) => Err(e),
            };
            match result {
                // `out` must still hold the request (a timed-out write loses it).
                Err(e)
                    if reused
                        && !retried
                        && !self.out.is_empty()
                        && self.p.can_retry(head.method_kind.is_idempotent(), &e) =>
                {
                    tracing::debug!(%addr, error = %e, "pooled upstream connection failed; retrying");
                    self.worker.m().upstream_retries.inc();
                    retried = true;
                    fresh_only = true;
                }
                other => return other,
            }
        }
    }

    /// Phases 4 and 5 under the route's `proxy-next-upstream`: each failed
    /// attempt the policy names moves to an endpoint not tried yet, up to
    /// `tries` attempts and within `within`, while nothing went downstream
    /// and the whole request can be sent again; once the request went up
    /// (in part or whole) only an idempotent one moves. A stale pooled
    /// connection is retried on a fresh one first, as without the policy.
    async fn forward_next_upstream<S>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
        backend: &Backend,
        mut addr: SocketAddr,
        nu: NextUpstream,
    ) -> Result<After, ProxyError>
    where
        S: AsyncReadRent + AsyncWriteRent,
    {
        let limit = if nu.tries == 0 { usize::MAX } else { nu.tries as usize };
        let deadline = nu.within.map(|t| self.started + t);
        let idempotent = head.method_kind.is_idempotent();
        let mut tried = vec![addr];
        let mut prepared = false;
        loop {
            // Whether a failure of this attempt may move on: endpoints and
            // tries left, time left.
            let more = tried.len() < limit
                && backend.endpoints.iter().any(|e| !tried.contains(&e.addr))
                && deadline.is_none_or(|d| Instant::now() < d);
            let mut fresh_only = false;
            // (The failure; whether the request went up; whether `out`
            // still holds all of it.)
            let (e, sent, whole) = loop {
                let (mut up, reused) = match self.checkout(addr, fresh_only).await {
                    Ok(c) => c,
                    Err(e) => break (e, false, false),
                };
                let again = std::mem::replace(&mut prepared, true);
                let forwarded = self.forward(down, head, &mut up, again).await;
                let whole = !self.out.is_empty()
                    && matches!(
                        self.p,
                        Progress::Sending(Body::Complete) | Progress::Sent { replayable: true }
                    );
                let result = match forwarded {
                    Ok(()) => {
                        let statuses = if more && whole && idempotent { nu.statuses } else { 0 };
                        self.relay_response(down, head, up, addr, statuses).await
                    }
                    Err(e @ (ProxyError::UpstreamReset | ProxyError::UpstreamIo(_)))
                        if self.p.may_have_early_answer() =>
                    {
                        match self.relay_response(down, head, up, addr, 0).await {
                            Ok(after) => Ok(after),
                            Err(_) if self.p.can_answer(&e) => Err(e),
                            Err(later) => Err(later),
                        }
                    }
                    Err(e) => Err(e),
                };
                match result {
                    Ok(after) => return Ok(after),
                    Err(e)
                        if reused
                            && !fresh_only
                            && !self.out.is_empty()
                            && self.p.can_retry(idempotent, &e) =>
                    {
                        self.worker.m().upstream_retries.inc();
                        fresh_only = true;
                    }
                    Err(e) => break (e, true, whole),
                }
            };
            let named = match &e {
                ProxyError::UpstreamConnectRefused | ProxyError::UpstreamConnectFailed(_) => {
                    nu.error
                }
                ProxyError::UpstreamConnectTimeout => nu.timeout,
                ProxyError::UpstreamStatus(_) => true,
                ProxyError::UpstreamReset
                | ProxyError::UpstreamIo(_)
                | ProxyError::UpstreamClosedEarly => nu.error,
                ProxyError::UpstreamTimeout => nu.timeout,
                _ => false,
            };
            // Sent (in part or whole): only an idempotent request, still
            // whole in `out`, with nothing relayed, goes again.
            let resendable = !sent || (idempotent && whole && self.p.can_answer(&e));
            if !(more && named && resendable) {
                return Err(e);
            }
            let Some(next) = self.next_untried(backend, &tried) else { return Err(e) };
            tracing::debug!(%addr, %next, error = %e, "proxy-next-upstream: trying another endpoint");
            self.worker.m().upstream_retries.inc();
            tried.push(next);
            addr = next;
        }
    }

    /// An endpoint of `backend` not in `tried`: the balancer's choice when
    /// it is one, else the first one left.
    fn next_untried(&self, backend: &Backend, tried: &[SocketAddr]) -> Option<SocketAddr> {
        let now = Instant::now();
        for _ in 0..2 {
            match self.worker.balancer.pick(backend, now) {
                Some(a) if !tried.contains(&a) => return Some(a),
                _ => {}
            }
        }
        backend.endpoints.iter().map(|e| e.addr).find(|a| !tried.contains(a))
    }

    /// A pooled connection to `addr`, or a new one.
    pub(super) async fn checkout(
        &mut self,
        addr: SocketAddr,
        fresh_only: bool,
    ) -> Result<(TcpStream, bool), ProxyError> {
        let w = &self.worker;
        if !fresh_only {
            if let Some(stream) = w.pool.take(addr, self.now()) {
                w.m().pool_reused.inc();
                return Ok((stream, true));
            }
        }
        let limit = self.policy.as_deref().and_then(|p| p.timeouts.connect);
        match crate::upstream::connect(addr, limit.unwrap_or(w.settings.upstream_connect_timeout))
            .await
        {
            Ok(stream) => {
                w.m().pool_new.inc();
                w.balancer.connected(addr);
                Ok((stream, false))
            }
            Err(e) => {
                w.balancer.failed(addr, Instant::now());
                w.m().endpoint_failures.inc();
                Err(ProxyError::upstream_connect(e))
            }
        }
    }
}
