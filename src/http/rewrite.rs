//! Writing heads to the next hop: the request head sent upstream and the
//! response head sent downstream. Kept header lines are copied byte for
//! byte from the parsed buffer; framing and forwarding headers are written
//! from the derived facts. Numbers go through `itoa`; nothing allocates
//! once `out` has grown to its working size.

use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

use super::fields::{classify, Known};
use super::{BodyFraming, RequestHead, ResponseFraming, ResponseHead, TargetForm};
use crate::trust::TrustedProxies;

/// Longest textual IPv6 address (with an embedded IPv4 part).
const IP_TEXT_MAX: usize = 45;

/// What the upstream request head says about the downstream connection.
/// Built once per downstream connection: the peer address and listener
/// port are rendered to text, and the peer is checked against the trusted
/// proxies, here, not per request. Cloning it costs one reference count
/// at most, and nothing allocates.
#[derive(Clone, Debug)]
pub struct ForwardContext {
    ip: [u8; IP_TEXT_MAX],
    ip_len: u8,
    port: [u8; 5],
    port_len: u8,
    https: bool,
    peer: IpAddr,
    trust: Trust,
}

/// How far the downstream peer's forwarding headers are believed.
#[derive(Clone, Debug)]
enum Trust {
    /// The peer is the client: its forwarding headers are replaced.
    Untrusted,
    /// The peer is a trusted proxy: its forwarding headers are believed,
    /// and the client is found in `X-Forwarded-For` with this set.
    Trusted(Arc<TrustedProxies>),
}

impl ForwardContext {
    /// The context for a connection from `client`, a peer that is not a
    /// trusted proxy (every peer without `--trusted-proxies`):
    /// [`ForwardContext::for_peer`] with an empty set. `listener_port`:
    /// the port the client connected to; `https`: whether the connection
    /// is TLS.
    pub fn new(client: IpAddr, listener_port: u16, https: bool) -> Self {
        Self::build(client, listener_port, https, Trust::Untrusted)
    }

    /// The context for a connection from `peer` (the TCP peer, or the
    /// address a PROXY protocol header carried), given the trusted proxy
    /// set. A peer outside it is the client: its `X-Forwarded-For`,
    /// `-Proto`, `-Host`, `-Port`, `X-Real-IP` and `Forwarded` lines are
    /// not forwarded, and the upstream sees `X-Forwarded-For: <peer>`. A
    /// peer inside it has `X-Forwarded-For` appended to, its
    /// `X-Forwarded-Proto`, `-Host` and `-Port` and `Forwarded` passed, and
    /// `X-Real-IP` set to the client address found by
    /// [`TrustedProxies::client_address`].
    pub fn for_peer(
        peer: IpAddr,
        trusted: &Arc<TrustedProxies>,
        listener_port: u16,
        https: bool,
    ) -> Self {
        let trust = if trusted.contains(peer) {
            Trust::Trusted(Arc::clone(trusted))
        } else {
            Trust::Untrusted
        };
        Self::build(peer, listener_port, https, trust)
    }

    fn build(peer: IpAddr, listener_port: u16, https: bool, trust: Trust) -> Self {
        let peer = peer.to_canonical();
        let mut ctx = ForwardContext {
            ip: [0; IP_TEXT_MAX],
            ip_len: 0,
            port: [0; 5],
            port_len: 0,
            https,
            peer,
            trust,
        };
        ctx.ip_len = ip_text(peer, &mut ctx.ip) as u8;
        let mut digits = itoa::Buffer::new();
        let port = digits.format(listener_port).as_bytes();
        ctx.port[..port.len()].copy_from_slice(port);
        ctx.port_len = port.len() as u8;
        ctx
    }

    /// The downstream peer's address as text.
    #[inline]
    pub fn client_ip(&self) -> &[u8] {
        &self.ip[..self.ip_len as usize]
    }

    /// Whether the peer is a trusted proxy whose forwarding headers are
    /// believed.
    pub fn peer_trusted(&self) -> bool {
        matches!(self.trust, Trust::Trusted(_))
    }

    /// The client address of a request parsed into `head` from `src`: the
    /// peer, or for a trusted peer the address its `X-Forwarded-For`
    /// names (see [`TrustedProxies::client_address`]).
    pub fn client_address(&self, src: &[u8], head: &RequestHead) -> IpAddr {
        match &self.trust {
            Trust::Trusted(set) => set.client_address(self.peer, forwarded_for(src, head)),
            Trust::Untrusted => self.peer,
        }
    }

    fn port(&self) -> &[u8] {
        &self.port[..self.port_len as usize]
    }
}

/// Writes `ip` as text into `out`, returning the length.
fn ip_text(ip: IpAddr, out: &mut [u8; IP_TEXT_MAX]) -> usize {
    let mut cursor: &mut [u8] = out;
    match write!(cursor, "{ip}") {
        Ok(()) => IP_TEXT_MAX - cursor.len(),
        Err(_) => 0,
    }
}

/// The values of the received `X-Forwarded-For` lines, in order.
fn forwarded_for<'a>(
    src: &'a [u8],
    head: &'a RequestHead,
) -> impl DoubleEndedIterator<Item = &'a [u8]> + 'a {
    let lines = if head.forwarded_for.is_empty() { &[][..] } else { head.headers() };
    lines
        .iter()
        .enumerate()
        .filter(|(i, _)| head.forwarded_for.contains(*i))
        .map(|(_, h)| h.value.get(src))
}

/// The first received, non-empty `X-Forwarded-Proto`, `-Host` and `-Port`
/// values (only looked for when the peer is trusted).
#[derive(Default)]
struct Received<'a> {
    proto: Option<&'a [u8]>,
    host: Option<&'a [u8]>,
    port: Option<&'a [u8]>,
}

impl<'a> Received<'a> {
    fn find(src: &'a [u8], head: &RequestHead) -> Self {
        let mut r = Received::default();
        for (i, h) in head.headers().iter().enumerate() {
            if !head.drop.contains(i) {
                continue;
            }
            let value = Some(h.value.get(src)).filter(|v| !v.is_empty());
            let slot = match classify(h.name.get(src)) {
                Known::XForwardedProto => &mut r.proto,
                Known::XForwardedHost => &mut r.host,
                Known::XForwardedPort => &mut r.port,
                _ => continue,
            };
            if slot.is_none() {
                *slot = value;
            }
        }
        r
    }
}

/// Whether a header name is `Forwarded` (RFC 7239).
#[inline]
fn is_forwarded(name: &[u8]) -> bool {
    name.len() == 9 && name.eq_ignore_ascii_case(b"forwarded")
}

#[inline]
fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// What a route's policy changes in the upstream head (the
/// `upstream-vhost` and `x-forwarded-prefix` annotations); values checked
/// at compile time (visible ASCII only).
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadOverrides<'a> {
    /// Sent as `Host` in place of the client's (X-Forwarded-Host keeps
    /// the client's).
    pub host: Option<&'a [u8]>,
    /// Sent as `X-Forwarded-Prefix`, any received one dropped.
    pub forwarded_prefix: Option<&'a [u8]>,
    /// The request target sent in place of the client's (`rewrite-target`).
    pub target: Option<&'a [u8]>,
}

impl HeadOverrides<'_> {
    pub const NONE: HeadOverrides<'static> =
        HeadOverrides { host: None, forwarded_prefix: None, target: None };

    fn any(&self) -> bool {
        self.host.is_some() || self.forwarded_prefix.is_some()
    }

    /// Whether the received line `name` is replaced.
    fn replaces(&self, name: &[u8]) -> bool {
        (self.host.is_some() && name.eq_ignore_ascii_case(b"host"))
            || (self.forwarded_prefix.is_some() && name.eq_ignore_ascii_case(b"x-forwarded-prefix"))
    }
}

/// Appends the upstream request head for `head` (parsed from `src`) to
/// `out`: `METHOD target HTTP/1.1`, the kept header lines as received,
/// `Host` from the authority for an absolute-form target (else the Host
/// line passes unchanged; an empty one is added for HTTP/1.0 without
/// Host), the framing line re-emitted canonically, then `X-Forwarded-For`,
/// `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Port` and
/// `X-Real-IP` as the peer's trust decides (see
/// [`ForwardContext::for_peer`]; a received `Forwarded` line is dropped
/// for an untrusted peer), and
/// `Connection: keep-alive` (or `Connection: upgrade` for an upgrade, whose
/// `Upgrade` line is kept, `Connection: upgrade, HTTP2-Settings` for an
/// `h2c` one).
pub fn write_upstream_request_head(
    src: &[u8],
    head: &RequestHead,
    ctx: &ForwardContext,
    out: &mut Vec<u8>,
) {
    write_upstream_request_head_with(src, head, ctx, HeadOverrides::NONE, out)
}

/// [`write_upstream_request_head`] with a route's [`HeadOverrides`].
#[inline]
pub fn write_upstream_request_head_with(
    src: &[u8],
    head: &RequestHead,
    ctx: &ForwardContext,
    overrides: HeadOverrides<'_>,
    out: &mut Vec<u8>,
) {
    let overriding = overrides.any();
    out.reserve(head.head_len + 192);
    out.extend_from_slice(head.method(src));
    out.push(b' ');
    match head.target_form {
        _ if overrides.target.is_some() => out.extend_from_slice(overrides.target.unwrap_or(b"/")),
        TargetForm::Absolute if head.path.is_empty() => out.push(b'/'),
        TargetForm::Absolute => out.extend_from_slice(head.path.get(src)),
        TargetForm::Origin | TargetForm::Asterisk => out.extend_from_slice(head.target(src)),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let untrusted = matches!(ctx.trust, Trust::Untrusted);
    for (i, h) in head.headers().iter().enumerate() {
        let name = h.name.get(src);
        if !(head.drop.contains(i)
            || untrusted && is_forwarded(name)
            || overriding && overrides.replaces(name))
        {
            out.extend_from_slice(h.name.get(src));
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.get(src));
            out.extend_from_slice(b"\r\n");
        }
    }
    let host = head.host.map(|h| h.get(src));
    match (head.target_form, host) {
        _ if overrides.host.is_some() => header(out, b"Host: ", overrides.host.unwrap_or_default()),
        (TargetForm::Absolute, Some(host)) => header(out, b"Host: ", host),
        // HTTP/1.0 without Host: HTTP/1.1 needs one, empty (RFC 9112 §3.2).
        (_, None) => out.extend_from_slice(b"Host: \r\n"),
        _ => {}
    }
    match head.framing {
        BodyFraming::Empty => {}
        BodyFraming::Length(n) => {
            header(out, b"Content-Length: ", itoa::Buffer::new().format(n).as_bytes())
        }
        BodyFraming::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"X-Forwarded-For: ");
    if !untrusted {
        for value in forwarded_for(src, head).filter(|v| !v.is_empty()) {
            out.extend_from_slice(value);
            out.extend_from_slice(b", ");
        }
    }
    out.extend_from_slice(ctx.client_ip());
    out.extend_from_slice(b"\r\n");
    let received = match ctx.trust {
        Trust::Trusted(_) => Received::find(src, head),
        Trust::Untrusted => Received::default(),
    };
    let proto: &[u8] = if ctx.https { b"https" } else { b"http" };
    header(out, b"X-Forwarded-Proto: ", received.proto.unwrap_or(proto));
    if let Some(host) = received.host.or(host.filter(|h| !h.is_empty())) {
        header(out, b"X-Forwarded-Host: ", host);
    }
    header(out, b"X-Forwarded-Port: ", received.port.unwrap_or(ctx.port()));
    if ctx.peer_trusted() {
        let mut text = [0; IP_TEXT_MAX];
        let len = ip_text(ctx.client_address(src, head), &mut text);
        header(out, b"X-Real-IP: ", &text[..len]);
    } else {
        header(out, b"X-Real-IP: ", ctx.client_ip());
    }
    if let Some(prefix) = overrides.forwarded_prefix {
        header(out, b"X-Forwarded-Prefix: ", prefix);
    }
    out.extend_from_slice(if head.upgrade && head.h2c {
        // Kept only with an h2c upgrade (see `upgrade::restrict_upgrade`),
        // and hop-by-hop: the Connection line names it (RFC 9113 §3.2).
        b"Connection: upgrade, HTTP2-Settings\r\n\r\n".as_slice()
    } else if head.upgrade {
        b"Connection: upgrade\r\n\r\n".as_slice()
    } else {
        b"Connection: keep-alive\r\n\r\n".as_slice()
    });
}

/// How the downstream side of one response goes.
#[derive(Clone, Copy, Debug)]
pub struct ResponseContext<'a> {
    /// The client's HTTP minor version (0 or 1).
    pub client_minor_version: u8,
    /// The proxy closes the downstream connection after this response.
    pub close: bool,
    /// The body is chunked but the client speaks HTTP/1.0: forward only
    /// the chunk data (see [`super::ChunkedState::advance_with`]), then
    /// close.
    pub dechunk: bool,
    /// The `Date` value to add when the upstream sent none.
    pub date: &'a [u8],
    /// Header lines (each ending in CRLF) the proxy adds to a final
    /// response; the caller drops the upstream's lines they replace.
    pub extra: &'a [u8],
}

impl<'a> ResponseContext<'a> {
    /// Decides keep-alive and de-chunking for `resp` answering `req`.
    /// `force_close`: the proxy closes anyway (draining, request limit,
    /// request body not fully read).
    pub fn new(req: &RequestHead, resp: &ResponseHead, date: &'a [u8], force_close: bool) -> Self {
        let dechunk = req.minor_version == 0 && resp.framing == ResponseFraming::Chunked;
        let close = force_close
            || !req.keep_alive
            || dechunk
            || resp.framing == ResponseFraming::CloseDelimited;
        ResponseContext {
            client_minor_version: req.minor_version,
            close,
            dechunk,
            date,
            extra: &[],
        }
    }
}

/// Appends the downstream response head for `resp` (parsed from `src`) to
/// `out`: `HTTP/1.1 code reason`, the kept header lines as received,
/// Content-Length (validated, re-emitted) and `Transfer-Encoding: chunked`
/// for HTTP/1.1 clients, then for final responses `Date` and
/// `Server: ringress` when absent and the Connection line: `upgrade` for a
/// 101, `close` when closing, `keep-alive` for an HTTP/1.0 client kept open.
pub fn write_downstream_response_head(
    src: &[u8],
    resp: &ResponseHead,
    ctx: &ResponseContext<'_>,
    out: &mut Vec<u8>,
) {
    out.reserve(resp.head_len + 128);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(resp.status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(resp.reason.get(src));
    out.extend_from_slice(b"\r\n");
    for (i, h) in resp.headers().iter().enumerate() {
        if !resp.drop.contains(i) {
            out.extend_from_slice(h.name.get(src));
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.get(src));
            out.extend_from_slice(b"\r\n");
        }
    }
    let bodyless_status = resp.status < 200 || resp.status == 204;
    if let (Some(n), false) = (resp.content_length, bodyless_status) {
        header(out, b"Content-Length: ", itoa::Buffer::new().format(n).as_bytes());
    }
    if resp.chunked && !bodyless_status && ctx.client_minor_version == 1 && !ctx.dechunk {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    if resp.is_interim() {
        out.extend_from_slice(b"\r\n");
        return;
    }
    out.extend_from_slice(ctx.extra);
    if !resp.has_date {
        header(out, b"Date: ", ctx.date);
    }
    if !resp.has_server {
        out.extend_from_slice(b"Server: ringress\r\n");
    }
    if resp.upgrade {
        out.extend_from_slice(b"Connection: upgrade\r\n");
    } else if ctx.close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if ctx.client_minor_version == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}
