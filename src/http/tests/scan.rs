//! When the parser runs on a head arriving in pieces.

use crate::http::{
    parse_request_head, HeadError, HeadLimits, HeadScan, ScanWork, MAX_REQUEST_LINE_BYTES,
};

/// Feeds `src` one byte at a time; returns the lengths at which the scan
/// asked for a parse, and the first parse result that was not `Ok(None)`.
fn trickle(src: &[u8]) -> (Vec<usize>, Option<Result<usize, HeadError>>) {
    let mut scan = HeadScan::new();
    let mut asked = Vec::new();
    for len in 1..=src.len() {
        if scan.should_parse(&src[..len], &HeadLimits::DEFAULT) {
            asked.push(len);
            match parse_request_head(&src[..len], &HeadLimits::DEFAULT) {
                Ok(None) => {}
                Ok(Some(h)) => return (asked, Some(Ok(h.head_len))),
                Err(e) => return (asked, Some(Err(e))),
            }
        }
    }
    (asked, None)
}

/// The parser runs on the first byte, at the end of the request line and
/// at the blank line, never per header line.
#[test]
fn scan_parses_a_trickling_head_only_at_the_first_line_end_and_blank_lines() {
    let src = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let (asked, result) = trickle(src);
    assert_eq!(asked, vec![1, 16, src.len()]);
    assert_eq!(result, Some(Ok(src.len())));
}

/// A malformed request line is refused when its line end arrives, not
/// only when the head ends (or times out).
#[test]
fn scan_refuses_a_bad_request_line_at_its_line_end() {
    let (asked, result) = trickle(b"GET / HTTP/9.9\r\nHost: a\r\n");
    assert_eq!(asked, vec![1, 16]);
    assert_eq!(result, Some(Err(HeadError::BadVersion)));
}

/// A head of `len` bytes: request line, Host, then padding header lines
/// of about 500 bytes each, then the blank line.
pub(crate) fn large_head(len: usize) -> Vec<u8> {
    let mut head = b"GET /trickle HTTP/1.1\r\nHost: bench.local\r\n".to_vec();
    let mut i = 0;
    while head.len() + 2 < len {
        let left = len - 2 - head.len();
        let line = format!("X-Pad-{i:02}: ");
        // A line is at least its name, one value byte and CRLF.
        let value = if left >= 520 + line.len() + 1 + 2 { 500 } else { left - line.len() - 2 };
        head.extend_from_slice(line.as_bytes());
        head.resize(head.len() + value, b'a');
        head.extend_from_slice(b"\r\n");
        i += 1;
    }
    head.extend_from_slice(b"\r\n");
    assert_eq!(head.len(), len);
    head
}

/// Work done on `src[..end]` arriving one byte per read, counted from
/// byte `from` on (the scan state before `from` is built first).
fn trickle_work(src: &[u8], from: usize, end: usize) -> (ScanWork, Option<usize>) {
    let mut scan = HeadScan::new();
    for len in 1..from {
        assert_eq!(scan.parse_request(&src[..len], &HeadLimits::DEFAULT), Ok(None));
    }
    let before = scan.work();
    let mut done = None;
    for len in from.max(1)..=end {
        if let Some(head) = scan.parse_request(&src[..len], &HeadLimits::DEFAULT).unwrap() {
            done = Some(head.head_len);
            break;
        }
    }
    let after = scan.work();
    (ScanWork { parses: after.parses - before.parses, bytes: after.bytes - before.bytes }, done)
}

/// A 48 KiB head trickling in one byte per read costs linear work: the
/// parser runs three times in all (first byte, request line, end of head),
/// every byte is looked at a bounded number of times, and the last 8 KiB
/// cost what the first 8 KiB cost plus one parse of the whole head (a
/// re-parse per read makes the last 8 KiB cost eleven times the first, and
/// the whole head 24 000 times its size).
#[test]
fn trickled_head_costs_linear_work() {
    const KIB: usize = 1024;
    let src = large_head(48 * KIB);
    let (whole, done) = trickle_work(&src, 0, src.len());
    assert_eq!(done, Some(src.len()));
    assert_eq!(whole.parses, 3, "{whole:?}");
    let n = src.len() as u64;
    assert!(whole.bytes <= 5 * n, "{} bytes looked at for a {n}-byte head", whole.bytes);

    let (first, _) = trickle_work(&src, 0, 8 * KIB);
    let (last, done) = trickle_work(&src, 40 * KIB + 1, 48 * KIB);
    assert_eq!(done, Some(src.len()));
    assert_eq!(last.parses, 1, "{last:?}");
    assert!(last.bytes <= 2 * first.bytes + n, "first 8 KiB: {first:?}, last 8 KiB: {last:?}");
}

#[test]
fn scan_lets_bare_lf_heads_reach_the_parser() {
    let (_, result) = trickle(b"GET / HTTP/1.1\nHost: a\n\n");
    assert_eq!(result, Some(Err(HeadError::BareLf)));
    let (_, result) = trickle(b"GET / HTTP/1.1\r\nHost: a\r\n\n");
    assert_eq!(result, Some(Err(HeadError::BareLf)));
}

#[test]
fn scan_asks_once_when_the_request_line_limit_is_crossed() {
    let mut src = b"GET /".to_vec();
    src.resize(MAX_REQUEST_LINE_BYTES + 10, b'a');
    let (asked, result) = trickle(&src);
    assert_eq!(asked, vec![1, MAX_REQUEST_LINE_BYTES + 2]);
    assert_eq!(result, Some(Err(HeadError::RequestLineTooLong)));
}

#[test]
fn scan_asks_when_the_head_limit_is_crossed() {
    let mut src = b"GET / HTTP/1.1\r\nX: ".to_vec();
    src.resize(crate::http::MAX_HEAD_BYTES + 1, b'a');
    let (asked, result) = trickle(&src);
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_eq!(result, Some(Err(HeadError::HeadTooLarge)));
}

#[test]
fn scan_reset_starts_over() {
    let mut scan = HeadScan::new();
    assert!(scan.should_parse(b"GET", &HeadLimits::DEFAULT));
    assert!(!scan.should_parse(b"GET /", &HeadLimits::DEFAULT));
    scan.reset();
    assert!(scan.should_parse(b"GET /", &HeadLimits::DEFAULT));
}
