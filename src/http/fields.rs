//! Header-name classification and the bits of field-value grammar the
//! codec needs (lists, tokens, decimal numbers, authorities). All of it
//! works on byte slices and allocates nothing.

/// The header names the codec acts on; everything else is [`Known::Other`]
/// and forwarded untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// Any other field.
    Other,
    /// `Host`.
    Host,
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding`.
    TransferEncoding,
    /// `Connection` (hop-by-hop).
    Connection,
    /// `Keep-Alive` (hop-by-hop).
    KeepAlive,
    /// `Proxy-Connection` (hop-by-hop, non-standard).
    ProxyConnection,
    /// `TE` (hop-by-hop).
    Te,
    /// `Trailer` (hop-by-hop).
    Trailer,
    /// `Upgrade` (hop-by-hop unless upgrading).
    Upgrade,
    /// `Expect`.
    Expect,
    /// `X-Forwarded-For` (appended to).
    XForwardedFor,
    /// `X-Forwarded-Proto` (overwritten).
    XForwardedProto,
    /// `X-Forwarded-Host` (overwritten).
    XForwardedHost,
    /// `X-Forwarded-Port` (overwritten).
    XForwardedPort,
    /// `X-Real-IP` (overwritten).
    XRealIp,
    /// `Date`.
    Date,
    /// `Server`.
    Server,
    /// `HTTP2-Settings` (only meaningful with an `h2c` upgrade).
    Http2Settings,
    /// `Content_Length` or `Transfer_Encoding`: a name some servers (CGI
    /// gateways) read as the framing field. Refused.
    FramingLookalike,
}

/// Classifies a header name, case-insensitively, dispatching on length
/// first so most names cost one comparison at most.
#[inline]
pub fn classify(name: &[u8]) -> Known {
    let eq = |s: &[u8]| name.eq_ignore_ascii_case(s);
    match name.len() {
        2 if eq(b"te") => Known::Te,
        4 if eq(b"host") => Known::Host,
        4 if eq(b"date") => Known::Date,
        6 if eq(b"expect") => Known::Expect,
        6 if eq(b"server") => Known::Server,
        7 if eq(b"upgrade") => Known::Upgrade,
        7 if eq(b"trailer") => Known::Trailer,
        9 if eq(b"x-real-ip") => Known::XRealIp,
        10 if eq(b"connection") => Known::Connection,
        10 if eq(b"keep-alive") => Known::KeepAlive,
        14 if eq(b"content-length") => Known::ContentLength,
        14 if eq(b"http2-settings") => Known::Http2Settings,
        15 if eq(b"x-forwarded-for") => Known::XForwardedFor,
        16 if eq(b"proxy-connection") => Known::ProxyConnection,
        16 if eq(b"x-forwarded-host") => Known::XForwardedHost,
        16 if eq(b"x-forwarded-port") => Known::XForwardedPort,
        17 if eq(b"transfer-encoding") => Known::TransferEncoding,
        17 if eq(b"x-forwarded-proto") => Known::XForwardedProto,
        14 if lookalike(name, b"content-length") => Known::FramingLookalike,
        17 if lookalike(name, b"transfer-encoding") => Known::FramingLookalike,
        _ => Known::Other,
    }
}

/// Whether `name` equals `target` (lowercase) once `_` is read as `-`.
fn lookalike(name: &[u8], target: &[u8]) -> bool {
    name.len() == target.len()
        && name
            .iter()
            .zip(target)
            .all(|(a, b)| a.to_ascii_lowercase() == *b || (*a == b'_' && *b == b'-'))
}

/// Trims optional whitespace (SP / HTAB) on both sides.
#[inline]
pub fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| *b != b' ' && *b != b'\t').unwrap_or(v.len());
    let end = v.iter().rposition(|b| *b != b' ' && *b != b'\t').map_or(start, |i| i + 1);
    &v[start..end]
}

/// The elements of a comma-separated list value (`#element`), trimmed,
/// empty elements skipped (RFC 9110 §5.6.1).
#[inline]
pub fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

/// Whether `b` is a `tchar` (RFC 9110 §5.6.2).
#[inline]
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A non-empty run of decimal digits as a `u64`; `None` when empty, when a
/// byte is not a digit, or on overflow.
#[inline]
pub fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Whether `v` is a plausible `uri-host [ ":" port ]` (RFC 9110 §7.2):
/// non-empty, only unreserved, sub-delims, `%`, `:`, `[` and `]`. Anything
/// that could end the authority early (`/ ? # @ \`), whitespace or
/// non-ASCII is refused, so the router and the upstream see the same host.
#[inline]
pub fn is_valid_authority(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|&b| AUTHORITY_BYTES[b as usize])
}

/// The bytes [`is_valid_authority`] accepts, as a lookup table.
static AUTHORITY_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~!$&'()*+,;=:%[]";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
};

/// The host of an authority without its `:port` (IPv6 literals kept whole).
#[inline]
pub fn host_without_port(authority: &[u8]) -> &[u8] {
    if authority.first() == Some(&b'[') {
        return match authority.iter().position(|b| *b == b']') {
            Some(i) => &authority[..=i],
            None => authority,
        };
    }
    match authority.iter().rposition(|b| *b == b':') {
        Some(i) => &authority[..i],
        None => authority,
    }
}
