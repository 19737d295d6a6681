//! The request head parser, [`parse_request_head`], on arbitrary bytes.
//!
//! Besides never panicking, an accepted head must hold what the smuggling
//! defences promise (checked here from the rules, not from the parser):
//! strict CRLF lines, spans inside the head, one Host, framing that agrees
//! with the Content-Length and Transfer-Encoding lines. Parsing is
//! deterministic and independent of the buffer's address and of the bytes
//! after the head; every shorter prefix is "incomplete"; the limits hold at
//! their exact boundary; a head fed in pieces through [`HeadScan`] is found
//! the same; the upstream rewrite parses back to the same request.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use ringress::http::{
    parse_request_head, write_upstream_request_head, BodyFraming, ForwardContext, HeadError,
    HeadLimits, HeadScan, RequestHead, TargetForm, MAX_HEADERS,
};
use ringress_fuzz::*;

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits::DEFAULT;
    let first = parse_request_head(data, &limits);
    // Deterministic, and independent of where the buffer lives.
    let copy = data.to_vec();
    assert_eq!(parse_request_head(&copy, &limits), first, "parsing is not deterministic");
    if let Err(e) = &first {
        let _ = (e.status(), e.label());
    }
    check_incremental(data, &first);
    let Ok(Some(head)) = first else { return };
    check_accepted(data, &head);
    check_prefixes(data, &head);
    check_limits(data, &head);
    check_rewrite(data, &head);
});

/// The invariants of an accepted head.
fn check_accepted(data: &[u8], head: &RequestHead) {
    let len = head.head_len;
    assert!(len <= data.len(), "head_len {len} past the input ({})", data.len());
    assert!(len <= HeadLimits::DEFAULT.max_head_bytes);
    let raw = &data[..len];
    assert_strict_lines(raw);

    // Start line: method SP target SP HTTP/1.x, after any empty lines.
    let (line_start, line_end) = start_line(raw).expect("an accepted head has a start line");
    for (span, what) in [(head.method, "method"), (head.target, "target"), (head.path, "path")] {
        assert_within(span, len, what);
    }
    assert_eq!(head.method.start as usize, line_start, "method not at the start of the line");
    let method = head.method(data);
    assert!(!method.is_empty() && method.iter().all(|b| is_tchar(*b)), "method {method:?}");
    assert_eq!(data[head.method.end as usize], b' ');
    assert_eq!(head.target.start, head.method.end + 1);
    let target = head.target(data);
    assert!(!target.is_empty());
    assert!(target.iter().all(|b| b.is_ascii_graphic() && *b != b'#'), "target {}", lossy(target));
    let version = &data[head.target.end as usize..line_end];
    let expected: &[u8] = if head.minor_version == 1 { b" HTTP/1.1" } else { b" HTTP/1.0" };
    assert!(head.minor_version <= 1);
    assert_eq!(version, expected, "version of {}", lossy(raw));
    assert_inside(head.path, head.target, "path");
    match head.target_form {
        TargetForm::Origin => assert!(target.starts_with(b"/") && head.path == head.target),
        TargetForm::Absolute => {
            let lower = target.to_ascii_lowercase();
            assert!(lower.starts_with(b"http://") || lower.starts_with(b"https://"));
            let host = head.host.expect("an absolute-form target names a host");
            assert_inside(host, head.target, "authority");
            assert!(!host.is_empty());
        }
        TargetForm::Asterisk => assert!(target == b"*" && method == b"OPTIONS"),
    }
    let path = head.path(data);
    assert!(path.starts_with('/') || path == "*", "path {path:?}");

    // Header lines.
    let headers = head.headers();
    assert!(headers.len() <= MAX_HEADERS);
    for (i, h) in headers.iter().enumerate() {
        assert_within(h.name, len, "header name");
        assert_within(h.value, len, "header value");
        assert!(h.name.start > head.target.end, "header {i} inside the start line");
        let name = h.name.get(data);
        assert!(!name.is_empty() && name.iter().all(|b| is_tchar(*b)), "name {}", lossy(name));
        let value = h.value.get(data);
        assert!(value.iter().all(|b| is_field_value_byte(*b)), "value {}", lossy(value));
        assert!(
            !value.starts_with(b" ")
                && !value.starts_with(b"\t")
                && !value.ends_with(b" ")
                && !value.ends_with(b"\t"),
            "value not trimmed: {}",
            lossy(value)
        );
        if i > 0 {
            assert!(h.name.start > headers[i - 1].value.end, "header lines out of order");
        }
    }
    for i in headers.len()..128 {
        assert!(
            !head.drop.contains(i) && !head.forwarded_for.contains(i),
            "index {i} past the headers"
        );
    }
    for (i, h) in headers.iter().enumerate() {
        let name = h.name.get(data).to_ascii_lowercase();
        if head.forwarded_for.contains(i) {
            assert!(head.drop.contains(i), "X-Forwarded-For {i} kept and appended");
        }
        let hop =
            [&b"content-length"[..], b"transfer-encoding", b"connection", b"keep-alive", b"te"];
        if hop.contains(&name.as_slice()) {
            assert!(head.drop.contains(i), "{} forwarded as received", lossy(&name));
        }
    }

    // Host: at most one line; required for HTTP/1.1.
    let hosts: Vec<&[u8]> = values(data, headers, "host").collect();
    assert!(hosts.len() <= 1, "several Host lines accepted");
    if head.minor_version == 1 {
        assert!(head.host.is_some(), "HTTP/1.1 without a host");
    }
    if let Some(host) = head.host {
        assert_within(host, len, "host");
    }
    if head.target_form != TargetForm::Absolute {
        assert_eq!(head.host.map(|h| h.get(data)), hosts.first().copied());
    }

    // Framing, from the Content-Length and Transfer-Encoding lines.
    let cl: Vec<&[u8]> = values(data, headers, "content-length").collect();
    let te: Vec<&[u8]> = values(data, headers, "transfer-encoding").collect();
    if !te.is_empty() {
        assert!(cl.is_empty(), "Content-Length and Transfer-Encoding accepted together");
        assert_eq!(head.framing, BodyFraming::Chunked);
        assert_eq!(head.minor_version, 1, "Transfer-Encoding in HTTP/1.0 accepted");
        let codings: Vec<Vec<u8>> = te
            .iter()
            .flat_map(|v| v.split(|b| *b == b','))
            .map(|c| c.trim_ascii().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(codings, vec![b"chunked".to_vec()], "Transfer-Encoding other than one chunked");
    } else if !cl.is_empty() {
        let BodyFraming::Length(n) = head.framing else {
            panic!("Content-Length without a length framing: {:?}", head.framing)
        };
        for element in cl.iter().flat_map(|v| v.split(|b| *b == b',')) {
            let element = element.trim_ascii();
            assert!(
                !element.is_empty() && element.iter().all(u8::is_ascii_digit),
                "CL {element:?}"
            );
            let text = std::str::from_utf8(element).expect("digits");
            assert_eq!(text.parse::<u64>().ok(), Some(n), "Content-Length values differ");
        }
    } else {
        assert_eq!(head.framing, BodyFraming::Empty);
    }
    assert_eq!(
        head.has_body(),
        !matches!(head.framing, BodyFraming::Empty | BodyFraming::Length(0))
    );
    if head.expect_continue || head.upgrade {
        assert_eq!(head.minor_version, 1);
    }
    if head.upgrade {
        assert!(values(data, headers, "upgrade").next().is_some(), "upgrade without Upgrade");
    }
}

/// The bytes after the head do not change it, and every shorter prefix of
/// the head is incomplete (the proxy parses whatever arrived so far).
fn check_prefixes(data: &[u8], head: &RequestHead) {
    let limits = HeadLimits::DEFAULT;
    let len = head.head_len;
    assert_eq!(
        parse_request_head(&data[..len], &limits),
        Ok(Some(head.clone())),
        "suffix changed the head"
    );
    let line_end = start_line(&data[..len]).map_or(0, |(_, e)| e + 2);
    for cut in [len - 1, len - 2, len / 2, line_end, line_end.saturating_sub(1)] {
        if cut < len {
            assert_eq!(
                parse_request_head(&data[..cut], &limits),
                Ok(None),
                "prefix of {cut} bytes of an accepted {len}-byte head is not incomplete: {}",
                lossy(&data[..len])
            );
        }
    }
}

/// Each limit set to the head's own size accepts it unchanged; one less
/// refuses it with that limit's error.
fn check_limits(data: &[u8], head: &RequestHead) {
    let d = HeadLimits::DEFAULT;
    let (line_start, line_end) = start_line(&data[..head.head_len]).expect("start line");
    let line = line_end - line_start;
    let n = head.headers().len();
    let exact = [
        HeadLimits { max_head_bytes: head.head_len, ..d },
        HeadLimits { max_request_line_bytes: line, ..d },
        HeadLimits { max_headers: n, ..d },
    ];
    for limits in exact {
        assert_eq!(parse_request_head(data, &limits), Ok(Some(head.clone())), "{limits:?}");
    }
    let over = [
        (HeadLimits { max_head_bytes: head.head_len - 1, ..d }, HeadError::HeadTooLarge),
        (HeadLimits { max_request_line_bytes: line - 1, ..d }, HeadError::RequestLineTooLong),
    ];
    for (limits, error) in over {
        assert_eq!(parse_request_head(data, &limits), Err(error), "{limits:?}");
    }
    if n > 0 {
        let limits = HeadLimits { max_headers: n - 1, ..d };
        assert_eq!(parse_request_head(data, &limits), Err(HeadError::TooManyHeaders), "{limits:?}");
    }
}

/// Fed in pieces (sizes taken from the input's own bytes) and parsed only
/// when [`HeadScan`] says so, the head is found exactly as in one go.
fn check_incremental(data: &[u8], whole: &Result<Option<RequestHead>, HeadError>) {
    let limits = HeadLimits::DEFAULT;
    let mut scan = HeadScan::new();
    let mut end = 0;
    let mut found = Ok(None);
    while end < data.len() {
        end = (end + 1 + usize::from(data[end] & 7)).min(data.len());
        if scan.should_parse(&data[..end], &limits) {
            found = parse_request_head(&data[..end], &limits);
            if !matches!(found, Ok(None)) {
                break;
            }
        }
    }
    match (whole, &found) {
        (Ok(Some(w)), Ok(Some(f))) => assert_eq!(w, f, "a head in pieces differs"),
        (Ok(Some(w)), other) => panic!(
            "a complete {}-byte head fed in pieces gave {other:?}: {}",
            w.head_len,
            lossy(&data[..w.head_len])
        ),
        (Ok(None), Ok(Some(_))) => panic!("a head found in pieces, not whole"),
        (_, Err(_)) => assert!(whole.is_err(), "a prefix is refused, the whole input is {whole:?}"),
        _ => {}
    }
}

/// The upstream head written from an accepted one parses back to the same
/// method, path, host, framing and upgrade.
fn check_rewrite(data: &[u8], head: &RequestHead) {
    let ctx = ForwardContext::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 443, true);
    let mut out = Vec::new();
    write_upstream_request_head(data, head, &ctx, &mut out);
    // The rewrite may be longer than the received head: only the header
    // count stays bounded when parsing it back.
    let unbounded = HeadLimits {
        max_head_bytes: usize::MAX,
        max_request_line_bytes: usize::MAX,
        ..HeadLimits::DEFAULT
    };
    let kept = (0..head.headers().len()).filter(|i| !head.drop.contains(*i)).count();
    let again = match parse_request_head(&out, &unbounded) {
        Ok(Some(h)) => h,
        // At most Host and five X-Forwarded/X-Real-IP lines, Connection
        // and the framing line are added.
        Err(HeadError::TooManyHeaders) if kept + 8 > MAX_HEADERS => return,
        other => panic!(
            "the rewrite of {} does not parse: {other:?}\n{}",
            lossy(&data[..head.head_len]),
            lossy(&out)
        ),
    };
    assert_eq!(again.head_len, out.len());
    assert_strict_lines(&out);
    assert_eq!(again.method(&out), head.method(data));
    assert_eq!(again.path(&out), head.path(data));
    assert_eq!(again.framing, head.framing);
    assert_eq!(again.upgrade, head.upgrade);
    assert_eq!(again.minor_version, 1);
    assert_eq!(
        again.host(&out).filter(|h| !h.is_empty()),
        head.host(data).filter(|h| !h.is_empty())
    );
}
