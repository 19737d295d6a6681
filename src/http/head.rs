//! Request heads: [`parse_request_head`] and the [`RequestHead`] it returns.
//!
//! The head is parsed once; everything the proxy decides from it (route
//! host and path, body framing, keep-alive, `100-continue`, upgrade, which
//! header lines are not forwarded) is computed here and stored as plain
//! fields and spans over the caller's buffer.

use super::fields::{classify, is_valid_authority, Known};
use super::framing::FramingFields;
use super::parse::{
    apply_connection, check_line_ends, collect_headers, map_httparse_error, skip_empty_lines,
    uninit_headers, HeaderArray,
};
use super::{BodyFraming, HeadError, HeadLimits, HeaderSet, HeaderSpan, Span, MAX_HEADERS};

/// The request method, for the decisions that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// PATCH
    Patch,
    /// TRACE
    Trace,
    /// Any other token (extension methods).
    Other,
}

impl Method {
    fn from_token(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"TRACE" => Method::Trace,
            _ => Method::Other,
        }
    }

    /// Idempotent per RFC 9110 §9.2.2: safe to retry on a new upstream
    /// connection after a failure.
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            Method::Get
                | Method::Head
                | Method::Put
                | Method::Delete
                | Method::Options
                | Method::Trace
        )
    }
}

/// The form of the request target (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`
    Origin,
    /// `http://authority/path?query`: host from the authority, the
    /// upstream gets the origin-form path and a Host of the authority.
    Absolute,
    /// `*`, only with OPTIONS.
    Asterisk,
}

/// A parsed request head: offsets into the buffer it was parsed from plus
/// the facts derived from it. Holds no borrow, so it can live beside the
/// buffer; every accessor takes that buffer back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// Bytes of the head, including leading empty lines and the final
    /// CRLF; the body (or the next request) starts here.
    pub head_len: usize,
    /// The method token.
    pub method: Span,
    /// The method, classified.
    pub method_kind: Method,
    /// The request target as received.
    pub target: Span,
    /// Its form.
    pub target_form: TargetForm,
    /// The origin-form part of the target: path and query (empty for an
    /// absolute-form target without path; [`RequestHead::path`] gives `/`).
    pub path: Span,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// The host to route by: the Host value, or the authority of an
    /// absolute-form target. `None` only for HTTP/1.0 without Host.
    pub host: Option<Span>,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the client lets the connection stay open after this request.
    pub keep_alive: bool,
    /// `Expect: 100-continue` in an HTTP/1.1 request (the Expect line is
    /// not forwarded: the proxy answers `100 Continue` itself).
    pub expect_continue: bool,
    /// An HTTP/1.1 upgrade request (`Connection: upgrade` and `Upgrade`)
    /// that is forwarded as one. The parser sets it for every such request;
    /// [`super::upgrade::restrict_upgrade`] clears it when none of the
    /// offered protocols is allowed.
    pub upgrade: bool,
    /// The index of the `Upgrade` line that is forwarded with an upgrade.
    pub upgrade_line: Option<usize>,
    /// The allowed protocols the client offered, one bit per index in the
    /// allow-list (see [`super::upgrade`]).
    pub upgrade_offered: u64,
    /// `HTTP2-Settings` lines (dropped unless an `h2c` upgrade is forwarded).
    pub http2_settings: HeaderSet,
    /// An `h2c` upgrade is forwarded, with the `HTTP2-Settings` lines.
    pub h2c: bool,
    /// Header lines not forwarded (hop-by-hop, overwritten or re-emitted).
    pub drop: HeaderSet,
    /// Received `X-Forwarded-For` lines, appended to on forwarding.
    pub forwarded_for: HeaderSet,
    header_count: usize,
    headers: HeaderArray,
}

impl RequestHead {
    /// The header lines as received, in order.
    #[inline]
    pub fn headers(&self) -> &[HeaderSpan] {
        &self.headers[..self.header_count]
    }

    /// The header lines, for the in-place edits of [`super::upgrade`].
    #[inline]
    pub(crate) fn headers_mut(&mut self) -> &mut [HeaderSpan] {
        &mut self.headers[..self.header_count]
    }

    /// The method token.
    #[inline]
    pub fn method<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        self.method.get(buf)
    }

    /// The request target as received.
    #[inline]
    pub fn target<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        self.target.get(buf)
    }

    /// The path and query to route by (origin-form, `/` for an
    /// absolute-form target without path, `*` for asterisk-form).
    #[inline]
    pub fn path<'a>(&self, buf: &'a [u8]) -> &'a str {
        if self.path.is_empty() {
            return "/";
        }
        std::str::from_utf8(self.path.get(buf)).unwrap_or("/")
    }

    /// The raw host to route by (with `:port` and case as received).
    #[inline]
    pub fn host<'a>(&self, buf: &'a [u8]) -> Option<&'a str> {
        self.host.map(|h| std::str::from_utf8(h.get(buf)).unwrap_or(""))
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header<'a>(&self, buf: &'a [u8], name: &str) -> Option<&'a [u8]> {
        self.headers()
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.get(buf))
    }

    /// Whether a body follows the head.
    #[inline]
    pub fn has_body(&self) -> bool {
        !matches!(self.framing, BodyFraming::Empty | BodyFraming::Length(0))
    }
}

/// Parses a request head at the start of `buf`.
///
/// `Ok(None)`: the head is not complete yet, read more (limits are checked
/// on partial heads too, so a request line over the limit is refused before
/// its end arrives). `Err`: the request breaks a rule; answer
/// [`HeadError::status`] and close the connection.
pub fn parse_request_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<RequestHead>, HeadError> {
    let Some(start) = skip_empty_lines(buf)? else {
        return check_partial(buf, buf.len(), limits).map(|_| None);
    };
    let rest = &buf[start..];
    let mut storage = uninit_headers!();
    let mut req = httparse::Request::new(&mut []);
    let parsed_len = match req.parse_with_uninit_headers(rest, &mut storage) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return check_partial(buf, start, limits).map(|_| None),
        Err(httparse::Error::Token) if req.method.is_none() => return Err(HeadError::BadMethod),
        Err(e) => {
            check_partial(buf, start, limits)?;
            return Err(map_httparse_error(e, rest));
        }
    };
    let head_len = start + parsed_len;
    if head_len > limits.max_head_bytes {
        return Err(HeadError::HeadTooLarge);
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HeadError::BadTarget);
    };
    let target = Span::of(buf, target.as_bytes());
    // request-line = method SP target SP "HTTP/1.x"
    if target.end as usize + 9 - start > limits.max_request_line_bytes {
        return Err(HeadError::RequestLineTooLong);
    }
    if req.headers.len() > limits.max_headers.min(MAX_HEADERS) {
        return Err(HeadError::TooManyHeaders);
    }
    let mut head = RequestHead {
        head_len,
        method: Span::of(buf, method.as_bytes()),
        method_kind: Method::from_token(method.as_bytes()),
        target,
        target_form: TargetForm::Origin,
        path: target,
        minor_version: version,
        host: None,
        framing: BodyFraming::Empty,
        keep_alive: false,
        expect_continue: false,
        upgrade: false,
        upgrade_line: None,
        upgrade_offered: 0,
        http2_settings: HeaderSet::default(),
        h2c: false,
        drop: HeaderSet::default(),
        forwarded_for: HeaderSet::default(),
        header_count: 0,
        headers: [HeaderSpan::default(); MAX_HEADERS],
    };
    head.header_count = collect_headers(buf, req.headers, &mut head.headers);
    check_line_ends(buf, head.headers(), head_len)?;
    classify_target(buf, &mut head)?;
    derive(buf, &mut head)?;
    Ok(Some(head))
}

/// Limits on a head that has not ended (or failed) at `start..`.
fn check_partial(buf: &[u8], start: usize, limits: &HeadLimits) -> Result<(), HeadError> {
    let line_window = limits.max_request_line_bytes.saturating_add(2);
    if let Some(window) = buf.get(start..).and_then(|r| r.get(..line_window)) {
        if !window.contains(&b'\n') {
            return Err(HeadError::RequestLineTooLong);
        }
    }
    if buf.len() > limits.max_head_bytes {
        return Err(HeadError::HeadTooLarge);
    }
    Ok(())
}

/// Sorts the target into its form and finds the path (and, for
/// absolute-form, the host). Non-ASCII bytes and fragments are refused.
fn classify_target(buf: &[u8], head: &mut RequestHead) -> Result<(), HeadError> {
    let t = head.target.get(buf);
    if !t.is_ascii() || t.contains(&b'#') {
        return Err(HeadError::BadTarget);
    }
    if t.first() == Some(&b'/') {
        return Ok(());
    }
    if t == b"*" {
        if head.method_kind != Method::Options {
            return Err(HeadError::BadTarget);
        }
        head.target_form = TargetForm::Asterisk;
        return Ok(());
    }
    if head.method(buf) == b"CONNECT" {
        return Err(HeadError::ConnectNotSupported);
    }
    let scheme_len = if starts_with_ignore_case(t, b"http://") {
        7
    } else if starts_with_ignore_case(t, b"https://") {
        8
    } else {
        return Err(HeadError::BadTarget);
    };
    let rest = &t[scheme_len..];
    let auth_len = rest.iter().position(|b| *b == b'/' || *b == b'?').unwrap_or(rest.len());
    let authority = &rest[..auth_len];
    let path = &rest[auth_len..];
    if !is_valid_authority(authority) || path.first() == Some(&b'?') {
        return Err(HeadError::BadTarget);
    }
    head.target_form = TargetForm::Absolute;
    head.host = Some(Span::of(buf, authority));
    head.path = Span::of(buf, path);
    Ok(())
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// One pass over the header lines, then the derived facts.
fn derive(buf: &[u8], head: &mut RequestHead) -> Result<(), HeadError> {
    let mut framing = FramingFields::default();
    let mut conn = HeaderSet::default();
    let mut host_count = 0u32;
    let mut host_line = None;
    let mut upgrade_line = None;
    let http11 = head.minor_version == 1;
    for i in 0..head.header_count {
        let h = head.headers[i];
        let value = h.value.get(buf);
        match classify(h.name.get(buf)) {
            Known::Other | Known::Date | Known::Server => {}
            Known::FramingLookalike => return Err(HeadError::FramingLookalike),
            Known::Host => {
                host_count += 1;
                host_line = Some((i, h.value));
            }
            Known::ContentLength => {
                framing.add_content_length(value)?;
                head.drop.insert(i);
            }
            Known::TransferEncoding => {
                framing.add_transfer_encoding(value);
                head.drop.insert(i);
            }
            Known::Connection => {
                conn.insert(i);
                head.drop.insert(i);
            }
            Known::Upgrade => {
                upgrade_line = Some(i);
                head.drop.insert(i);
            }
            Known::Expect => {
                if http11 && value.eq_ignore_ascii_case(b"100-continue") {
                    head.expect_continue = true;
                    head.drop.insert(i);
                }
            }
            Known::Http2Settings => {
                head.http2_settings.insert(i);
                head.drop.insert(i);
            }
            Known::XForwardedFor => {
                head.forwarded_for.insert(i);
                head.drop.insert(i);
            }
            Known::KeepAlive
            | Known::ProxyConnection
            | Known::Te
            | Known::Trailer
            | Known::XForwardedProto
            | Known::XForwardedHost
            | Known::XForwardedPort
            | Known::XRealIp => head.drop.insert(i),
        }
    }
    if host_count > 1 {
        return Err(HeadError::MultipleHost);
    }
    match host_line {
        None if http11 => return Err(HeadError::MissingHost),
        None => {}
        Some((i, value)) => {
            let host = value.get(buf);
            // An empty Host is valid (RFC 9112 §3.2) and routes as no host.
            if !host.is_empty() && !is_valid_authority(host) {
                return Err(HeadError::BadHost);
            }
            if head.target_form == TargetForm::Absolute {
                // RFC 9112 §3.2.2: the authority replaces the Host line.
                head.drop.insert(i);
            } else {
                head.host = Some(value);
            }
        }
    }
    let tokens = apply_connection(buf, &head.headers[..head.header_count], conn, &mut head.drop)?;
    let chunked = framing.check()?;
    if chunked && !http11 {
        return Err(HeadError::TransferEncodingInHttp10);
    }
    head.framing = match (chunked, framing.content_length) {
        (true, _) => BodyFraming::Chunked,
        (false, Some(n)) => BodyFraming::Length(n),
        (false, None) => BodyFraming::Empty,
    };
    head.keep_alive = !tokens.close && (http11 || tokens.keep_alive);
    if let (true, true, Some(i)) = (http11, tokens.upgrade, upgrade_line) {
        head.upgrade = true;
        head.upgrade_line = Some(i);
        head.drop.remove(i);
    }
    Ok(())
}
