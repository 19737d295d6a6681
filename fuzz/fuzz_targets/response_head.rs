//! The response head parser, [`parse_response_head`], on arbitrary bytes
//! from an upstream.
//!
//! Besides never panicking: an accepted head has strict CRLF lines, spans
//! inside the head, a status in 100..=599 and the framing RFC 9112 §6.3
//! gives it; answering a HEAD request changes only the framing (and with it
//! keep-alive); parsing is deterministic, independent of the bytes after
//! the head, and every shorter prefix is incomplete; the limits hold at
//! their exact boundary; the downstream rewrite parses back to the same
//! status and framing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringress::http::{
    parse_request_head, parse_response_head, write_downstream_response_head, HeadError, HeadLimits,
    ResponseContext, ResponseFraming, ResponseHead, MAX_HEADERS,
};
use ringress_fuzz::*;

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits::DEFAULT;
    let get = parse_response_head(data, false, &limits);
    let copy = data.to_vec();
    assert_eq!(parse_response_head(&copy, false, &limits), get, "parsing is not deterministic");
    let head = parse_response_head(data, true, &limits);
    if let Err(e) = &get {
        let _ = (e.status(), e.label());
    }
    match (&get, &head) {
        (Ok(Some(g)), Ok(Some(h))) => {
            check_accepted(data, g, false);
            check_accepted(data, h, true);
            // Answering HEAD changes the framing and keep-alive only.
            let facts = |r: &ResponseHead| {
                let flags = (r.chunked, r.upgrade, r.has_date, r.has_server);
                (r.head_len, r.status, r.reason, r.minor_version, r.content_length, flags, r.drop)
            };
            assert_eq!(facts(g), facts(h), "HEAD changed more than the framing");
            assert_eq!(g.headers(), h.headers());
            check_prefixes(data, g);
            check_limits(data, g);
            check_rewrite(data, g);
        }
        (Ok(None), Ok(None)) => {}
        (Err(a), Err(b)) => assert_eq!(a, b, "HEAD changed the error"),
        _ => panic!("HEAD changed the outcome: {get:?} / {head:?}"),
    }
});

fn check_accepted(data: &[u8], head: &ResponseHead, head_request: bool) {
    let len = head.head_len;
    assert!(len <= data.len() && len <= HeadLimits::DEFAULT.max_head_bytes);
    let raw = &data[..len];
    assert_strict_lines(raw);
    let (line_start, line_end) = start_line(raw).expect("an accepted head has a status line");
    // HTTP/1.x SP 3DIGIT SP reason
    let line = &raw[line_start..line_end];
    let expected: &[u8] = if head.minor_version == 1 { b"HTTP/1.1 " } else { b"HTTP/1.0 " };
    assert!(head.minor_version <= 1);
    assert!(line.starts_with(expected), "status line {}", lossy(line));
    assert!((100..=599).contains(&head.status));
    assert_eq!(&line[9..12], head.status.to_string().as_bytes(), "status of {}", lossy(line));
    assert_within(head.reason, len, "reason");
    if !head.reason.is_empty() {
        assert!(
            head.reason.start as usize > line_start + 12 && head.reason.end as usize <= line_end
        );
    }
    let headers = head.headers();
    assert!(headers.len() <= MAX_HEADERS);
    for (i, h) in headers.iter().enumerate() {
        assert_within(h.name, len, "header name");
        assert_within(h.value, len, "header value");
        assert!(h.name.start as usize > line_end, "header {i} inside the status line");
        let name = h.name.get(data);
        assert!(!name.is_empty() && name.iter().all(|b| is_tchar(*b)), "name {}", lossy(name));
        let value = h.value.get(data);
        assert!(value.iter().all(|b| is_field_value_byte(*b)), "value {}", lossy(value));
    }
    for i in headers.len()..128 {
        assert!(!head.drop.contains(i), "index {i} past the headers");
    }

    // RFC 9112 §6.3, from the header lines.
    let cl: Vec<&[u8]> = values(data, headers, "content-length").collect();
    let te: Vec<&[u8]> = values(data, headers, "transfer-encoding").collect();
    assert!(cl.is_empty() || te.is_empty(), "Content-Length and Transfer-Encoding accepted");
    assert_eq!(head.chunked, !te.is_empty());
    if head.chunked {
        assert_eq!(head.minor_version, 1, "Transfer-Encoding in HTTP/1.0 accepted");
    }
    assert_eq!(head.content_length.is_some(), !cl.is_empty());
    if let Some(n) = head.content_length {
        for element in cl.iter().flat_map(|v| v.split(|b| *b == b',')) {
            let text = std::str::from_utf8(element.trim_ascii()).ok();
            assert_eq!(
                text.and_then(|t| t.parse::<u64>().ok()),
                Some(n),
                "Content-Length values differ"
            );
        }
    }
    let no_body = head_request || head.status < 200 || head.status == 204 || head.status == 304;
    let framing = match (no_body, head.chunked, head.content_length) {
        (true, _, _) => ResponseFraming::Empty,
        (false, true, _) => ResponseFraming::Chunked,
        (false, false, Some(n)) => ResponseFraming::Length(n),
        (false, false, None) => ResponseFraming::CloseDelimited,
    };
    assert_eq!(head.framing, framing);
    if head.keep_alive {
        assert!(head.framing != ResponseFraming::CloseDelimited && head.status != 101);
    }
    if head.upgrade {
        assert_eq!(head.status, 101);
        assert!(values(data, headers, "upgrade").next().is_some());
    }
    assert_eq!(head.is_interim(), (100..200).contains(&head.status) && head.status != 101);
}

fn check_prefixes(data: &[u8], head: &ResponseHead) {
    let limits = HeadLimits::DEFAULT;
    let len = head.head_len;
    let alone = parse_response_head(&data[..len], false, &limits);
    assert_eq!(alone, Ok(Some(head.clone())), "suffix changed the head");
    let line_end = start_line(&data[..len]).map_or(0, |(_, e)| e + 2);
    for cut in [len - 1, len - 2, len / 2, line_end, line_end.saturating_sub(1)] {
        if cut < len {
            assert_eq!(
                parse_response_head(&data[..cut], false, &limits),
                Ok(None),
                "prefix of {cut} bytes of an accepted {len}-byte head is not incomplete: {}",
                lossy(&data[..len])
            );
        }
    }
}

fn check_limits(data: &[u8], head: &ResponseHead) {
    let d = HeadLimits::DEFAULT;
    let n = head.headers().len();
    for limits in
        [HeadLimits { max_head_bytes: head.head_len, ..d }, HeadLimits { max_headers: n, ..d }]
    {
        assert_eq!(parse_response_head(data, false, &limits), Ok(Some(head.clone())), "{limits:?}");
    }
    let limits = HeadLimits { max_head_bytes: head.head_len - 1, ..d };
    assert_eq!(parse_response_head(data, false, &limits), Err(HeadError::HeadTooLarge));
    if n > 0 {
        let limits = HeadLimits { max_headers: n - 1, ..d };
        assert_eq!(parse_response_head(data, false, &limits), Err(HeadError::TooManyHeaders));
    }
}

/// The downstream head written for an HTTP/1.1 and an HTTP/1.0 client
/// parses back to the same status; the framing is the same for HTTP/1.1,
/// and a chunked body is de-chunked (close-delimited) for HTTP/1.0.
fn check_rewrite(data: &[u8], resp: &ResponseHead) {
    let date = b"Sun, 22 Nov 2026 04:00:00 GMT";
    let unbounded = HeadLimits { max_head_bytes: usize::MAX, ..HeadLimits::DEFAULT };
    let kept = (0..resp.headers().len()).filter(|i| !resp.drop.contains(*i)).count();
    let requests: [&[u8]; 2] = [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n"];
    for req_src in requests {
        let Ok(Some(req)) = parse_request_head(req_src, &HeadLimits::DEFAULT) else {
            panic!("the fixed request does not parse")
        };
        let ctx = ResponseContext::new(&req, resp, date, false);
        let mut out = Vec::new();
        write_downstream_response_head(data, resp, &ctx, &mut out);
        let again = match parse_response_head(&out, false, &unbounded) {
            Ok(Some(h)) => h,
            // Framing, Date, Server and Connection lines may be added.
            Err(HeadError::TooManyHeaders) if kept + 4 > MAX_HEADERS => continue,
            other => panic!(
                "the rewrite of {} does not parse: {other:?}\n{}",
                lossy(&data[..resp.head_len]),
                lossy(&out)
            ),
        };
        assert_strict_lines(&out);
        assert_eq!(again.head_len, out.len());
        assert_eq!(again.status, resp.status);
        if req.minor_version == 1 || resp.framing != ResponseFraming::Chunked {
            assert_eq!(again.framing, resp.framing, "{}", lossy(&out));
        } else {
            assert!(ctx.dechunk && ctx.close);
            assert_eq!(again.framing, ResponseFraming::CloseDelimited, "{}", lossy(&out));
        }
    }
}
