//! Writing heads to the next hop: the request head sent upstream and the
//! response head sent downstream. Kept header lines are copied byte for
//! byte from the parsed buffer; framing and forwarding headers are written
//! from the derived facts. Numbers go through `itoa`; nothing allocates
//! once `out` has grown to its working size.

use std::io::Write;
use std::net::IpAddr;

use super::{BodyFraming, RequestHead, ResponseFraming, ResponseHead, TargetForm};

/// Longest textual IPv6 address (with an embedded IPv4 part).
const IP_TEXT_MAX: usize = 45;

/// What the upstream request head says about the downstream connection.
/// Built once per downstream connection; the client address and listener
/// port are rendered to text here, not per request.
#[derive(Clone, Copy, Debug)]
pub struct ForwardContext {
    ip: [u8; IP_TEXT_MAX],
    ip_len: u8,
    port: [u8; 5],
    port_len: u8,
    https: bool,
}

impl ForwardContext {
    /// `client`: the downstream peer (IPv4-mapped IPv6 shown as IPv4);
    /// `listener_port`: the port the client connected to; `https`: whether
    /// the connection is TLS.
    pub fn new(client: IpAddr, listener_port: u16, https: bool) -> Self {
        let mut ctx =
            ForwardContext { ip: [0; IP_TEXT_MAX], ip_len: 0, port: [0; 5], port_len: 0, https };
        let mut cursor: &mut [u8] = &mut ctx.ip;
        if write!(cursor, "{}", client.to_canonical()).is_ok() {
            ctx.ip_len = (IP_TEXT_MAX - cursor.len()) as u8;
        }
        let mut digits = itoa::Buffer::new();
        let port = digits.format(listener_port).as_bytes();
        ctx.port[..port.len()].copy_from_slice(port);
        ctx.port_len = port.len() as u8;
        ctx
    }

    /// The client address as text.
    #[inline]
    pub fn client_ip(&self) -> &[u8] {
        &self.ip[..self.ip_len as usize]
    }

    fn port(&self) -> &[u8] {
        &self.port[..self.port_len as usize]
    }
}

#[inline]
fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends the upstream request head for `head` (parsed from `src`) to
/// `out`: `METHOD target HTTP/1.1`, the kept header lines as received,
/// `Host` from the authority for an absolute-form target (else the Host
/// line passes unchanged; an empty one is added for HTTP/1.0 without Host), the framing line re-emitted canonically, then
/// `X-Forwarded-For` (received values, then the client), `X-Forwarded-Proto`,
/// `X-Forwarded-Host`, `X-Forwarded-Port`, `X-Real-IP`, and
/// `Connection: keep-alive` (or `Connection: upgrade` for an upgrade, whose
/// `Upgrade` line is kept, `Connection: upgrade, HTTP2-Settings` for an
/// `h2c` one).
pub fn write_upstream_request_head(
    src: &[u8],
    head: &RequestHead,
    ctx: &ForwardContext,
    out: &mut Vec<u8>,
) {
    out.reserve(head.head_len + 192);
    out.extend_from_slice(head.method(src));
    out.push(b' ');
    match head.target_form {
        TargetForm::Absolute if head.path.is_empty() => out.push(b'/'),
        TargetForm::Absolute => out.extend_from_slice(head.path.get(src)),
        TargetForm::Origin | TargetForm::Asterisk => out.extend_from_slice(head.target(src)),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (i, h) in head.headers().iter().enumerate() {
        if !head.drop.contains(i) {
            out.extend_from_slice(h.name.get(src));
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.get(src));
            out.extend_from_slice(b"\r\n");
        }
    }
    let host = head.host.map(|h| h.get(src));
    match (head.target_form, host) {
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
    if !head.forwarded_for.is_empty() {
        for (i, h) in head.headers().iter().enumerate() {
            let value = h.value.get(src);
            if head.forwarded_for.contains(i) && !value.is_empty() {
                out.extend_from_slice(value);
                out.extend_from_slice(b", ");
            }
        }
    }
    out.extend_from_slice(ctx.client_ip());
    out.extend_from_slice(if ctx.https {
        b"\r\nX-Forwarded-Proto: https\r\n".as_slice()
    } else {
        b"\r\nX-Forwarded-Proto: http\r\n".as_slice()
    });
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        header(out, b"X-Forwarded-Host: ", host);
    }
    header(out, b"X-Forwarded-Port: ", ctx.port());
    header(out, b"X-Real-IP: ", ctx.client_ip());
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
        ResponseContext { client_minor_version: req.minor_version, close, dechunk, date }
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
