//! When the parser runs on a head arriving in pieces.

use crate::http::{parse_request_head, HeadError, HeadLimits, HeadScan, MAX_REQUEST_LINE_BYTES};

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

#[test]
fn scan_parses_a_trickling_head_only_at_blank_lines() {
    let src = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let (asked, result) = trickle(src);
    assert_eq!(asked, vec![1, src.len()]);
    assert_eq!(result, Some(Ok(src.len())));
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
