//! Which upgrade offers are forwarded, and which 101 answers are accepted.

use std::net::{IpAddr, Ipv4Addr};

use crate::http::upgrade::{restrict_upgrade, switch_agreed};
use crate::http::{parse_request_head, write_upstream_request_head, ForwardContext, HeadLimits};

fn allowed(extra: &[&str]) -> Vec<String> {
    let mut all = vec!["websocket".to_string()];
    all.extend(extra.iter().map(|t| t.to_string()));
    all
}

/// The upstream head for `req` after restricting its offer to `allow`.
fn forwarded(req: &[u8], allow: &[String]) -> (String, u64) {
    let mut buf = req.to_vec();
    let mut head = parse_request_head(&buf, &HeadLimits::DEFAULT).unwrap().unwrap();
    restrict_upgrade(&mut buf, &mut head, allow);
    let ctx = ForwardContext::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 80, false);
    let mut out = Vec::new();
    write_upstream_request_head(&buf, &head, &ctx, &mut out);
    (String::from_utf8(out).unwrap(), head.upgrade_offered)
}

/// By default `Upgrade: h2c` is removed with `upgrade` in Connection and
/// with `HTTP2-Settings`: the upstream sees a plain HTTP/1.1 request.
#[test]
fn upgrade_h2c_is_removed_by_default() {
    let req = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n\
                Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    let (up, offered) = forwarded(req, &allowed(&[]));
    assert_eq!(offered, 0);
    assert!(!up.to_ascii_lowercase().contains("upgrade"), "{up}");
    assert!(!up.to_ascii_lowercase().contains("http2-settings"), "{up}");
    assert!(up.ends_with("Connection: keep-alive\r\n\r\n"), "{up}");
    // Not named in Connection: still removed.
    let req = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\
                HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    let (up, _) = forwarded(req, &allowed(&[]));
    assert!(!up.to_ascii_lowercase().contains("http2-settings"), "{up}");
    assert!(!up.to_ascii_lowercase().contains("upgrade"), "{up}");
}

/// Offered protocols that are not allowed are removed from the list; the
/// allowed ones are forwarded, compared case-insensitively.
#[test]
fn upgrade_keeps_only_allowed_protocols_of_the_offer() {
    let req = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\
                Upgrade: h2c ,  WebSocket,foo/2, TLS/1.0\r\n\r\n";
    let (up, offered) = forwarded(req, &allowed(&[]));
    assert!(up.contains("\r\nUpgrade: WebSocket\r\n"), "{up}");
    assert!(up.ends_with("Connection: upgrade\r\n\r\n"), "{up}");
    assert_eq!(offered, 1);
    let (up, offered) = forwarded(req, &allowed(&["foo", "h2c"]));
    assert!(up.contains("\r\nUpgrade: h2c,WebSocket,foo/2\r\n"), "{up}");
    assert_eq!(offered, 0b111);
}

/// With `h2c` allowed the h2c upgrade passes with its HTTP2-Settings line,
/// named in Connection as RFC 9113 §3.2 wants.
#[test]
fn upgrade_h2c_passes_when_allowed() {
    let req = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n\
                Upgrade: H2C\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    let (up, offered) = forwarded(req, &allowed(&["h2c"]));
    assert_eq!(offered, 0b10);
    assert!(up.contains("\r\nUpgrade: H2C\r\n"), "{up}");
    assert!(up.contains("\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"), "{up}");
    assert!(up.ends_with("Connection: upgrade, HTTP2-Settings\r\n\r\n"), "{up}");
}

/// A 101 must switch to a protocol the client offered and the proxy
/// forwarded, and only to such protocols.
#[test]
fn upgrade_switch_must_match_the_offer() {
    let allow = allowed(&["h2c", "foo"]);
    assert!(switch_agreed(b"websocket", 0b1, &allow));
    assert!(switch_agreed(b"WebSocket", 0b1, &allow));
    assert!(switch_agreed(b"foo/3", 0b100, &allow));
    assert!(!switch_agreed(b"h2c", 0b1, &allow), "not offered");
    assert!(!switch_agreed(b"websocket", 0, &allow), "nothing offered");
    assert!(!switch_agreed(b"websocket, h2c", 0b1, &allow), "one not offered");
    assert!(!switch_agreed(b"bar", 0b111, &allow), "not allowed");
    assert!(!switch_agreed(b"", 0b1, &allow), "names none");
}
