//! One downstream connection and the phases of each request on it:
//!
//! 1. [`Conn::read_head`]: wait for and parse the next request head.
//! 2. [`Conn::route`]: look host and path up in the table taken for this
//!    request (404, 503, or a redirect to https).
//! 3. [`Conn::pick_endpoint`]: choose an endpoint of the backend.
//! 4. [`Conn::forward`]: take a pooled upstream connection (or connect) and
//!    send the rewritten head and the body, streamed.
//! 5. [`Conn::relay_response`]: read the response head, rewrite it, stream
//!    the body back; return the upstream connection to the pool.
//!
//! Where the request stands is [`Progress`] ([`state`]), and every
//! decision that depends on it (retry, answer, close, linger) is a method
//! there. A failure anywhere is a [`ProxyError`], answered downstream
//! through [`Conn::fail`], the one place errors become responses and
//! counts. The body loops of phases 4 and 5 are in `forward.rs` and
//! `relay.rs`.
//! Generic over the downstream stream so TLS plugs in through
//! [`StreamKind`].

mod forward;
pub mod io;
mod relay;
mod state;
mod tunnel;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use ringress_control::table::{Backend, Route};
use ringress_control::RouteTable;

use crate::buffers;
use crate::error::ProxyError;
use crate::http::normalize::normalize_request_path;
use crate::http::upgrade::{restrict_upgrade, switch_agreed};
use crate::http::{
    parse_response_head, write_redirect, write_status_response, BodyFraming, ForwardContext,
    HeadLimits, HeadScan, RequestHead, ResponseHead,
};
use crate::local::drain::ConnGuard;
use crate::local::Worker;
use crate::recycle::Recycled;
use crate::stream::DownstreamStream;
use crate::stream::StreamKind;
use io::{consume, read_more, write_all, IoFail};
use state::Progress;

/// Serve one accepted connection until it closes.
pub async fn serve<K: StreamKind>(
    worker: Rc<Worker>,
    kind: Rc<K>,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let guard = worker.drain.enter();
    let _active = Active::enter(&worker);
    let port = tcp.local_addr().map_or(0, |a| a.port());
    match kind.wrap(tcp).await {
        Ok(down) => {
            let fwd = ForwardContext::new(peer.ip(), port, kind.is_https());
            let mut conn = Conn::new(worker.clone(), guard, fwd, kind.is_https());
            conn.run(down).await;
        }
        Err(e) => tracing::debug!(%peer, error = %e, "downstream handshake failed"),
    }
}

/// Counts the connection in `ringress_downstream_active` for as long as it
/// lives, however it ends (a panic caught at the task's edge included).
struct Active(Rc<Worker>);

impl Active {
    fn enter(worker: &Rc<Worker>) -> Self {
        worker.m().downstream_active.inc();
        Self(worker.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.m().downstream_active.sub(1);
    }
}

/// What happens to the connection after a request.
enum After {
    KeepAlive,
    Close,
    /// The upstream switched protocols: copy bytes both ways.
    Upgrade(TcpStream),
}

/// A downstream connection's state, reused for every request on it.
pub struct Conn {
    worker: Rc<Worker>,
    guard: ConnGuard,
    fwd: ForwardContext,
    https: bool,
    limits: HeadLimits,
    /// Downstream bytes: the head being parsed, then body bytes and any
    /// pipelined requests after it.
    buf: Vec<u8>,
    /// Heads written by the proxy (upstream request, downstream response).
    out: Vec<u8>,
    /// Upstream bytes: the response head, then body bytes.
    ubuf: Vec<u8>,
    /// What an idle connection waits with: `buf`, `out` and `ubuf` go back
    /// to the worker's pool between requests ([`crate::buffers`]).
    idle: Vec<u8>,
    requests: u32,
    /// Where the request in progress stands ([`state`]: every decision
    /// that depends on it).
    p: Progress,
    /// When the request head was complete: the clock of this request.
    started: Instant,
    /// The largest body this request may send (`None`: no limit), set
    /// once its route is known ([`Conn::body_limit`]).
    max_body: Option<u64>,
}

impl Conn {
    fn new(worker: Rc<Worker>, guard: ConnGuard, fwd: ForwardContext, https: bool) -> Self {
        let s = &worker.settings;
        let limits = HeadLimits {
            max_head_bytes: s.max_head_bytes,
            max_headers: s.max_headers,
            max_request_line_bytes: s.max_request_line_bytes,
        };
        Self {
            worker,
            guard,
            fwd,
            https,
            limits,
            buf: Vec::new(),
            out: Vec::new(),
            ubuf: Vec::new(),
            idle: Vec::with_capacity(buffers::IDLE_CAPACITY),
            requests: 0,
            p: Progress::ReadingHead,
            started: Instant::now(),
            max_body: None,
        }
    }

    async fn run<S: DownstreamStream>(&mut self, mut down: S) {
        loop {
            // The request's phases run in a recycled block (see
            // `crate::recycle`): inline, their futures would make every
            // connection's task, idle ones included, several KiB larger.
            let request = match self.read_head(&mut down).await {
                Ok(Some(head)) => Recycled::new(self.request(&mut down, head)),
                Ok(None) => return,
                Err(e) => {
                    // Boxed for the same reason; this connection ends here.
                    Box::pin(self.refuse(&mut down, e)).await;
                    return;
                }
            };
            match request.await {
                After::KeepAlive => {}
                After::Close => return,
                After::Upgrade(up) => {
                    let pending_down = std::mem::take(&mut self.buf);
                    let pending_up = std::mem::take(&mut self.ubuf);
                    let m = self.worker.m();
                    m.tunnels_active.inc();
                    let idle = self.worker.settings.tunnel_idle_timeout;
                    // Boxed: rare, and inline it would grow every connection's task.
                    if Box::pin(tunnel::run(down, up, pending_down, pending_up, idle)).await {
                        m.tunnels_idle_closed.inc();
                    }
                    m.tunnels_active.sub(1);
                    return;
                }
            }
        }
    }

    /// A head that could not be read: answer it and close.
    async fn refuse<S: DownstreamStream>(&mut self, down: &mut S, e: ProxyError) {
        self.p = Progress::ReadingHead;
        self.fail(down, &e, None).await;
        io::lingering_close(down, &mut self.buf).await;
    }

    /// One request after its head: the phases, then what the connection
    /// does next (`KeepAlive` only when it may take another request).
    async fn request<S: DownstreamStream>(&mut self, down: &mut S, head: RequestHead) -> After {
        self.requests += 1;
        self.started = Instant::now();
        self.p = Progress::head_read(head.has_body());
        self.max_body = None;
        // The failure the connection closes for, if any.
        let (after, closing) = match self.proxy(down, &head).await {
            Ok(after) => (after, None),
            Err(e) => match self.fail(down, &e, Some(&head)).await {
                true => (After::Close, Some(e)),
                false => (After::KeepAlive, None),
            },
        };
        if self.p.head_in_buf() {
            consume(&mut self.buf, head.head_len);
        }
        self.worker.m().latency(self.started.elapsed());
        match after {
            After::KeepAlive if !self.guard.is_draining() => After::KeepAlive,
            After::KeepAlive | After::Close => {
                if self.p.must_linger(closing.as_ref()) {
                    // Unread request bytes may follow: see lingering_close.
                    io::lingering_close(down, &mut self.buf).await;
                }
                After::Close
            }
            upgrade @ After::Upgrade(_) => upgrade,
        }
    }

    /// Phase 1: wait for the next request head and parse it, then
    /// normalise its path (what is routed on and forwarded, see
    /// `http::normalize`) and keep only the allowed protocols of an
    /// upgrade offer (see `http::upgrade`). `Ok(None)`: the connection
    /// ends quietly (client closed, idle timeout, drain).
    async fn read_head<S: DownstreamStream>(
        &mut self,
        down: &mut S,
    ) -> Result<Option<RequestHead>, ProxyError> {
        let (keepalive_timeout, head_timeout) =
            (self.worker.settings.keepalive_timeout, self.worker.settings.client_head_timeout);
        let mut deadline: Option<Instant> = None;
        // Only the bytes each read adds are scanned; the parser runs when a
        // line end or a blank line arrives (see `HeadScan`), so a head
        // trickling in a byte per segment costs linear work, not a re-parse
        // per read.
        let mut scan = HeadScan::new();
        loop {
            if !self.buf.is_empty() {
                if let Some(mut head) = scan.parse_request(&self.buf, &self.limits)? {
                    // `out` is free until the upstream head is written: it is
                    // the scratch space of a path that needs normalising.
                    normalize_request_path(&mut self.buf, &mut head, &mut self.out)?;
                    let allowed = &self.worker.settings.allowed_upgrades;
                    restrict_upgrade(&mut self.buf, &mut head, allowed);
                    return Ok(Some(head));
                }
                // Part of a head: from now on the head timeout runs.
                deadline.get_or_insert_with(|| Instant::now() + head_timeout);
            }
            let n = if self.buf.is_empty() && deadline.is_none() {
                // Idle between requests: the keep-alive timeout applies, and
                // a drain ends the wait. The large buffers wait in the pool.
                self.release_buffers();
                down.release_idle();
                let read = read_more(down, &mut self.idle, keepalive_timeout);
                let n = monoio::select! {
                    r = read => match r {
                        Ok(n) => n,
                        Err(_) => return Ok(None),
                    },
                    _ = self.guard.draining() => return Ok(None),
                };
                self.take_buffers();
                n
            } else {
                let deadline = *deadline.get_or_insert_with(|| Instant::now() + head_timeout);
                let left = deadline.saturating_duration_since(Instant::now());
                match read_more(down, &mut self.buf, left).await {
                    Ok(n) => n,
                    Err(IoFail::Timeout) => return Err(ProxyError::ClientHeadTimeout),
                    Err(IoFail::Io(_)) => return Ok(None),
                }
            };
            if n == 0 {
                // Closed between requests, or mid-head: nobody to answer.
                return Ok(None);
            }
        }
    }

    /// Give `buf`, `out` and `ubuf` back to the worker's pool (`buf` is
    /// empty: nothing of a request is pending).
    fn release_buffers(&mut self) {
        buffers::release(&mut self.buf);
        buffers::release(&mut self.out);
        buffers::release(&mut self.ubuf);
    }

    /// Bytes arrived on an idle connection: take the request buffers from
    /// the pool and move what arrived into `buf`.
    fn take_buffers(&mut self) {
        buffers::ensure(&mut self.buf);
        buffers::ensure(&mut self.out);
        buffers::ensure(&mut self.ubuf);
        self.buf.extend_from_slice(&self.idle);
        self.idle.clear();
    }

    /// Phases 2 to 5 for one request.
    async fn proxy<S>(&mut self, down: &mut S, head: &RequestHead) -> Result<After, ProxyError>
    where
        S: AsyncReadRent + AsyncWriteRent,
    {
        // Taken once, held until this request ends.
        let table = self.worker.load_table();
        let route = self.route(&table, head)?;
        self.max_body = self.body_limit(route);
        self.check_declared_body(head)?;
        if route.redirect_to_https && !self.https {
            return self.redirect(down, head).await;
        }
        let backend = &route.backend;
        if backend.endpoints.is_empty() {
            return Err(ProxyError::NoEndpoints);
        }
        let addr = self.pick_endpoint(backend)?;
        self.worker.balancer.started(addr);
        let result = self.forward_and_relay(down, head, backend, addr).await;
        self.worker.balancer.finished(addr);
        result
    }

    /// Phase 2: the route for this request's host and path (404 without
    /// one). Then, in this order, as nginx: the body limit (413), the
    /// redirect to https (308), a backend without endpoints (503).
    fn route<'t>(
        &self,
        table: &'t RouteTable,
        head: &RequestHead,
    ) -> Result<&'t Route, ProxyError> {
        let host = head.host(&self.buf).unwrap_or("");
        let path = head.path(&self.buf);
        table.route(host, path).ok_or(ProxyError::RouteNotFound)
    }

    /// The largest request body this request may send (`None`: no limit):
    /// `--max-body-size` for now. A per-route limit (the `proxy-body-size`
    /// annotation) takes its place here, read from `_route`.
    #[inline]
    fn body_limit(&self, _route: &Route) -> Option<u64> {
        self.worker.settings.max_body_size
    }

    /// A declared `Content-Length` over the limit is refused before any
    /// upstream is contacted (a chunked body is counted as it streams, see
    /// `body::forward`).
    #[inline]
    fn check_declared_body(&self, head: &RequestHead) -> Result<(), ProxyError> {
        match (head.framing, self.max_body) {
            (BodyFraming::Length(n), Some(limit)) if n > limit => Err(ProxyError::BodyTooLarge),
            _ => Ok(()),
        }
    }

    /// Phase 3: an endpoint of `backend`, chosen per request.
    fn pick_endpoint(&self, backend: &Backend) -> Result<SocketAddr, ProxyError> {
        self.worker.balancer.pick(backend, self.now()).ok_or(ProxyError::NoEndpoints)
    }

    /// Phases 4 and 5, with one retry on a fresh connection when a pooled
    /// connection failed before any response byte and the request can be
    /// sent again.
    async fn forward_and_relay<S>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
        backend: &Backend,
        mut addr: SocketAddr,
    ) -> Result<After, ProxyError>
    where
        S: AsyncReadRent + AsyncWriteRent,
    {
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
                Ok(()) => self.relay_response(down, head, up, addr).await,
                // The upstream stopped taking the body: a server refusing
                // an upload answers (413, 401 …) and closes. Its answer may
                // be waiting; relay it rather than a 502 of our own.
                Err(e @ (ProxyError::UpstreamReset | ProxyError::UpstreamIo(_)))
                    if self.p.may_have_early_answer() =>
                {
                    match self.relay_response(down, head, up, addr).await {
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

    /// A pooled connection to `addr`, or a new one.
    async fn checkout(
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
        match crate::upstream::connect(addr, w.settings.upstream_connect_timeout).await {
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

    /// Phase 4: send the rewritten head and the body upstream. On a retry
    /// `out` already holds what to send.
    async fn forward<S>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
        up: &mut TcpStream,
        again: bool,
    ) -> Result<(), ProxyError>
    where
        S: AsyncReadRent + AsyncWriteRent,
    {
        forward::forward(self, down, head, up, again).await
    }

    /// Phase 5: relay the response.
    async fn relay_response<S>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
        up: TcpStream,
        addr: SocketAddr,
    ) -> Result<After, ProxyError>
    where
        S: AsyncReadRent + AsyncWriteRent,
    {
        relay::relay_response(self, down, head, up, addr).await
    }

    /// Whether an upstream's `101` may turn this request into a tunnel:
    /// both sides asked for an upgrade, and the upstream switched only to
    /// protocols the client offered and the proxy forwarded.
    fn switch_agreed(&self, head: &RequestHead, resp: &ResponseHead) -> bool {
        resp.upgrade
            && head.upgrade
            && switch_agreed(
                resp.header(&self.ubuf, "upgrade").unwrap_or_default(),
                head.upgrade_offered,
                &self.worker.settings.allowed_upgrades,
            )
    }

    /// The clock of the current request (read once, when its head arrived).
    #[inline]
    fn now(&self) -> Instant {
        self.started
    }

    /// Whether the proxy closes the downstream connection after this
    /// request whatever the client asked.
    fn force_close(&self) -> bool {
        let limit = self.worker.settings.keepalive_requests;
        self.guard.is_draining() || (limit > 0 && self.requests >= limit)
    }

    async fn redirect<S: AsyncWriteRent>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
    ) -> Result<After, ProxyError> {
        let close = self.p.must_close(head.keep_alive, self.force_close(), None);
        let date = self.worker.date();
        self.out.clear();
        let authority = head.host.map_or(&[][..], |h| h.get(&self.buf));
        write_redirect(
            authority,
            head.path.get(&self.buf),
            self.worker.settings.https_port,
            &date,
            close,
            head.method_kind == crate::http::Method::Head,
            &mut self.out,
        );
        consume(&mut self.buf, head.head_len);
        self.p.responding();
        let limit = self.worker.settings.client_body_timeout;
        self.worker.m().response(308);
        write_all(down, &mut self.out, limit).await.map_err(ProxyError::downstream_io)?;
        Ok(if close { After::Close } else { After::KeepAlive })
    }

    /// The one place a failure becomes a response and a count. Returns
    /// whether the connection must close.
    async fn fail<S: AsyncWriteRent>(
        &mut self,
        down: &mut S,
        e: &ProxyError,
        head: Option<&RequestHead>,
    ) -> bool {
        let m = self.worker.m();
        m.error(e.blame(), e.status());
        if let Some(kind) = e.upstream_kind() {
            m.upstream_errors[kind as usize].inc();
        }
        tracing::debug!(error = %e, label = e.label(), status = e.status(), "request failed");
        let keep_alive = head.is_some_and(|h| h.keep_alive);
        let close = self.p.must_close(keep_alive, self.force_close(), Some(e));
        if self.p.can_answer(e) {
            let head_request = head.is_some_and(|h| h.method_kind == crate::http::Method::Head);
            let date = self.worker.date();
            self.out.clear();
            write_status_response(e.response(), &date, close, head_request, &mut self.out);
            let limit = self.worker.settings.client_body_timeout;
            m.response(e.status());
            let _ = write_all(down, &mut self.out, limit).await;
        }
        close
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.release_buffers();
    }
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
