//! One downstream connection and the phases of each request on it, each
//! in its own file, each taking what it needs:
//!
//! 0. [`start::read_proxy_header`] (`start.rs`): with `--proxy-protocol`,
//!    the PROXY header before anything else.
//! 1. [`Conn::read_head`] (`head.rs`): wait for and parse the next
//!    request head (the connection's buffers, limits and drain).
//! 2. [`Conn::route`] (`route.rs`): look host and path up in the table
//!    taken for this request (421, 404, 503, a redirect the route's
//!    annotations give, or a redirect to https).
//! 3. [`Conn::pick_endpoint`] (`route.rs`): choose an endpoint of the
//!    backend.
//! 4. [`forward::forward`] (`forward.rs`): send the rewritten head and the
//!    body, streamed; it sees only an [`forward::Upload`] (settings, the
//!    forwarding context, the body limit, the downstream and upstream-bound
//!    buffers, the progress). [`Conn::forward_and_relay`] takes a pooled
//!    upstream connection (or connects) and retries once where
//!    [`Progress::can_retry`] allows.
//! 5. [`relay::relay_response`] (`relay.rs`): read the response head,
//!    rewrite it, stream the body back, return the upstream connection to
//!    the pool; it sees only a [`relay::Download`] (the worker, the
//!    limits, the request's clock, the drain registration, the upstream
//!    and response buffers, the progress).
//!
//! Where the request stands is [`Progress`] (`state.rs`), and every
//! decision that depends on it (retry, answer, close, linger) is a method
//! there. A failure anywhere is a [`ProxyError`], answered downstream
//! through [`fail::fail`] (`fail.rs`), the one place errors become
//! responses and counts. A new phase (an auth subrequest, an HTTP/2
//! stream) is a file with its own view of the connection, called from
//! [`Conn::proxy`]. Generic over the downstream stream so TLS plugs in
//! through [`StreamKind`].

mod errors;
mod fail;
mod forward;
mod head;
pub mod io;
#[cfg(feature = "instruction-gate-regression")]
mod regression;
mod relay;
mod route;
mod start;
mod state;
mod tunnel;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;

use crate::buffers;
use crate::error::ProxyError;
use crate::http::{ForwardContext, HeadLimits, HeadOverrides, RequestHead};
use crate::local::drain::ConnGuard;
use crate::local::Worker;
use crate::recycle::Recycled;
use crate::stream::DownstreamStream;
use crate::stream::StreamKind;
use io::consume;
use state::Progress;

/// Serve one accepted connection until it closes. Under
/// `--proxy-protocol` its PROXY header comes first ([`start`]), and the
/// address it carries is the client's from then on; otherwise the TCP
/// peer is the client.
pub async fn serve<K: StreamKind>(
    worker: Rc<Worker>,
    kind: Rc<K>,
    mut tcp: TcpStream,
    peer: SocketAddr,
) {
    let guard = worker.drain.enter();
    let _active = Active::enter(&worker);
    // The port clients used, for X-Forwarded-Port: the public one when
    // configured, else the listener's.
    let public =
        if kind.is_https() { worker.settings.https_port } else { worker.settings.http_port };
    let port = public.unwrap_or_else(|| tcp.local_addr().map_or(0, |a| a.port()));
    // Bytes read after a PROXY header: empty (no allocation) without one.
    let mut early = Vec::new();
    let client = if worker.settings.proxy_protocol {
        match start::read_proxy_header(&worker, &mut tcp, peer, &mut early).await {
            Some(client) => client,
            None => return,
        }
    } else {
        peer
    };
    match kind.wrap(tcp, &mut early).await {
        Ok(down) => {
            let trusted = &worker.settings.trusted_proxies;
            let fwd = ForwardContext::for_peer(client.ip(), trusted, port, kind.is_https());
            let mut conn = Conn::new(worker.clone(), guard, fwd, kind.is_https());
            conn.start_with(early);
            conn.run(down).await;
        }
        Err(e) => {
            buffers::release(&mut early);
            tracing::debug!(%peer, %client, error = %e, "downstream handshake failed");
        }
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
    /// The SNI name of a TLS connection: requests whose Host another
    /// certificate serves are answered 421 (`route.rs`).
    sni: Option<Box<str>>,
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
    /// The route's annotation policy, when it has one, for the phases
    /// after `route` (the upstream head's overrides).
    policy: Option<std::sync::Arc<ringress_control::table::RoutePolicy>>,
    /// The upstream request target a `rewrite-target` made (reused).
    rewritten: Vec<u8>,
    /// The CORS header lines this request's response carries (empty:
    /// none), from the route's `enable-cors` policy.
    cors: Vec<u8>,
    /// What the default backend's page needs of the request, kept while
    /// its route has `custom-http-errors` (the head leaves `buf` when it
    /// is forwarded).
    error_page: Option<Box<errors::ErrorPage>>,
}

impl Conn {
    /// Never inlined: `benches/instructions.sh` starts counting at this
    /// call (once per connection, after any TLS handshake).
    #[inline(never)]
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
            sni: None,
            limits,
            buf: Vec::new(),
            out: Vec::new(),
            ubuf: Vec::new(),
            idle: Vec::with_capacity(buffers::IDLE_CAPACITY),
            requests: 0,
            p: Progress::ReadingHead,
            started: Instant::now(),
            max_body: None,
            policy: None,
            rewritten: Vec::new(),
            cors: Vec::new(),
            error_page: None,
        }
    }

    async fn run<S: DownstreamStream>(&mut self, mut down: S) {
        self.sni = down.server_name();
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
        let closes = self.force_close();
        fail::fail(&self.worker, &mut self.out, &self.p, closes, down, &e, None).await;
        io::lingering_close(down, &mut self.buf).await;
    }

    /// One request after its head: the phases, then what the connection
    /// does next (`KeepAlive` only when it may take another request).
    async fn request<S: DownstreamStream>(&mut self, down: &mut S, head: RequestHead) -> After {
        self.requests += 1;
        self.started = Instant::now();
        #[cfg(feature = "instruction-gate-regression")]
        regression::copy_headers(&head, &self.buf);
        self.p = Progress::head_read(head.has_body());
        self.max_body = None;
        self.policy = None;
        self.cors.clear();
        self.error_page = None;
        // The failure the connection closes for, if any.
        let (after, closing) = match self.proxy(down, &head).await {
            Ok(after) => (after, None),
            Err(e) => {
                let closes = self.force_close();
                let (worker, out, p) = (&self.worker, &mut self.out, &self.p);
                if fail::fail(worker, out, p, closes, down, &e, Some(&head)).await {
                    (After::Close, Some(e))
                } else {
                    (After::KeepAlive, None)
                }
            }
        };
        if self.p.head_in_buf() {
            consume(&mut self.buf, head.head_len);
        }
        self.worker.m().latency(self.started.elapsed());
        match after {
            // Promised keep-alive (no `Connection: close` went out), even
            // if a drain began meanwhile: the client may already be sending
            // its next request, which `read_head` still reads and answers
            // with `Connection: close`.
            After::KeepAlive => After::KeepAlive,
            After::Close => {
                if self.p.must_linger(closing.as_ref()) {
                    // Unread request bytes may follow: see lingering_close.
                    io::lingering_close(down, &mut self.buf).await;
                }
                After::Close
            }
            upgrade @ After::Upgrade(_) => upgrade,
        }
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
        if let Some(policy) = route.policy.as_deref() {
            if Self::policy_answers(policy, head.path(&self.buf)) {
                return self.policy_redirect(down, head, policy).await;
            }
        }

        if route.redirect_to_https && !self.https {
            return self.redirect(down, head).await;
        }
        if let Some(policy) = &route.policy {
            // nginx's access phase, after the redirects of its rewrite phase.
            if let Some(ranges) = &policy.source {
                if !ranges.permits(self.fwd.client_address(&self.buf, head)) {
                    return Err(ProxyError::SourceDenied);
                }
            }
            if let Some(cors) = &policy.cors {
                if let Some(answer) = cors.answer(head.header(&self.buf, "origin")) {
                    cors.write(answer, &mut self.cors);
                    if head.method_kind == crate::http::Method::Options {
                        return self.preflight(down, head).await;
                    }
                }
            }
            if let Some(rewrite) = &policy.rewrite {
                let target = head.path(&self.buf);
                let (path, query) = target.split_at(target.find('?').unwrap_or(target.len()));
                self.rewritten.clear();
                if !rewrite.expand(path, query, &mut self.rewritten) {
                    // Routed by this very pattern: it matches.
                    self.rewritten.extend_from_slice(target.as_bytes());
                }
            }
            if !policy.custom_errors.is_empty() && policy.default_backend.is_some() {
                self.error_page = Some(Box::new(errors::ErrorPage::capture(head, &self.buf)));
            }
            self.policy = Some(policy.clone());
        }
        let mut backend = &route.backend;
        if backend.endpoints.is_empty() {
            // `default-backend`: it answers for a backend without endpoints.
            match route.policy.as_deref().and_then(|p| p.default_backend.as_ref()) {
                Some(fallback) if !fallback.0.endpoints.is_empty() => backend = &fallback.0,
                _ => return Err(ProxyError::NoEndpoints),
            }
        }
        let addr = self.pick_endpoint(backend)?;
        self.worker.balancer.started(addr);
        let result = self.forward_and_relay(down, head, backend, addr).await;
        self.worker.balancer.finished(addr);
        match result {
            // Boxed: only routes with `custom-http-errors` get here.
            Err(ProxyError::Intercepted(code)) => {
                Box::pin(self.error_page(down, head, code, route)).await
            }
            other => other,
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
        let overrides = self.policy.as_deref().map_or(HeadOverrides::NONE, |p| HeadOverrides {
            host: p.upstream_vhost.as_deref().map(str::as_bytes),
            forwarded_prefix: p.forwarded_prefix.as_deref().map(str::as_bytes),
            target: p.rewrite.as_ref().map(|_| self.rewritten.as_slice()),
        });
        let upload = forward::Upload {
            settings: &self.worker.settings,
            fwd: &self.fwd,
            overrides,
            send_timeout: self.policy.as_deref().and_then(|p| p.timeouts.send),
            max_body: self.max_body,
            buf: &mut self.buf,
            out: &mut self.out,
            p: &mut self.p,
        };
        forward::forward(upload, down, head, up, again).await
    }

    /// Phase 5: relay the response.
    async fn relay_response<S>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
        up: TcpStream,
        addr: SocketAddr,
        retry_statuses: u8,
    ) -> Result<After, ProxyError>
    where
        S: AsyncReadRent + AsyncWriteRent,
    {
        let intercept = match (&self.error_page, self.policy.as_deref()) {
            (Some(_), Some(p)) => &p.custom_errors[..],
            _ => &[],
        };
        let download = relay::Download {
            retry_statuses,
            intercept,
            worker: &self.worker,
            limits: &self.limits,
            now: self.started,
            guard: &self.guard,
            requests: self.requests,
            ubuf: &mut self.ubuf,
            out: &mut self.out,
            p: &mut self.p,
            read_timeout: self.policy.as_deref().and_then(|p| p.timeouts.read),
            extra: &self.cors,
        };
        relay::relay_response(download, down, head, up, addr).await
    }

    /// The clock of the current request (read once, when its head arrived).
    #[inline]
    fn now(&self) -> Instant {
        self.started
    }

    /// Whether the proxy closes the downstream connection after this
    /// request whatever the client asked.
    fn force_close(&self) -> bool {
        closes_anyway(&self.worker.settings, &self.guard, self.requests)
    }
}

/// Whether the connection closes after this request whatever the client
/// asked: a drain has begun, or it served `--keepalive-requests`.
pub(super) fn closes_anyway(
    settings: &crate::local::Settings,
    guard: &ConnGuard,
    requests: u32,
) -> bool {
    let limit = settings.keepalive_requests;
    guard.is_draining() || (limit > 0 && requests >= limit)
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.release_buffers();
    }
}
