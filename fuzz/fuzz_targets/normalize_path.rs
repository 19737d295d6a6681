//! The path normaliser, [`normalize_path`], on arbitrary request targets.
//!
//! Besides never panicking: a normalised path starts with `/`, holds no `.`
//! or `..` segment (encoded or not), no encoded unreserved character and no
//! lower-case escape, is never longer than the input, keeps the query as
//! received, and normalising it again changes nothing. The result (or the
//! error) is that of a plain reference reading of the rules: decode each
//! segment, then `remove_dot_segments` over a stack of segments, refusing a
//! climb above the root. Inside a parsed request head,
//! [`normalize_request_path`] rewrites the path in place to the same bytes
//! and the upstream head carries it.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use ringress::http::normalize::{normalize_path, normalize_request_path};
use ringress::http::{
    parse_request_head, write_upstream_request_head, ForwardContext, HeadError, HeadLimits,
};
use ringress_fuzz::lossy;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if data.first() != Some(&b'/') {
        assert_eq!(normalize_path(data, &mut out), Ok(false), "a target without / changed");
    }
    let mut path = Vec::with_capacity(data.len() + 1);
    if data.first() != Some(&b'/') {
        path.push(b'/');
    }
    path.extend_from_slice(data);
    let path = path.as_slice();

    let result = normalize_path(path, &mut out);
    let expected = reference(path);
    let normal: &[u8] = match (&result, &expected) {
        (Ok(true), Ok(r)) => {
            assert_eq!(out, *r, "normalised {}", lossy(path));
            assert_ne!(out, path, "reported a change that is none");
            &out
        }
        (Ok(false), Ok(r)) => {
            assert_eq!(path, r.as_slice(), "left {} as it was", lossy(path));
            path
        }
        (Err(e), Err(r)) => {
            assert_eq!(e, r, "refused {}", lossy(path));
            return;
        }
        _ => panic!("{}: {result:?}, the reference says {expected:?}", lossy(path)),
    };
    check_normal(path, normal);
    let mut again = Vec::new();
    assert_eq!(normalize_path(normal, &mut again), Ok(false), "not stable: {}", lossy(normal));
    check_in_head(path, normal);
});

/// The structural properties of a normal path.
fn check_normal(input: &[u8], normal: &[u8]) {
    assert!(normal.starts_with(b"/"));
    assert!(normal.len() <= input.len(), "longer than the input");
    let q = |p: &[u8]| p.iter().position(|&b| b == b'?').unwrap_or(p.len());
    let (p, query) = normal.split_at(q(normal));
    assert_eq!(query, &input[q(input)..], "query changed");
    for seg in p[1..].split(|&b| b == b'/') {
        assert!(seg != b"." && seg != b"..", "dot segment left in {}", lossy(normal));
    }
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'%' {
            let (hi, lo) = (p[i + 1], p[i + 2]);
            assert!(
                is_upper_hex(hi) && is_upper_hex(lo),
                "escape not upper-case in {}",
                lossy(normal)
            );
            let c = (hex(hi).unwrap_or(0) << 4) | hex(lo).unwrap_or(0);
            assert!(!is_unreserved(c), "unreserved byte left encoded in {}", lossy(normal));
            i += 3;
        } else {
            i += 1;
        }
    }
}

/// In a request head: the path is rewritten in place to the same bytes,
/// and the upstream head carries it.
fn check_in_head(path: &[u8], normal: &[u8]) {
    let mut buf = b"GET ".to_vec();
    buf.extend_from_slice(path);
    buf.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    let Ok(Some(mut head)) = parse_request_head(&buf, &HeadLimits::DEFAULT) else { return };
    if head.target(&buf) != path {
        return; // the path held a request line of its own
    }
    let mut scratch = Vec::new();
    let changed = normalize_request_path(&mut buf, &mut head, &mut scratch);
    assert_eq!(changed, Ok(normal != path));
    assert_eq!(head.path(&buf).as_bytes(), normal, "in-place rewrite of {}", lossy(path));
    assert_eq!(head.target(&buf), normal);
    let ctx = ForwardContext::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 80, false);
    let mut out = Vec::new();
    write_upstream_request_head(&buf, &head, &ctx, &mut out);
    let again = parse_request_head(&out, &HeadLimits::DEFAULT);
    let Ok(Some(again)) = again else { panic!("upstream head does not parse: {again:?}") };
    assert_eq!(again.path(&out).as_bytes(), normal);
}

/// The rules read plainly: split at `/` before the query, decode each
/// segment (unreserved escapes decoded, other escapes upper-cased, a
/// malformed one refused), keep a stack of segments (`.` skipped, `..`
/// pops, or is refused when nothing is left), join; a dot segment last
/// leaves a trailing `/`.
fn reference(path: &[u8]) -> Result<Vec<u8>, HeadError> {
    let q = path.iter().position(|&b| b == b'?').unwrap_or(path.len());
    let (p, query) = path.split_at(q);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut trailing = false;
    for raw in p[1..].split(|&b| b == b'/') {
        let seg = decode(raw)?;
        trailing = false;
        match seg.as_slice() {
            b"." => trailing = true,
            b".." => {
                stack.pop().ok_or(HeadError::PathAboveRoot)?;
                trailing = true;
            }
            _ => stack.push(seg),
        }
    }
    let mut out = b"/".to_vec();
    out.extend_from_slice(&stack.join(&b'/'));
    if trailing && !stack.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(query);
    Ok(out)
}

fn decode(raw: &[u8]) -> Result<Vec<u8>, HeadError> {
    let mut seg = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'%' {
            seg.push(raw[i]);
            i += 1;
            continue;
        }
        let hi = raw.get(i + 1).copied().and_then(hex);
        let lo = raw.get(i + 2).copied().and_then(hex);
        let (Some(hi), Some(lo)) = (hi, lo) else { return Err(HeadError::BadPercentEncoding) };
        let c = (hi << 4) | lo;
        if is_unreserved(c) {
            seg.push(c);
        } else {
            seg.extend_from_slice(format!("%{c:02X}").as_bytes());
        }
        i += 3;
    }
    Ok(seg)
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn is_upper_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'A'..=b'F').contains(&b)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}
