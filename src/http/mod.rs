//! The HTTP/1.1 codec of the data plane (RFC 9110 / RFC 9112).
//!
//! Heads are parsed with `httparse` into [`Span`]s (offsets) over the
//! caller's buffer: nothing is copied and nothing is allocated per request.
//! Every derived fact the proxy needs (host, path, body framing, keep-alive,
//! `Expect: 100-continue`, upgrade, which headers to drop) is computed once,
//! during parsing, and the rewrite functions copy kept headers straight from
//! the same buffer into a reused output buffer.
//!
//! # Layout
//! - [`head`]: request heads, [`parse_request_head`], the smuggling checks.
//! - [`response`]: response heads, [`parse_response_head`], RFC 9112 §6.3.
//! - [`fields`]: header-name classification and field-value grammar helpers.
//! - [`framing`]: [`BodyFraming`], [`ResponseFraming`], Content-Length and
//!   Transfer-Encoding validation.
//! - [`chunked`]: the incremental chunked-body validator [`ChunkedState`].
//! - [`rewrite`]: [`write_upstream_request_head`] (forwarding headers by
//!   the peer's trust, [`ForwardContext`]) and
//!   [`write_downstream_response_head`].
//! - [`scan`]: [`HeadScan`], when to re-run the parser on a trickling head.
//! - [`normalize`]: [`normalize::normalize_path`], the path routed on and
//!   forwarded (percent-decoding of unreserved bytes, dot segments).
//! - [`upgrade`]: which `Upgrade` protocols are forwarded, and whether an
//!   upstream's `101` matches the offer.
//! - [`status`]: the responses the proxy writes itself (errors, redirect,
//!   `100 Continue`).
//! - [`date`]: [`DateCache`], the per-worker `Date` header value.
//! - [`refusal`]: [`HeadError`], why a head was refused (not to be
//!   confused with `crate::error`, the proxy's error taxonomy).

pub mod chunked;
pub mod date;
pub mod fields;
pub mod framing;
pub mod head;
pub mod normalize;
mod parse;
pub mod refusal;
pub mod response;
pub mod rewrite;
pub mod scan;
pub mod status;
pub mod upgrade;

#[cfg(test)]
mod tests;

pub use chunked::{ChunkError, ChunkedState};
pub use date::DateCache;
pub use framing::{BodyFraming, ResponseFraming};
pub use head::{parse_request_head, Method, RequestHead, TargetForm};
pub use refusal::HeadError;
pub use response::{parse_response_head, ResponseHead};
pub use rewrite::{
    write_downstream_response_head, write_upstream_request_head, write_upstream_request_head_with,
    ForwardContext, HeadOverrides, ResponseContext,
};
pub use scan::{HeadScan, ScanWork};
pub use status::{
    write_location, write_preflight, write_redirect, write_status_response, Status, CONTINUE,
};

/// Largest request or response head (start line plus header lines plus the
/// empty line) accepted; a bigger head is answered 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header lines accepted in one head; more are answered 431. It is also
/// the size of the `httparse` header array kept on the stack while parsing.
pub const MAX_HEADERS: usize = 100;
/// Longest request line (without its CRLF); a longer one is answered 414,
/// detected as soon as that many bytes arrived without a line end.
pub const MAX_REQUEST_LINE_BYTES: usize = 8 * 1024;

/// The limits a head is parsed under. [`HeadLimits::DEFAULT`] holds the
/// named constants above; a limit above the constant is clamped to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// See [`MAX_HEAD_BYTES`].
    pub max_head_bytes: usize,
    /// See [`MAX_HEADERS`]; values above it are clamped.
    pub max_headers: usize,
    /// See [`MAX_REQUEST_LINE_BYTES`].
    pub max_request_line_bytes: usize,
}

impl HeadLimits {
    /// The limits named by the constants of this module.
    pub const DEFAULT: HeadLimits = HeadLimits {
        max_head_bytes: MAX_HEAD_BYTES,
        max_headers: MAX_HEADERS,
        max_request_line_bytes: MAX_REQUEST_LINE_BYTES,
    };
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A byte range inside the buffer a head was parsed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The bytes of this span in `buf` (the buffer the head was parsed
    /// from); an empty slice if `buf` is too short, never a panic.
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize).unwrap_or(&[])
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The span of `part`, a subslice of `base`, relative to `base`.
    #[inline]
    pub(crate) fn of(base: &[u8], part: &[u8]) -> Span {
        let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
        Span { start: start as u32, end: (start + part.len()) as u32 }
    }
}

/// One header line: name and value spans (the value without surrounding
/// whitespace).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderSpan {
    /// The field name, as received (case preserved).
    pub name: Span,
    /// The field value, trimmed.
    pub value: Span,
}

/// A set of header indices (`0..MAX_HEADERS`), one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderSet(u128);

impl HeaderSet {
    /// Adds index `i`.
    #[inline]
    pub fn insert(&mut self, i: usize) {
        self.0 |= 1u128 << (i & 127);
    }
    /// Removes index `i`.
    #[inline]
    pub fn remove(&mut self, i: usize) {
        self.0 &= !(1u128 << (i & 127));
    }
    /// Whether index `i` is in the set.
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        self.0 & (1u128 << (i & 127)) != 0
    }
    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

const _: () = assert!(MAX_HEADERS <= 128, "HeaderSet holds 128 indices");
