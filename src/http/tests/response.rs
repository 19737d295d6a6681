//! Response head parsing: the framing table of RFC 9112 §6.3 and the
//! rules an upstream head must follow.

use crate::http::{parse_response_head, HeadError, HeadLimits, ResponseFraming, ResponseHead};

fn parse(src: &[u8], head_request: bool) -> ResponseHead {
    match parse_response_head(src, head_request, &HeadLimits::DEFAULT) {
        Ok(Some(h)) => h,
        other => panic!("expected a head, got {other:?} for {:?}", String::from_utf8_lossy(src)),
    }
}

fn refuse(src: &[u8]) -> HeadError {
    match parse_response_head(src, false, &HeadLimits::DEFAULT) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?} for {:?}", String::from_utf8_lossy(src)),
    }
}

#[test]
fn response_framing_table() {
    use ResponseFraming::*;
    let cases: [(&str, &str, bool, ResponseFraming); 14] = [
        ("200 OK", "Content-Length: 5\r\n", false, Length(5)),
        ("200 OK", "Content-Length: 0\r\n", false, Length(0)),
        ("200 OK", "Transfer-Encoding: chunked\r\n", false, Chunked),
        ("200 OK", "", false, CloseDelimited),
        ("200 OK", "Content-Length: 5\r\n", true, Empty),
        ("200 OK", "Transfer-Encoding: chunked\r\n", true, Empty),
        ("200 OK", "", true, Empty),
        ("100 Continue", "", false, Empty),
        ("103 Early Hints", "Link: <a>\r\n", false, Empty),
        ("101 Switching Protocols", "Upgrade: websocket\r\nConnection: upgrade\r\n", false, Empty),
        ("204 No Content", "", false, Empty),
        ("204 No Content", "Content-Length: 10\r\n", false, Empty),
        ("304 Not Modified", "Content-Length: 10\r\n", false, Empty),
        ("404 Not Found", "Content-Length: 9\r\n", false, Length(9)),
    ];
    for (status, headers, head_request, framing) in cases {
        let src = format!("HTTP/1.1 {status}\r\n{headers}\r\n");
        let head = parse(src.as_bytes(), head_request);
        assert_eq!(head.framing, framing, "{src:?} head_request={head_request}");
    }
}

#[test]
fn response_status_reason_and_version_are_read() {
    let src = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    let head = parse(src, false);
    assert_eq!(head.status, 503);
    assert_eq!(head.reason.get(src), b"Service Unavailable");
    assert_eq!(head.minor_version, 0);
    assert_eq!(head.head_len, src.len());
}

/// Found by the `response_head` fuzz target: a status line without a
/// reason phrase gave a reason span outside the buffer (its offset was the
/// distance to a static string), so two parses of the same bytes in two
/// buffers differed.
#[test]
fn response_without_reason_phrase_has_an_empty_reason_inside_the_buffer() {
    for src in [&b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"[..], b"HTTP/1.1 204 \r\n\r\n"] {
        let head = parse(src, false);
        assert!(head.reason.is_empty());
        assert!(head.reason.end as usize <= head.head_len, "{:?}", head.reason);
        let copy = src.to_vec();
        assert_eq!(parse(&copy, false), head, "the head depends on the buffer's address");
    }
}

#[test]
fn response_keep_alive_decides_upstream_reuse() {
    let cases: [(&[u8], bool); 6] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", true),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", false),
        (b"HTTP/1.1 200 OK\r\n\r\n", false),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", true),
        (b"HTTP/1.1 204 No Content\r\n\r\n", true),
    ];
    for (src, ka) in cases {
        assert_eq!(parse(src, false).keep_alive, ka, "{:?}", String::from_utf8_lossy(src));
    }
}

#[test]
fn response_hop_by_hop_headers_are_dropped() {
    let src = b"HTTP/1.1 200 OK\r\nConnection: x-a\r\nX-A: 1\r\nKeep-Alive: t=1\r\nTrailer: x\r\n\
        Upgrade: h2c\r\nProxy-Connection: x\r\nContent-Length: 0\r\nX-B: 2\r\n\r\n";
    let head = parse(src, false);
    let kept: Vec<&[u8]> = head
        .headers()
        .iter()
        .enumerate()
        .filter(|(i, _)| !head.drop.contains(*i))
        .map(|(_, h)| h.name.get(src))
        .collect();
    assert_eq!(kept, vec![&b"X-B"[..]], "Content-Length is re-emitted, not copied");
    assert_eq!(head.content_length, Some(0));
}

#[test]
fn response_date_and_server_presence_is_recorded() {
    let head = parse(b"HTTP/1.1 200 OK\r\ndate: x\r\nContent-Length: 0\r\n\r\n", false);
    assert!(head.has_date && !head.has_server);
    let named = parse(b"HTTP/1.1 200 OK\r\nConnection: server\r\nServer: x\r\n\r\n", false);
    assert!(!named.has_server, "a Server line named by Connection is dropped");
}

#[test]
fn response_smuggling_cases_are_refused() {
    let cases: [(&[u8], HeadError); 9] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            HeadError::ContentLengthAndTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            HeadError::ConflictingContentLength,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", HeadError::BadContentLength),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            HeadError::UnsupportedTransferEncoding,
        ),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            HeadError::TransferEncodingInHttp10,
        ),
        (b"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", HeadError::BareLf),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\n", HeadError::BareLf),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HeadError::ObsFold),
        (b"HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n", HeadError::BadHeaderValue),
    ];
    for (src, e) in cases {
        assert_eq!(refuse(src), e, "{:?}", String::from_utf8_lossy(src));
    }
}

#[test]
fn response_bad_status_line_is_refused() {
    for src in
        [&b"HTTP/1.1 20 OK\r\n\r\n"[..], b"HTTP/1.1 099 X\r\n\r\n", b"HTTP/1.1 600 X\r\n\r\n"]
    {
        assert_eq!(refuse(src), HeadError::BadStatusLine, "{:?}", String::from_utf8_lossy(src));
    }
    assert_eq!(refuse(b"HTTP/2 200 OK\r\n\r\n"), HeadError::BadVersion);
}

#[test]
fn response_head_over_limit_is_refused() {
    let mut src = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    src.resize(crate::http::MAX_HEAD_BYTES + 1, b'a');
    assert_eq!(refuse(&src), HeadError::HeadTooLarge);
}

#[test]
fn response_incomplete_head_needs_more_bytes() {
    let src = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n";
    for cut in 0..src.len() {
        let r = parse_response_head(&src[..cut], false, &HeadLimits::DEFAULT);
        assert_eq!(r, Ok(None), "cut {cut}");
    }
}
