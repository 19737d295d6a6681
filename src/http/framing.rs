//! How a message body is delimited (RFC 9112 §6) and the validation of the
//! two framing fields, Content-Length and Transfer-Encoding.
//!
//! Policy (RFC 9112 §6.3, RFC 9110 §8.6), chosen so that no next hop can
//! read a message differently from us:
//! - Content-Length is one or more decimal values; several lines or a
//!   comma-separated list are accepted only when every value is equal
//!   (RFC 9110 §8.6 allows either rejecting or collapsing them; we collapse).
//!   Differing values, an empty value, a non-digit or an overflow are errors.
//! - Transfer-Encoding must be exactly one `chunked` in total across all
//!   lines (empty list elements ignored). Any other coding, `chunked` twice,
//!   or a parameter is refused: we would have to decode it to find the end.
//! - Both fields together are refused (RFC 9112 §6.3 item 3 calls it a
//!   smuggling sign and allows handling it as an error).
//! - Either way the rewrite re-emits the framing canonically
//!   (`Content-Length: N` or `Transfer-Encoding: chunked`) from the
//!   validated value instead of copying the received lines.

use super::fields::{list_elements, parse_decimal, trim_ows};
use super::HeadError;

/// How a request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (neither Content-Length nor Transfer-Encoding).
    Empty,
    /// Exactly this many bytes follow the head (may be 0).
    Length(u64),
    /// A chunked body follows; see [`super::ChunkedState`].
    Chunked,
}

/// How a response body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: a response to HEAD, a 1xx, 204 or 304.
    Empty,
    /// Exactly this many bytes follow the head (may be 0).
    Length(u64),
    /// A chunked body follows.
    Chunked,
    /// The body runs until the upstream closes the connection.
    CloseDelimited,
}

/// Content-Length and Transfer-Encoding collected over all header lines.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FramingFields {
    /// The (collapsed) Content-Length, when present.
    pub content_length: Option<u64>,
    /// Whether a Transfer-Encoding line was seen.
    pub transfer_encoding: bool,
    chunked_count: u32,
    other_coding: bool,
}

impl FramingFields {
    /// Adds one Content-Length line.
    pub fn add_content_length(&mut self, value: &[u8]) -> Result<(), HeadError> {
        let mut any = false;
        for element in value.split(|b| *b == b',').map(trim_ows) {
            let n = parse_decimal(element).ok_or(HeadError::BadContentLength)?;
            match self.content_length {
                Some(m) if m != n => return Err(HeadError::ConflictingContentLength),
                _ => self.content_length = Some(n),
            }
            any = true;
        }
        if any {
            Ok(())
        } else {
            Err(HeadError::BadContentLength)
        }
    }

    /// Adds one Transfer-Encoding line.
    pub fn add_transfer_encoding(&mut self, value: &[u8]) {
        self.transfer_encoding = true;
        for coding in list_elements(value) {
            if coding.eq_ignore_ascii_case(b"chunked") {
                self.chunked_count += 1;
            } else {
                self.other_coding = true;
            }
        }
    }

    /// Checks the collected fields: both present, or a Transfer-Encoding
    /// other than exactly one `chunked`, is an error. Returns whether the
    /// body is chunked.
    pub fn check(&self) -> Result<bool, HeadError> {
        if !self.transfer_encoding {
            return Ok(false);
        }
        if self.content_length.is_some() {
            return Err(HeadError::ContentLengthAndTransferEncoding);
        }
        if self.other_coding || self.chunked_count != 1 {
            return Err(HeadError::UnsupportedTransferEncoding);
        }
        Ok(true)
    }
}
