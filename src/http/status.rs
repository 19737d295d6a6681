//! The responses the proxy writes itself: errors, the HTTPS redirect and
//! `100 Continue`. Short plain-text bodies that never carry internals.

/// The interim response sent before reading a body announced with
/// `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

macro_rules! statuses {
    ($($variant:ident = $code:literal, $line:literal, $len:literal, $body:literal;)*) => {
        /// A status the proxy answers on its own.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Status {
            $(
                #[doc = $line]
                $variant,
            )*
        }

        impl Status {
            /// Every status, for tests and metrics.
            pub const ALL: &'static [Status] = &[$(Status::$variant),*];

            /// The numeric code.
            pub fn code(self) -> u16 {
                match self { $(Status::$variant => $code,)* }
            }

            /// The status for `code`, when the proxy answers it itself.
            pub fn from_code(code: u16) -> Option<Status> {
                match code { $($code => Some(Status::$variant),)* _ => None }
            }

            /// The status line, with CRLF.
            pub fn line(self) -> &'static [u8] {
                match self { $(Status::$variant => concat!("HTTP/1.1 ", $line, "\r\n").as_bytes(),)* }
            }

            /// The plain-text body.
            pub fn body(self) -> &'static [u8] {
                match self { $(Status::$variant => $body.as_bytes(),)* }
            }

            /// The whole response as one static byte string, closing the
            /// connection and without `Date` (for paths with no
            /// [`super::DateCache`] at hand, such as an accept-time refusal).
            pub fn static_response(self) -> &'static [u8] {
                match self {
                    $(Status::$variant => concat!(
                        "HTTP/1.1 ", $line, "\r\nServer: ringress\r\nConnection: close\r\n",
                        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ", $len,
                        "\r\n\r\n", $body
                    ).as_bytes(),)*
                }
            }
        }
    };
}

statuses! {
    BadRequest = 400, "400 Bad Request", "12", "Bad Request\n";
    Forbidden = 403, "403 Forbidden", "10", "Forbidden\n";
    NotFound = 404, "404 Not Found", "10", "Not Found\n";
    RequestTimeout = 408, "408 Request Timeout", "16", "Request Timeout\n";
    PayloadTooLarge = 413, "413 Content Too Large", "18", "Content Too Large\n";
    UriTooLong = 414, "414 URI Too Long", "13", "URI Too Long\n";
    MisdirectedRequest = 421, "421 Misdirected Request", "20", "Misdirected Request\n";
    HeaderFieldsTooLarge = 431, "431 Request Header Fields Too Large", "32", "Request Header Fields Too Large\n";
    InternalServerError = 500, "500 Internal Server Error", "22", "Internal Server Error\n";
    BadGateway = 502, "502 Bad Gateway", "12", "Bad Gateway\n";
    ServiceUnavailable = 503, "503 Service Unavailable", "20", "Service Unavailable\n";
    GatewayTimeout = 504, "504 Gateway Timeout", "16", "Gateway Timeout\n";
}

fn write_common(date: &[u8], close: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b"Server: ringress\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(if close {
        b"\r\nConnection: close\r\n".as_slice()
    } else {
        b"\r\n".as_slice()
    });
}

/// Appends a complete response for `status` to `out`: status line, Server,
/// Date (`date`, from [`super::DateCache`]), Content-Type, Content-Length,
/// `Connection: close` when `close`, then the body unless `head_request`.
pub fn write_status_response(
    status: Status,
    date: &[u8],
    close: bool,
    head_request: bool,
    out: &mut Vec<u8>,
) {
    let body = status.body();
    out.extend_from_slice(status.line());
    write_common(date, close, out);
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    if !head_request {
        out.extend_from_slice(body);
    }
}

/// Appends a `308 Permanent Redirect` to `https://host/path` (the path with
/// its query): `authority` is the request's Host, whose port is replaced by
/// `https_port` (omitted when `None` or 443); no body when `head_request`. `path` must come from a
/// parsed head (so it holds no CR, LF or space).
pub fn write_redirect(
    authority: &[u8],
    path: &[u8],
    https_port: Option<u16>,
    date: &[u8],
    close: bool,
    head_request: bool,
    out: &mut Vec<u8>,
) {
    const BODY: &[u8] = b"Permanent Redirect\n";
    out.extend_from_slice(b"HTTP/1.1 308 Permanent Redirect\r\n");
    write_common(date, close, out);
    out.extend_from_slice(b"Location: https://");
    out.extend_from_slice(super::fields::host_without_port(authority));
    if let Some(port) = https_port.filter(|p| *p != 443) {
        out.push(b':');
        out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
    }
    out.extend_from_slice(if path.is_empty() { b"/" } else { path });
    out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(BODY.len()).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    if !head_request {
        out.extend_from_slice(BODY);
    }
}

/// Appends a `204 No Content` answer to a CORS preflight: the CORS
/// header lines `cors` (rendered by the route's policy). No
/// `Content-Length` or `Content-Type`: a 204 has no content (RFC 9110
/// §8.6), and nginx drops the ones ingress-nginx's template sets.
pub fn write_preflight(cors: &[u8], date: &[u8], close: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 204 No Content\r\n");
    write_common(date, close, out);
    out.extend_from_slice(cors);
    out.extend_from_slice(b"\r\n");
}

/// Appends a redirect with status `code` (`reason` its phrase) whose
/// `Location` is the concatenation of `location` (parts checked at
/// compile time, or taken from a parsed head: no CR, LF or space); the
/// body names the status; no body when `head_request`.
pub fn write_location(
    code: u16,
    reason: &str,
    location: &[&[u8]],
    date: &[u8],
    close: bool,
    head_request: bool,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(code).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    write_common(date, close, out);
    out.extend_from_slice(b"Location: ");
    for part in location {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(reason.len() + 1).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    if !head_request {
        out.extend_from_slice(reason.as_bytes());
        out.push(b'\n');
    }
}
