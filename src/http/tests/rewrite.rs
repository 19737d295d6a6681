//! Head rewriting: exact bytes sent upstream and downstream.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::http::{
    parse_request_head, parse_response_head, write_downstream_response_head,
    write_upstream_request_head, ForwardContext, HeadLimits, RequestHead, ResponseContext,
    ResponseHead,
};

const DATE: &[u8] = b"Sun, 22 Nov 2026 04:00:00 GMT";

fn req(src: &[u8]) -> RequestHead {
    parse_request_head(src, &HeadLimits::DEFAULT).unwrap().unwrap()
}

fn resp(src: &[u8], head_request: bool) -> ResponseHead {
    parse_response_head(src, head_request, &HeadLimits::DEFAULT).unwrap().unwrap()
}

fn upstream(src: &[u8], ctx: &ForwardContext) -> String {
    let mut out = Vec::new();
    write_upstream_request_head(src, &req(src), ctx, &mut out);
    String::from_utf8(out).unwrap()
}

fn v4() -> ForwardContext {
    ForwardContext::new(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), 8080, false)
}

#[test]
fn rewrite_request_sets_forwarding_headers_and_keep_alive() {
    let src =
        b"GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nConnection: close\r\n\r\n";
    assert_eq!(
        upstream(src, &v4()),
        "GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\
         X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\
         X-Forwarded-Port: 8080\r\nX-Real-IP: 10.1.2.3\r\nConnection: keep-alive\r\n\r\n"
    );
}

/// Without `--trusted-proxies` (what `ForwardContext::new` is) the peer is
/// the client: what it claims in forwarding headers is not forwarded.
#[test]
fn rewrite_request_replaces_x_forwarded_for_of_an_untrusted_peer() {
    let src = b"GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nHost: a\r\n\
        X-Forwarded-For: 3.3.3.3\r\nX-Forwarded-Proto: http\r\nX-Real-IP: 3.3.3.3\r\n\r\n";
    let ctx = ForwardContext::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 443, true);
    assert!(!ctx.peer_trusted());
    assert_eq!(
        upstream(src, &ctx),
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: ::1\r\n\
         X-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\nX-Forwarded-Port: 443\r\n\
         X-Real-IP: ::1\r\nConnection: keep-alive\r\n\r\n"
    );
}

/// A trusted peer's `X-Forwarded-For` lines are joined and appended to;
/// `X-Real-IP` is the right-most address that is not trusted.
#[test]
fn rewrite_request_appends_to_x_forwarded_for_of_a_trusted_peer() {
    let src = b"GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nHost: a\r\n\
        X-Forwarded-For: 3.3.3.3\r\nX-Forwarded-Proto: https\r\n\r\n";
    let trusted = std::sync::Arc::new("::1".parse().unwrap());
    let ctx = ForwardContext::for_peer(IpAddr::V6(Ipv6Addr::LOCALHOST), &trusted, 443, true);
    assert_eq!(
        upstream(src, &ctx),
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, ::1\r\n\
         X-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\nX-Forwarded-Port: 443\r\n\
         X-Real-IP: 3.3.3.3\r\nConnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn rewrite_request_shows_ipv4_mapped_clients_as_ipv4() {
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
    assert_eq!(ForwardContext::new(mapped, 80, false).client_ip(), b"192.0.2.7");
}

#[test]
fn rewrite_request_reemits_framing_canonically() {
    let src = b"POST /u HTTP/1.1\r\nHost: a\r\ncontent-length: 007, 7\r\n\r\n";
    assert_eq!(
        upstream(src, &v4()),
        "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nX-Forwarded-For: 10.1.2.3\r\n\
         X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Forwarded-Port: 8080\r\n\
         X-Real-IP: 10.1.2.3\r\nConnection: keep-alive\r\n\r\n"
    );
    let chunked = b"POST /u HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nHost: a\r\n\r\n";
    assert!(upstream(chunked, &v4()).starts_with(
        "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For"
    ));
}

#[test]
fn rewrite_request_absolute_form_becomes_origin_form_with_authority_host() {
    let src = b"GET http://b.example/x HTTP/1.1\r\nHost: ignored\r\n\r\n";
    let out = upstream(src, &v4());
    assert!(out.starts_with("GET /x HTTP/1.1\r\nHost: b.example\r\nX-Forwarded-For"), "{out}");
    assert!(out.contains("X-Forwarded-Host: b.example\r\n"));
    assert!(!out.contains("ignored"));
}

#[test]
fn rewrite_request_http10_is_sent_as_http11() {
    let src = b"GET / HTTP/1.0\r\n\r\n";
    let out = upstream(src, &v4());
    assert!(out.starts_with("GET / HTTP/1.1\r\nHost: \r\nX-Forwarded-For: 10.1.2.3\r\n"), "{out}");
    assert!(!out.contains("X-Forwarded-Host"), "no host, no X-Forwarded-Host");
}

#[test]
fn rewrite_request_upgrade_keeps_upgrade_header() {
    let src =
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Key: k\r\n\r\n";
    let out = upstream(src, &v4());
    assert!(out.starts_with(
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n"
    ));
    assert!(out.ends_with("X-Real-IP: 10.1.2.3\r\nConnection: upgrade\r\n\r\n"), "{out}");
}

#[test]
fn rewrite_response_adds_date_and_server_when_absent() {
    let src = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\n\r\nhello";
    let r = resp(src, false);
    let q = req(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    write_downstream_response_head(src, &r, &ResponseContext::new(&q, &r, DATE, false), &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: Sun, 22 Nov 2026 04:00:00 GMT\r\n\
         Server: ringress\r\n\r\n"
    );
}

#[test]
fn rewrite_response_keeps_upstream_date_and_server() {
    let src = b"HTTP/1.1 404 Not Found\r\nServer: app\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\
        Transfer-Encoding: chunked\r\n\r\n";
    let r = resp(src, false);
    let q = req(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    write_downstream_response_head(src, &r, &ResponseContext::new(&q, &r, DATE, false), &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 404 Not Found\r\nServer: app\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn rewrite_response_http10_client_keep_alive_is_explicit() {
    let src = b"HTTP/1.1 204 No Content\r\n\r\n";
    let r = resp(src, false);
    let q = req(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let ctx = ResponseContext::new(&q, &r, DATE, false);
    assert!(!ctx.close);
    let mut out = Vec::new();
    write_downstream_response_head(src, &r, &ctx, &mut out);
    assert!(String::from_utf8(out)
        .unwrap()
        .ends_with("Server: ringress\r\nConnection: keep-alive\r\n\r\n"));
}

#[test]
fn rewrite_response_chunked_to_http10_client_is_dechunked_and_closed() {
    let src = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let r = resp(src, false);
    let q = req(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let ctx = ResponseContext::new(&q, &r, DATE, false);
    assert!(ctx.dechunk && ctx.close);
    let mut out = Vec::new();
    write_downstream_response_head(src, &r, &ctx, &mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains("Transfer-Encoding"), "{out}");
    assert!(out.ends_with("Connection: close\r\n\r\n"));
}

#[test]
fn rewrite_response_close_delimited_closes_downstream() {
    let src = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    let r = resp(src, false);
    let q = req(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(ResponseContext::new(&q, &r, DATE, false).close);
}

#[test]
fn rewrite_response_head_request_keeps_content_length() {
    let src = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
    let r = resp(src, true);
    let q = req(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    write_downstream_response_head(src, &r, &ResponseContext::new(&q, &r, DATE, false), &mut out);
    assert!(String::from_utf8(out).unwrap().contains("Content-Length: 1234\r\n"));
}

#[test]
fn rewrite_response_interim_is_relayed_bare() {
    let src = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n";
    let r = resp(src, false);
    assert!(r.is_interim());
    let q = req(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    write_downstream_response_head(src, &r, &ResponseContext::new(&q, &r, DATE, false), &mut out);
    assert_eq!(out, b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n");
}

#[test]
fn rewrite_response_switching_protocols_says_upgrade() {
    let src = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Accept: x\r\n\r\n";
    let r = resp(src, false);
    assert!(r.upgrade && !r.keep_alive);
    let q = req(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    let mut out = Vec::new();
    write_downstream_response_head(src, &r, &ResponseContext::new(&q, &r, DATE, false), &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\
         Date: Sun, 22 Nov 2026 04:00:00 GMT\r\nServer: ringress\r\nConnection: upgrade\r\n\r\n"
    );
}

mod trust {
    //! Forwarding headers by the peer's trust (`--trusted-proxies`).

    use std::net::IpAddr;
    use std::sync::Arc;

    use super::upstream;
    use crate::http::{parse_request_head, ForwardContext, HeadLimits};
    use crate::trust::TrustedProxies;

    const FORGED: &[u8] = b"GET / HTTP/1.1\r\nHost: a.example\r\n\
        X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\
        X-Forwarded-Port: 1\r\nX-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n\
        forwarded: for=7.7.7.7\r\nAccept: */*\r\n\r\n";

    fn ctx(peer: &str, trusted: &str) -> ForwardContext {
        let set = Arc::new(if trusted.is_empty() {
            TrustedProxies::NONE
        } else {
            trusted.parse().unwrap()
        });
        ForwardContext::for_peer(peer.parse::<IpAddr>().unwrap(), &set, 80, false)
    }

    #[test]
    fn untrusted_peer_forwarding_headers_are_replaced_and_forwarded_dropped() {
        for trusted in ["", "10.0.0.0/8"] {
            let ctx = ctx("203.0.113.5", trusted);
            assert!(!ctx.peer_trusted());
            assert_eq!(
                upstream(FORGED, &ctx),
                "GET / HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\
                 X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: http\r\n\
                 X-Forwarded-Host: a.example\r\nX-Forwarded-Port: 80\r\n\
                 X-Real-IP: 203.0.113.5\r\nConnection: keep-alive\r\n\r\n",
                "trusted: {trusted:?}"
            );
        }
    }

    #[test]
    fn trusted_peer_appends_and_real_ip_is_rightmost_untrusted() {
        let src = b"GET / HTTP/1.1\r\nHost: a.example\r\n\
            X-Forwarded-For: 6.6.6.6, 198.51.100.7\r\nX-Forwarded-For: 10.0.0.3\r\n\r\n";
        let ctx = ctx("::ffff:10.0.0.2", "10.0.0.0/8");
        assert!(ctx.peer_trusted());
        let head = parse_request_head(src, &HeadLimits::DEFAULT).unwrap().unwrap();
        assert_eq!(ctx.client_address(src, &head), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            upstream(src, &ctx),
            "GET / HTTP/1.1\r\nHost: a.example\r\n\
             X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.0.0.3, 10.0.0.2\r\n\
             X-Forwarded-Proto: http\r\nX-Forwarded-Host: a.example\r\nX-Forwarded-Port: 80\r\n\
             X-Real-IP: 198.51.100.7\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn trusted_peer_passes_its_proto_host_port_and_forwarded() {
        let ctx = ctx("10.0.0.2", "10.0.0.0/8");
        assert_eq!(
            upstream(FORGED, &ctx),
            "GET / HTTP/1.1\r\nHost: a.example\r\nForwarded: for=6.6.6.6\r\n\
             forwarded: for=7.7.7.7\r\nAccept: */*\r\n\
             X-Forwarded-For: 6.6.6.6, 10.0.0.2\r\nX-Forwarded-Proto: https\r\n\
             X-Forwarded-Host: evil\r\nX-Forwarded-Port: 1\r\n\
             X-Real-IP: 6.6.6.6\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn trusted_peer_without_forwarded_for_is_the_client() {
        let src = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let out = upstream(src, &ctx("fd00::9", "fd00::/8"));
        assert!(out.contains("X-Forwarded-For: fd00::9\r\n"), "{out}");
        assert!(out.contains("X-Real-IP: fd00::9\r\n"), "{out}");
    }
}
