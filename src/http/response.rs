//! Response heads from upstreams: [`parse_response_head`] and
//! [`ResponseHead`], framed per RFC 9112 §6.3:
//!
//! 1. a response to HEAD, any 1xx, 204 and 304 have no body, whatever
//!    their header lines say (Content-Length is still kept for the client);
//! 2. `Transfer-Encoding: chunked` (exactly; anything else is refused, see
//!    [`super::framing`]) means a chunked body;
//! 3. a valid Content-Length gives the body length;
//! 4. otherwise the body runs until the upstream closes.
//!
//! The same rules as for requests apply to line ends, obs-fold, bytes in
//! names and values, and conflicting framing; an upstream head that breaks
//! one is a 502, never forwarded.

use super::fields::{classify, Known};
use super::framing::FramingFields;
use super::parse::{
    apply_connection, check_line_ends, collect_headers, map_httparse_error, skip_empty_lines,
    uninit_headers, HeaderArray,
};
use super::{HeadError, HeadLimits, HeaderSet, HeaderSpan, ResponseFraming, Span, MAX_HEADERS};

/// A parsed response head: offsets into the buffer it was parsed from plus
/// the facts derived from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Bytes of the head, including the final CRLF.
    pub head_len: usize,
    /// The status code (100..=599).
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: Span,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// How the body is delimited.
    pub framing: ResponseFraming,
    /// The validated Content-Length, when one was sent (kept for HEAD and
    /// 304 answers even though no body follows).
    pub content_length: Option<u64>,
    /// Whether `Transfer-Encoding: chunked` was sent.
    pub chunked: bool,
    /// Whether the upstream connection may be reused after this response.
    pub keep_alive: bool,
    /// A `101 Switching Protocols` with `Connection: upgrade` and `Upgrade`.
    pub upgrade: bool,
    /// Whether a Date line is forwarded.
    pub has_date: bool,
    /// Whether a Server line is forwarded.
    pub has_server: bool,
    /// Header lines not forwarded (hop-by-hop or re-emitted framing).
    pub drop: HeaderSet,
    header_count: usize,
    headers: HeaderArray,
}

impl ResponseHead {
    /// The header lines as received, in order.
    #[inline]
    pub fn headers(&self) -> &[HeaderSpan] {
        &self.headers[..self.header_count]
    }

    /// An interim response (1xx other than 101): relay it, then read the
    /// final response head.
    #[inline]
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header<'a>(&self, buf: &'a [u8], name: &str) -> Option<&'a [u8]> {
        self.headers()
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.get(buf))
    }
}

/// Parses a response head at the start of `buf`. `head_request`: the
/// request was HEAD, so no body follows whatever the head says.
///
/// `Ok(None)`: not complete yet. `Err`: the upstream broke a rule (502).
pub fn parse_response_head(
    buf: &[u8],
    head_request: bool,
    limits: &HeadLimits,
) -> Result<Option<ResponseHead>, HeadError> {
    let too_large = |len: usize| len > limits.max_head_bytes;
    let Some(start) = skip_empty_lines(buf)? else {
        return if too_large(buf.len()) { Err(HeadError::HeadTooLarge) } else { Ok(None) };
    };
    let rest = &buf[start..];
    let mut storage = uninit_headers!();
    let mut resp = httparse::Response::new(&mut []);
    let parsed_len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        rest,
        &mut storage,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if too_large(buf.len()) => {
            return Err(HeadError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(map_httparse_error(e, rest)),
    };
    let head_len = start + parsed_len;
    if too_large(head_len) {
        return Err(HeadError::HeadTooLarge);
    }
    let (Some(version), Some(status)) = (resp.version, resp.code) else {
        return Err(HeadError::BadStatusLine);
    };
    if !(100..=599).contains(&status) {
        return Err(HeadError::BadStatusLine);
    }
    if resp.headers.len() > limits.max_headers.min(MAX_HEADERS) {
        return Err(HeadError::TooManyHeaders);
    }
    let mut head = ResponseHead {
        head_len,
        status,
        // Without a reason phrase httparse hands back a static "", not a
        // slice of `buf`: a span of it would point outside the buffer.
        reason: resp
            .reason
            .filter(|r| !r.is_empty())
            .map(|r| Span::of(buf, r.as_bytes()))
            .unwrap_or_default(),
        minor_version: version,
        framing: ResponseFraming::CloseDelimited,
        content_length: None,
        chunked: false,
        keep_alive: false,
        upgrade: false,
        has_date: false,
        has_server: false,
        drop: HeaderSet::default(),
        header_count: 0,
        headers: [HeaderSpan::default(); MAX_HEADERS],
    };
    head.header_count = collect_headers(buf, resp.headers, &mut head.headers);
    check_line_ends(buf, head.headers(), head_len)?;
    derive(buf, &mut head, head_request)?;
    Ok(Some(head))
}

fn derive(buf: &[u8], head: &mut ResponseHead, head_request: bool) -> Result<(), HeadError> {
    let mut framing = FramingFields::default();
    let mut conn = HeaderSet::default();
    let mut upgrade_line = None;
    let mut date_server = HeaderSet::default();
    for i in 0..head.header_count {
        let h = head.headers[i];
        match classify(h.name.get(buf)) {
            Known::ContentLength => {
                framing.add_content_length(h.value.get(buf))?;
                head.drop.insert(i);
            }
            Known::TransferEncoding => {
                framing.add_transfer_encoding(h.value.get(buf));
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
            Known::KeepAlive | Known::ProxyConnection | Known::Te | Known::Trailer => {
                head.drop.insert(i)
            }
            Known::Date | Known::Server => date_server.insert(i),
            Known::FramingLookalike => return Err(HeadError::FramingLookalike),
            _ => {}
        }
    }
    let tokens = apply_connection(buf, &head.headers[..head.header_count], conn, &mut head.drop)?;
    let http11 = head.minor_version == 1;
    head.chunked = framing.check()?;
    if head.chunked && !http11 {
        return Err(HeadError::TransferEncodingInHttp10);
    }
    head.content_length = framing.content_length;
    let no_body = head_request || head.status < 200 || head.status == 204 || head.status == 304;
    head.framing = match (no_body, head.chunked, framing.content_length) {
        (true, _, _) => ResponseFraming::Empty,
        (false, true, _) => ResponseFraming::Chunked,
        (false, false, Some(n)) => ResponseFraming::Length(n),
        (false, false, None) => ResponseFraming::CloseDelimited,
    };
    if let (101, true, Some(i)) = (head.status, tokens.upgrade, upgrade_line) {
        head.upgrade = true;
        head.drop.remove(i);
    }
    head.keep_alive = !tokens.close
        && (http11 || tokens.keep_alive)
        && head.framing != ResponseFraming::CloseDelimited
        && head.status != 101;
    let (mut has_date, mut has_server) = (false, false);
    if !date_server.is_empty() {
        for (i, h) in head.headers().iter().enumerate() {
            if date_server.contains(i) && !head.drop.contains(i) {
                match h.name.get(buf).len() {
                    4 => has_date = true,
                    _ => has_server = true,
                }
            }
        }
    }
    head.has_date = has_date;
    head.has_server = has_server;
    Ok(())
}
