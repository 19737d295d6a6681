//! Every status the proxy answers itself, and that each is counted.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use crate::support::*;
use ringress::worker::IoEngine;

/// A loopback address where nothing listens.
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn proxy_to(engine: IoEngine, addrs: &[SocketAddr]) -> Proxy {
    Proxy::builder(engine)
        .settings(|s| {
            s.upstream_response_timeout = Duration::from_millis(300);
            s.client_head_timeout = Duration::from_millis(300);
        })
        .manifests(yaml(&[service("web", addrs), ingress("i", None, &[("/", "Prefix", "web")])]))
        .start()
}

/// A backend without ready endpoints answers 503, and the connection stays
/// usable.
fn no_endpoints_is_503(engine: IoEngine) {
    let proxy = proxy_to(engine, &[]);
    let mut c = proxy.client();
    assert_eq!(c.get("x", "/", "").status, 503);
    assert_eq!(c.get("x", "/", "").status, 503);
    assert!(proxy.metrics_text().contains("source=\"internal\",status=\"503\"} 2"));
}

/// An Ingress naming a Service that does not exist answers 503.
fn missing_service_is_503(engine: IoEngine) {
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[ingress("i", None, &[("/", "Prefix", "nope")])]))
        .start();
    assert_eq!(proxy.client().get("x", "/", "").status, 503);
}

/// An endpoint that refuses connections answers 502 and is counted.
fn refused_is_502(engine: IoEngine) {
    let proxy = proxy_to(engine, &[closed_port()]);
    let r = proxy.client().get("x", "/", "");
    assert_eq!(r.status, 502);
    assert_eq!(r.text(), "Bad Gateway\n");
    let m = proxy.metrics_text();
    assert!(m.contains("ringress_upstream_errors_total{kind=\"connect\"} 1"), "{m}");
}

/// An endpoint that refuses is skipped while another one works.
fn refusing_endpoint_is_skipped(engine: IoEngine) {
    let good = Upstream::start("good");
    let proxy = proxy_to(engine, &[closed_port(), good.addr]);
    let mut c = proxy.client();
    for i in 0..4 {
        let r = c.get("x", "/", "");
        assert_eq!(r.status, 200, "request {i}: {}", proxy.metrics_text());
        assert_eq!(r.text(), "good\n");
    }
    let m = proxy.metrics_text();
    assert!(m.contains("ringress_endpoint_failures_total 1\n"), "{m}");
}

/// An upstream answering garbage, or closing without answering, is a 502.
fn garbage_or_drop_is_502(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy_to(engine, &[up.addr]);
    assert_eq!(proxy.client().get("x", "/", "x-test-garbage: 1\r\n").status, 502);
    assert_eq!(proxy.client().get("x", "/", "x-test-drop: 1\r\n").status, 502);
}

/// An upstream slower than the response timeout is a 504.
fn slow_upstream_is_504(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy_to(engine, &[up.addr]);
    let r = proxy.client().get("x", "/", "x-test-delay-ms: 3000\r\n");
    assert_eq!(r.status, 504);
    assert!(proxy.metrics_text().contains("source=\"upstream\",status=\"504\"} 1"));
}

/// A request head that does not complete in time is answered 408 and
/// the connection closed.
fn slow_head_is_408(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy_to(engine, &[up.addr]);
    let mut c = proxy.client();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 408);
    assert!(c.closed());
}

/// A request body that stops arriving is answered 408 after the body
/// idle timeout, and the connection closed.
fn stalled_body_is_408(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = Proxy::builder(engine)
        .settings(|s| s.client_body_timeout = std::time::Duration::from_millis(300))
        .manifests(yaml(&[
            service("web", &[up.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start();
    let mut c = proxy.client();
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part");
    let r = c.response(false);
    assert_eq!(r.status, 408);
    assert!(c.closed());
}

/// Limits: a long request line is 414, too many or too large headers 431.
fn head_limits(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy_to(engine, &[up.addr]);
    let long = "a".repeat(9 * 1024);
    let mut c = proxy.client();
    c.send(format!("GET /{long} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    assert_eq!(c.response(false).status, 414);
    assert!(c.closed());
    let many: String = (0..101).map(|i| format!("x-h{i}: v\r\n")).collect();
    let mut c = proxy.client();
    c.send(format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes());
    assert_eq!(c.response(false).status, 431);
    let big = "b".repeat(70 * 1024);
    let mut c = proxy.client();
    c.send(format!("GET / HTTP/1.1\r\nHost: x\r\nx-big: {big}\r\n\r\n").as_bytes());
    assert_eq!(c.response(false).status, 431);
}

/// Statuses chosen by the upstream pass through, HEAD/204/304 without
/// bodies, and the connection stays usable after each.
fn upstream_statuses_pass_through(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy_to(engine, &[up.addr]);
    let mut c = proxy.client();
    assert_eq!(c.get("x", "/", "x-test-status: 500\r\n").status, 500);
    assert_eq!(c.get("x", "/", "x-test-status: 204\r\n").status, 204);
    assert_eq!(c.get("x", "/", "x-test-status: 304\r\n").status, 304);
    c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.response(true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("4"));
    assert_eq!(c.get("x", "/", "").text(), "web\n");
    assert_eq!(up.connections.load(std::sync::atomic::Ordering::SeqCst), 1);
}

engines!(
    no_endpoints_is_503,
    missing_service_is_503,
    refused_is_502,
    refusing_endpoint_is_skipped,
    garbage_or_drop_is_502,
    slow_upstream_is_504,
    slow_head_is_408,
    stalled_body_is_408,
    head_limits,
    upstream_statuses_pass_through,
);
