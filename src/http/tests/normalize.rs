//! Path normalisation: percent-decoding of unreserved bytes, dot segments,
//! what stays as it is.

use crate::http::normalize::{normalize_path, normalize_request_path};
use crate::http::{parse_request_head, HeadError, HeadLimits};

/// The normalised form of `path` (the input itself when already normal).
fn norm(path: &str) -> Result<String, HeadError> {
    let mut out = Vec::new();
    let changed = normalize_path(path.as_bytes(), &mut out)?;
    let result = if changed { String::from_utf8(out).unwrap() } else { path.to_string() };
    // Stable: a normalised path is normal.
    let mut again = Vec::new();
    assert_eq!(normalize_path(result.as_bytes(), &mut again), Ok(false), "{path} -> {result}");
    Ok(result)
}

/// The remove_dot_segments examples of RFC 3986 §5.2.4 and the rooted
/// reference resolutions of §5.4 (an abnormal `..` above the root is
/// refused instead of dropped).
#[test]
fn normalize_removes_dot_segments_as_rfc3986() {
    assert_eq!(norm("/a/b/c/./../../g").unwrap(), "/a/g");
    for (path, want) in [
        ("/b/c/g", "/b/c/g"),
        ("/b/c/./g", "/b/c/g"),
        ("/b/c/g/", "/b/c/g/"),
        ("/b/c/.", "/b/c/"),
        ("/b/c/./", "/b/c/"),
        ("/b/c/..", "/b/"),
        ("/b/c/../", "/b/"),
        ("/b/c/../g", "/b/g"),
        ("/b/c/../..", "/"),
        ("/b/c/../../", "/"),
        ("/b/c/../../g", "/g"),
        ("/./g", "/g"),
        ("/b/c/g.", "/b/c/g."),
        ("/b/c/.g", "/b/c/.g"),
        ("/b/c/g..", "/b/c/g.."),
        ("/b/c/..g", "/b/c/..g"),
        ("/b/c/./../g", "/b/g"),
        ("/b/c/g/./h", "/b/c/g/h"),
        ("/b/c/g/../h", "/b/c/h"),
        ("/.", "/"),
        ("/a//../b", "/a/b"),
    ] {
        assert_eq!(norm(path).unwrap(), want, "{path}");
    }
}

/// A `..` with nothing left to remove climbs above the root: refused.
#[test]
fn normalize_refuses_a_climb_above_the_root() {
    for path in ["/..", "/../g", "/b/../../g", "/%2e%2e/g", "/a/.%2E/..", "/../?q"] {
        assert_eq!(norm(path), Err(HeadError::PathAboveRoot), "{path}");
    }
    assert_eq!(HeadError::PathAboveRoot.status(), 400);
}

/// Escapes of unreserved bytes are decoded, `%2e` and `%2E` included, so
/// encoded dot segments are dot segments.
#[test]
fn normalize_decodes_unreserved_escapes_and_encoded_dots() {
    assert_eq!(norm("/%41%62%30-%2D%2e%5F%7e").unwrap(), "/Ab0--._~");
    assert_eq!(norm("/public/%2e%2e/admin").unwrap(), "/admin");
    assert_eq!(norm("/public/%2E%2E/admin").unwrap(), "/admin");
    assert_eq!(norm("/public/.%2e/admin").unwrap(), "/admin");
    assert_eq!(norm("/public/%2e/x").unwrap(), "/public/x");
    assert_eq!(norm("/public/../admin").unwrap(), "/admin");
}

/// `%2F` and `%5C` stay encoded and never separate segments; other
/// reserved or unsafe escapes stay too. Lower-case hex digits of a kept
/// escape become upper case (RFC 3986 §6.2.2.1).
#[test]
fn normalize_keeps_encoded_slashes_and_upper_cases_kept_escapes() {
    assert_eq!(norm("/public%2F..%2Fadmin").unwrap(), "/public%2F..%2Fadmin");
    assert_eq!(norm("/public/..%2Fadmin").unwrap(), "/public/..%2Fadmin");
    assert_eq!(norm("/public/..%5Cadmin").unwrap(), "/public/..%5Cadmin");
    assert_eq!(norm("/a%2fb%5cc").unwrap(), "/a%2Fb%5Cc");
    assert_eq!(norm("/a%20b%00%25%3F").unwrap(), "/a%20b%00%25%3F");
    assert_eq!(norm("/a\\..\\b").unwrap(), "/a\\..\\b");
}

/// The query is copied as it is, dots and escapes included.
#[test]
fn normalize_leaves_the_query_alone() {
    assert_eq!(norm("/a/../b?x=/../%2e&y=%zz").unwrap(), "/b?x=/../%2e&y=%zz");
    assert_eq!(norm("/a?../..").unwrap(), "/a?../..");
    assert_eq!(norm("/a/..?").unwrap(), "/?");
}

/// A `%` without two hex digits after it is refused.
#[test]
fn normalize_refuses_malformed_escapes() {
    for path in ["/%", "/a%2", "/a%zz", "/a%2g/b", "/%%41"] {
        assert_eq!(norm(path), Err(HeadError::BadPercentEncoding), "{path}");
    }
}

/// A normal path costs one scan and leaves `out` alone: no copy, no
/// allocation.
#[test]
fn normalize_fast_path_leaves_normal_paths_untouched() {
    let mut out = Vec::new();
    for path in ["/", "/a/b.c/d", "/a//b/", "/..a/b../.c", "/a?q=/../%2e", "*", ""] {
        assert_eq!(normalize_path(path.as_bytes(), &mut out), Ok(false), "{path}");
        assert_eq!(out.capacity(), 0, "{path}");
    }
}

/// In a parsed head the normalised path replaces the old one in the same
/// buffer: path and target spans shrink to it, the header lines stay.
#[test]
fn normalize_request_path_rewrites_the_head_in_place() {
    let mut buf = b"GET /public/%2e%2e/admin/./x?q=.. HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
    let mut head = parse_request_head(&buf, &HeadLimits::DEFAULT).unwrap().unwrap();
    let mut scratch = Vec::new();
    assert_eq!(normalize_request_path(&mut buf, &mut head, &mut scratch), Ok(true));
    assert_eq!(head.path(&buf), "/admin/x?q=..");
    assert_eq!(head.target(&buf), b"/admin/x?q=..");
    assert_eq!(head.header(&buf, "host"), Some(&b"a"[..]));

    let mut buf = b"GET http://h/a/../b HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
    let mut head = parse_request_head(&buf, &HeadLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(normalize_request_path(&mut buf, &mut head, &mut scratch), Ok(true));
    assert_eq!(head.path(&buf), "/b");

    let mut buf = b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
    let mut head = parse_request_head(&buf, &HeadLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(normalize_request_path(&mut buf, &mut head, &mut scratch), Ok(false));
}
