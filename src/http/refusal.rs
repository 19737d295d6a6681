//! Why a head was refused. Each variant is one rule; [`HeadError::status`]
//! is the answer when the head came from downstream (an upstream head that
//! breaks a rule is a 502, decided in `crate::error`).

use thiserror::Error;

/// A request or response head that breaks a rule of RFC 9112 or a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum HeadError {
    /// The head grew past [`super::MAX_HEAD_BYTES`] (431).
    #[error("head larger than the limit")]
    HeadTooLarge,
    /// More header lines than [`super::MAX_HEADERS`] (431).
    #[error("too many header lines")]
    TooManyHeaders,
    /// The request line is longer than [`super::MAX_REQUEST_LINE_BYTES`] (414).
    #[error("request line longer than the limit")]
    RequestLineTooLong,
    /// The method is not a token.
    #[error("malformed method")]
    BadMethod,
    /// The request target is malformed, not ASCII, carries a fragment or
    /// userinfo, or is in a form we do not serve.
    #[error("malformed request target")]
    BadTarget,
    /// Not `HTTP/1.0` or `HTTP/1.1`.
    #[error("unsupported or malformed HTTP version")]
    BadVersion,
    /// The response status line is malformed.
    #[error("malformed status line")]
    BadStatusLine,
    /// `CONNECT` (authority-form) is not served by a reverse proxy.
    #[error("CONNECT is not supported")]
    ConnectNotSupported,
    /// A line ends in LF without CR (httparse accepts it; we do not).
    #[error("bare LF line ending")]
    BareLf,
    /// A CR not followed by LF.
    #[error("malformed line ending")]
    BadLineEnding,
    /// A header line starts with whitespace (obsolete line folding).
    #[error("obsolete line folding")]
    ObsFold,
    /// A header name with a byte outside `tchar`, or whitespace before the colon.
    #[error("invalid byte in a header name")]
    BadHeaderName,
    /// A name that reads as Content-Length or Transfer-Encoding once `_`
    /// becomes `-` (as CGI gateways do): a next hop could frame by it.
    #[error("header name resembling a framing header")]
    FramingLookalike,
    /// A header value with a control byte (NUL, bare CR, DEL, ...).
    #[error("invalid byte in a header value")]
    BadHeaderValue,
    /// HTTP/1.1 request without Host.
    #[error("missing Host header")]
    MissingHost,
    /// More than one Host header line.
    #[error("more than one Host header")]
    MultipleHost,
    /// A Host (or absolute-form authority) that is not a valid authority.
    #[error("invalid Host header")]
    BadHost,
    /// Both Content-Length and Transfer-Encoding.
    #[error("both Content-Length and Transfer-Encoding")]
    ContentLengthAndTransferEncoding,
    /// Content-Length values that differ.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// Content-Length that is empty, not decimal digits, or overflows.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// Transfer-Encoding other than exactly one `chunked`.
    #[error("unsupported Transfer-Encoding")]
    UnsupportedTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 message.
    #[error("Transfer-Encoding in an HTTP/1.0 message")]
    TransferEncodingInHttp10,
    /// Connection names Host, Content-Length or Transfer-Encoding: dropping
    /// it would change how the next hop reads the message.
    #[error("Connection names an end-to-end framing header")]
    ConnectionNamesProtectedHeader,
    /// The path has more `..` segments than segments to remove: it climbs
    /// above the root (see [`super::normalize`]).
    #[error("path climbs above the root")]
    PathAboveRoot,
    /// A `%` in the path not followed by two hex digits.
    #[error("malformed percent-encoding in the path")]
    BadPercentEncoding,
}

impl HeadError {
    /// The status answered to a downstream client whose request broke this
    /// rule: 431 for size limits, 414 for the request line, else 400.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::HeadTooLarge | HeadError::TooManyHeaders => 431,
            HeadError::RequestLineTooLong => 414,
            _ => 400,
        }
    }

    /// A static metric label naming the rule.
    pub fn label(&self) -> &'static str {
        match self {
            HeadError::HeadTooLarge => "head_too_large",
            HeadError::TooManyHeaders => "too_many_headers",
            HeadError::RequestLineTooLong => "request_line_too_long",
            HeadError::BadMethod => "bad_method",
            HeadError::BadTarget => "bad_target",
            HeadError::BadVersion => "bad_version",
            HeadError::BadStatusLine => "bad_status_line",
            HeadError::ConnectNotSupported => "connect_not_supported",
            HeadError::BareLf => "bare_lf",
            HeadError::BadLineEnding => "bad_line_ending",
            HeadError::ObsFold => "obs_fold",
            HeadError::BadHeaderName => "bad_header_name",
            HeadError::BadHeaderValue => "bad_header_value",
            HeadError::FramingLookalike => "framing_lookalike",
            HeadError::MissingHost => "missing_host",
            HeadError::MultipleHost => "multiple_host",
            HeadError::BadHost => "bad_host",
            HeadError::ContentLengthAndTransferEncoding => "cl_and_te",
            HeadError::ConflictingContentLength => "conflicting_content_length",
            HeadError::BadContentLength => "bad_content_length",
            HeadError::UnsupportedTransferEncoding => "unsupported_transfer_encoding",
            HeadError::TransferEncodingInHttp10 => "transfer_encoding_in_http10",
            HeadError::ConnectionNamesProtectedHeader => "connection_names_protected_header",
            HeadError::PathAboveRoot => "path_above_root",
            HeadError::BadPercentEncoding => "bad_percent_encoding",
        }
    }
}
