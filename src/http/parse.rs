//! The steps request and response parsing share: copying `httparse`'s
//! headers into spans, the strict line-ending check, mapping `httparse`
//! errors, and the Connection header's tokens.

use super::fields::{classify, list_elements, Known};
use super::{HeadError, HeaderSet, HeaderSpan, Span, MAX_HEADERS};

/// Header spans of one head, stored inline (no allocation).
pub(crate) type HeaderArray = [HeaderSpan; MAX_HEADERS];

/// An uninitialised `httparse` header array for the stack.
macro_rules! uninit_headers {
    () => {
        [const { ::std::mem::MaybeUninit::<::httparse::Header<'_>>::uninit() };
            $crate::http::MAX_HEADERS]
    };
}
pub(crate) use uninit_headers;

/// Copies `parsed` (slices of `buf`) into `out` as spans; returns the count.
#[inline]
pub(crate) fn collect_headers(
    buf: &[u8],
    parsed: &[httparse::Header<'_>],
    out: &mut HeaderArray,
) -> usize {
    for (slot, h) in out.iter_mut().zip(parsed) {
        *slot =
            HeaderSpan { name: Span::of(buf, h.name.as_bytes()), value: Span::of(buf, h.value) };
    }
    parsed.len().min(MAX_HEADERS)
}

/// Skips empty lines before a start line (RFC 9112 §2.2 lets a server
/// ignore them). `Ok(None)` when the buffer holds nothing else yet.
#[inline]
pub(crate) fn skip_empty_lines(buf: &[u8]) -> Result<Option<usize>, HeadError> {
    let mut i = 0;
    loop {
        match (buf.get(i), buf.get(i + 1)) {
            (Some(b'\r'), Some(b'\n')) => i += 2,
            (Some(b'\r'), None) | (None, _) => return Ok(None),
            (Some(b'\n'), _) => return Err(HeadError::BareLf),
            (Some(b'\r'), Some(_)) => return Err(HeadError::BadLineEnding),
            (Some(_), _) => return Ok(Some(i)),
        }
    }
}

/// `httparse` accepts a bare LF as a line end; we do not (RFC 9112 §2.2
/// allows either, and a next hop that disagrees could be smuggled to).
/// Every LF in a parsed head ends a line (field values and start-line
/// tokens cannot hold one), so checking the two bytes before each header
/// name and the last four bytes of the head checks every line end.
#[inline]
pub(crate) fn check_line_ends(
    buf: &[u8],
    headers: &[HeaderSpan],
    head_len: usize,
) -> Result<(), HeadError> {
    for h in headers {
        let s = h.name.start as usize;
        if s < 2 || buf.get(s - 2..s) != Some(b"\r\n") {
            return Err(HeadError::BareLf);
        }
    }
    if head_len < 4 || buf.get(head_len - 4..head_len) != Some(b"\r\n\r\n") {
        return Err(HeadError::BareLf);
    }
    Ok(())
}

/// Maps an `httparse` error to the rule broken. A header line starting with
/// whitespace is obs-fold (`httparse` reports it as a bad name).
pub(crate) fn map_httparse_error(e: httparse::Error, buf: &[u8]) -> HeadError {
    match e {
        httparse::Error::HeaderName => {
            let folded = buf.windows(2).any(|w| w[0] == b'\n' && (w[1] == b' ' || w[1] == b'\t'));
            if folded {
                HeadError::ObsFold
            } else {
                HeadError::BadHeaderName
            }
        }
        httparse::Error::HeaderValue => HeadError::BadHeaderValue,
        httparse::Error::NewLine => HeadError::BadLineEnding,
        httparse::Error::Status => HeadError::BadStatusLine,
        httparse::Error::Token => HeadError::BadTarget,
        httparse::Error::Version => HeadError::BadVersion,
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
    }
}

/// What the Connection header lines said.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
}

/// Reads the tokens of the Connection lines in `conn`, and adds to `drop`
/// every header the tokens name (RFC 9110 §7.6.1). Naming Host,
/// Content-Length or Transfer-Encoding is refused: dropping them would
/// change how the next hop reads the message.
pub(crate) fn apply_connection(
    buf: &[u8],
    headers: &[HeaderSpan],
    conn: HeaderSet,
    drop: &mut HeaderSet,
) -> Result<ConnectionTokens, HeadError> {
    let mut t = ConnectionTokens::default();
    if conn.is_empty() {
        return Ok(t);
    }
    for (i, h) in headers.iter().enumerate() {
        if !conn.contains(i) {
            continue;
        }
        let value = h.value.get(buf);
        // Most values are one token (httparse already trimmed the ends).
        if value.contains(&b',') {
            for token in list_elements(value) {
                connection_token(buf, headers, token, &mut t, drop)?;
            }
        } else {
            connection_token(buf, headers, value, &mut t, drop)?;
        }
    }
    Ok(t)
}

#[inline]
fn connection_token(
    buf: &[u8],
    headers: &[HeaderSpan],
    token: &[u8],
    t: &mut ConnectionTokens,
    drop: &mut HeaderSet,
) -> Result<(), HeadError> {
    match token.len() {
        5 if token.eq_ignore_ascii_case(b"close") => t.close = true,
        10 if token.eq_ignore_ascii_case(b"keep-alive") => t.keep_alive = true,
        7 if token.eq_ignore_ascii_case(b"upgrade") => t.upgrade = true,
        0 => {}
        _ => {
            if let Known::Host | Known::ContentLength | Known::TransferEncoding = classify(token) {
                return Err(HeadError::ConnectionNamesProtectedHeader);
            }
            for (j, other) in headers.iter().enumerate() {
                if other.name.get(buf).eq_ignore_ascii_case(token) {
                    drop.insert(j);
                }
            }
        }
    }
    Ok(())
}
