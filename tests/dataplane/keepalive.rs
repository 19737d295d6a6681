//! Keep-alive on both sides and pipelining.

use std::sync::atomic::Ordering;

use crate::support::*;
use ringress::worker::IoEngine;

fn proxy(engine: IoEngine, up: &Upstream) -> Proxy {
    Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[up.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start()
}

/// Many requests over one client connection reach the upstream over one
/// pooled upstream connection.
fn upstream_connection_is_reused(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy(engine, &up);
    let mut c = proxy.client();
    for _ in 0..50 {
        assert_eq!(c.get("x", "/", "").status, 200);
    }
    // And from a second client connection too.
    let mut c2 = proxy.client();
    for _ in 0..10 {
        assert_eq!(c2.get("x", "/", "").header("x-conn"), Some("1"));
    }
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);
    assert_eq!(up.requests.load(Ordering::SeqCst), 60);
    assert!(proxy.metrics_text().contains("ringress_upstream_pool_reused_total 59"));
}

/// Pipelined requests sent in one write are answered in order.
fn pipelined_requests_answer_in_order(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy(engine, &up);
    let mut c = proxy.client();
    let mut batch = String::new();
    for i in 0..20 {
        batch.push_str(&format!("GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    batch.push_str("POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    batch.push_str("GET /last HTTP/1.1\r\nHost: x\r\n\r\n");
    c.send(batch.as_bytes());
    for i in 0..20 {
        let r = c.response(false);
        assert_eq!(r.header("x-seen-path"), Some(format!("/r{i}").as_str()));
    }
    assert_eq!(c.response(false).text(), "abc");
    assert_eq!(c.response(false).header("x-seen-path"), Some("/last"));
}

/// An upstream connection that announced `Connection: close` is not
/// pooled, and a pooled one the upstream closed quietly is replaced: every
/// request still succeeds.
fn closed_upstream_connections_are_replaced(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy(engine, &up);
    let mut c = proxy.client();
    assert_eq!(c.get("x", "/", "x-test-close: 1\r\n").status, 200);
    assert_eq!(c.get("x", "/", "").status, 200);
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    for _ in 0..5 {
        assert_eq!(c.get("x", "/", "x-test-close-quietly: 1\r\n").status, 200);
    }
    assert_eq!(c.get("x", "/", "").status, 200);
    assert_eq!(up.connections.load(Ordering::SeqCst), 7);
}

/// `Connection: close` from the client closes after the response;
/// `--keepalive-requests` closes after that many requests.
fn connection_close_and_request_limit(engine: IoEngine) {
    let up = Upstream::start("web");
    let first = proxy(engine, &up);
    let mut c = first.client();
    let r = c.get("x", "/", "Connection: close\r\n");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());
    let proxy = Proxy::builder(engine)
        .settings(|s| s.keepalive_requests = 3)
        .manifests(yaml(&[
            service("web", &[up.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start();
    let mut c = proxy.client();
    for _ in 0..2 {
        assert_eq!(c.get("x", "/", "").status, 200);
    }
    let r = c.get("x", "/", "");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());
}

engines!(
    upstream_connection_is_reused,
    pipelined_requests_answer_in_order,
    closed_upstream_connections_are_replaced,
    connection_close_and_request_limit,
);
