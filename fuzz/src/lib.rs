//! Checks shared by the fuzz targets in `fuzz_targets/`. Each is written
//! from the rules (RFC 9112 and the codec's documented policy), not from
//! the parser's code, so a disagreement is a finding.

use ringress::http::Span;

/// The head of `raw` (the bytes the parser accepted as a head) ends every
/// line with CRLF: no bare LF, no bare CR, no obs-fold (a line starting
/// with SP or HTAB), and it ends with the empty line.
pub fn assert_strict_lines(raw: &[u8]) {
    assert!(raw.ends_with(b"\r\n\r\n"), "head does not end with CRLF CRLF: {:?}", lossy(raw));
    for (i, b) in raw.iter().enumerate() {
        match b {
            b'\n' => {
                assert!(i > 0 && raw[i - 1] == b'\r', "bare LF accepted: {:?}", lossy(raw));
                let next = raw.get(i + 1).copied();
                assert!(
                    next != Some(b' ') && next != Some(b'\t'),
                    "obs-fold accepted: {:?}",
                    lossy(raw)
                );
            }
            b'\r' => assert_eq!(raw.get(i + 1), Some(&b'\n'), "bare CR accepted: {:?}", lossy(raw)),
            _ => {}
        }
    }
}

/// `span` lies inside the first `len` bytes.
pub fn assert_within(span: Span, len: usize, what: &str) {
    assert!(
        span.start <= span.end && span.end as usize <= len,
        "{what} span {span:?} outside the head of {len} bytes"
    );
}

/// `inner` lies inside `outer`.
pub fn assert_inside(inner: Span, outer: Span, what: &str) {
    assert!(
        outer.start <= inner.start && inner.end <= outer.end,
        "{what} span {inner:?} outside {outer:?}"
    );
}

/// Where the first empty-line-free start line begins (RFC 9112 §2.2: empty
/// lines before it are skipped), and where that line's CRLF is.
pub fn start_line(raw: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    while raw[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let end = raw[start..].windows(2).position(|w| w == b"\r\n")? + start;
    Some((start, end))
}

/// Whether `b` is a `tchar` (RFC 9110 §5.6.2).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes allowed in a field value (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB.
pub fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// The value of every header line named `name` (case-insensitive).
pub fn values<'a>(
    buf: &'a [u8],
    headers: &'a [ringress::http::HeaderSpan],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.get(buf).eq_ignore_ascii_case(name.as_bytes()))
        .map(move |h| h.value.get(buf))
}

/// Text for an assertion message.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
