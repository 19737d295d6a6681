//! `--max-connections` and `--max-body-size`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Instant;

use ringress::admin::{self, AdminState};
use ringress::worker::IoEngine;

use crate::support::*;

fn proxy_with(
    engine: IoEngine,
    addr: SocketAddr,
    f: impl FnOnce(&mut ringress::worker::Settings),
) -> Proxy {
    Proxy::builder(engine)
        .settings(f)
        .manifests(yaml(&[service("web", &[addr]), ingress("i", None, &[("/", "Prefix", "web")])]))
        .start()
}

/// Poll `/metrics` of the proxy (written by its worker) until it holds
/// `line`, within the test deadline.
fn wait_for_metric(proxy: &Proxy, line: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let m = proxy.metrics_text();
        if m.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < deadline, "metrics never showed {line:?}:\n{m}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The real admin server for `proxy` on loopback; runs for the test's
/// length.
fn start_admin(proxy: &Proxy) -> SocketAddr {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AdminState {
        table: proxy.publisher.handle(),
        metrics: proxy.metrics.clone(),
        provider: None,
        shutting_down: Default::default(),
    };
    std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = tokio::time::timeout(DEADLINE * 3, admin::serve(listener, state)).await;
        })
    });
    addr
}

fn admin_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: admin\r\n\r\n").as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// `--max-connections 2` on one worker: two idle keep-alive clients hold
/// the two places; a third connection is closed at once without a byte of
/// response (it reads end of stream or a reset, not a timeout) and counted
/// in `ringress_connections_refused_total`, while the admin server keeps
/// answering; once one of the first two closes, a new client is served.
fn connections_over_the_limit_are_closed_unread(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy_with(engine, up.addr, |s| s.max_connections = 2);
    let admin = start_admin(&proxy);
    let mut a = proxy.client();
    let mut b = proxy.client();
    assert_eq!(a.get("x", "/", "").status, 200);
    assert_eq!(b.get("x", "/", "").status, 200);

    let mut third = TcpStream::connect(proxy.addr).unwrap();
    third.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut byte = [0u8; 1];
    match third.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the third connection was not closed at once: {other:?}"),
    }
    wait_for_metric(&proxy, "ringress_connections_refused_total 1");
    assert_eq!(admin_get(admin, "/healthz").0, 200);
    let (status, metrics) = admin_get(admin, "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("\nringress_connections_refused_total 1\n"), "{metrics}");
    assert!(metrics.contains("# TYPE ringress_connections_refused_total counter"));

    // A connection that closes gives its place back.
    drop(a);
    wait_for_metric(&proxy, "ringress_downstream_connections_active 1");
    let mut d = proxy.client();
    assert_eq!(d.get("x", "/", "").status, 200);
    assert_eq!(b.get("x", "/", "").status, 200);
    assert!(proxy.metrics_text().contains("\nringress_connections_refused_total 1\n"));
}

/// `--max-body-size 1k`: a declared `Content-Length` over it is answered
/// 413 (with `Connection: close`) before any upstream is contacted, also
/// with `Expect: 100-continue` (no 100 first); a body of exactly the limit,
/// in either framing, passes. The 413s are counted as downstream errors.
fn declared_body_over_the_limit_is_413_before_any_upstream(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy_with(engine, up.addr, |s| s.max_body_size = Some(1024));
    let mut c = proxy.client();
    c.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());

    let mut c = proxy.client();
    c.send(
        b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(c.response(false).status, 413, "413 comes before any 100 Continue");
    assert_eq!(up.connections.load(Ordering::SeqCst), 0, "the upstream was contacted");
    assert_eq!(up.requests.load(Ordering::SeqCst), 0);

    let body = pattern_body(1024);
    let mut c = proxy.client();
    c.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n");
    c.send(&body);
    let r = c.response(false);
    assert_eq!(r.status, 200);
    assert!(r.body == body);
    c.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for piece in body.chunks(300) {
        c.send(format!("{:x}\r\n", piece.len()).as_bytes());
        c.send(piece);
        c.send(b"\r\n");
    }
    c.send(b"0\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-bytes"), Some("1024"));
    let m = proxy.metrics_text();
    assert!(
        m.contains("ringress_request_errors_total{source=\"downstream\",status=\"413\"} 2"),
        "{m}"
    );
}

/// Without `--max-body-size` the default is 1 MiB (ingress-nginx's
/// `proxy-body-size`): one byte more is 413.
fn default_body_limit_is_one_mebibyte(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy_with(engine, up.addr, |_| {});
    let mut c = proxy.client();
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n");
    assert_eq!(c.response(false).status, 413);
    assert_eq!(up.connections.load(Ordering::SeqCst), 0);
}

/// A chunked body that grows past the limit while it streams is answered
/// 413 (no response had started); the upstream got no more than the limit
/// of body data, and its connection is closed, never pooled: the upstream
/// reads end of stream while the proxy keeps running.
fn chunked_body_over_the_limit_is_413_and_upstream_discarded(engine: IoEngine) {
    const LIMIT: usize = 64 * 1024;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // The upstream reads everything until the proxy closes, and says how
    // many bytes that was.
    let upstream = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).expect("the proxy closes the upstream connection");
        all.len()
    });
    let proxy = proxy_with(engine, addr, |s| s.max_body_size = Some(LIMIT as u64));
    let mut c = proxy.client();
    c.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    let mut w = c.w.try_clone().unwrap();
    // 1 MiB in 4 KiB chunks: the proxy stops reading at some point, and
    // this writer may then fail.
    let sender = std::thread::spawn(move || {
        for piece in pattern_body(1024 * 1024).chunks(4096) {
            let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
            chunk.extend_from_slice(piece);
            chunk.extend_from_slice(b"\r\n");
            if w.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = w.write_all(b"0\r\n\r\n");
    });
    let r = c.response(false);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    let received = upstream.join().unwrap();
    // Head (well under 1 KiB) plus at most LIMIT bytes of data in 4 KiB
    // chunks, each with 7 bytes of framing.
    let bound = 1024 + LIMIT + (LIMIT / 4096 + 1) * 7;
    assert!(received <= bound, "the upstream got {received} bytes, over {bound}");
    assert!(received > 0, "the request head was forwarded");
    let m = proxy.metrics_text();
    assert!(
        m.contains("ringress_request_errors_total{source=\"downstream\",status=\"413\"} 1"),
        "{m}"
    );
    sender.join().unwrap();
}

engines!(
    connections_over_the_limit_are_closed_unread,
    declared_body_over_the_limit_is_413_before_any_upstream,
    default_body_limit_is_one_mebibyte,
    chunked_body_over_the_limit_is_413_and_upstream_discarded,
);
