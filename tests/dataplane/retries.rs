//! When a request is sent again on a fresh upstream connection: only an
//! idempotent one (RFC 9110 §9.2.2), and a connect failure, where nothing
//! was written, still moves to another endpoint whatever the method.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use ringress::worker::IoEngine;

use crate::support::upstream::read_request;
use crate::support::*;

/// What the flaky upstream read: (connection number, method, path, body).
type Log = Arc<Mutex<Vec<(usize, String, String, Vec<u8>)>>>;

/// An upstream that answers the first request on each connection and, on
/// the second, reads it whole and closes without answering: what a pooled
/// connection meets when the server goes away mid-keep-alive.
fn flaky_upstream() -> (SocketAddr, Log) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let log: Log = Arc::default();
    let seen = log.clone();
    std::thread::spawn(move || {
        for (id, stream) in l.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                for n in 0.. {
                    let Some(req) = read_request(&mut r) else { return };
                    seen.lock().unwrap().push((id + 1, req.method, req.path, req.body));
                    if n == 1 {
                        return;
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nx-conn: {}\r\nContent-Length: 2\r\n\r\nok",
                        id + 1
                    );
                    if w.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, log)
}

fn proxy_to(engine: IoEngine, addrs: &[SocketAddr]) -> Proxy {
    Proxy::builder(engine)
        .manifests(yaml(&[service("web", addrs), ingress("i", None, &[("/", "Prefix", "web")])]))
        .start()
}

fn seen(log: &Log, method: &str, path: &str) -> Vec<usize> {
    let log = log.lock().unwrap();
    log.iter().filter(|(_, m, p, _)| m == method && p == path).map(|(c, ..)| *c).collect()
}

/// A POST on a pooled connection that the upstream reads and then closes
/// without answering is not sent again: it reaches the upstream exactly
/// once and the client gets 502, with `Content-Length: 0` and with a body.
fn post_is_never_replayed(engine: IoEngine) {
    let (addr, log) = flaky_upstream();
    let proxy = proxy_to(engine, &[addr]);
    for (path, body) in [("/empty", ""), ("/form", "a=1&b=2")] {
        let mut c = proxy.client();
        // The first request on a fresh upstream connection, which is pooled.
        assert_eq!(c.get("x", "/warm", "").status, 200);
        c.send(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        let r = c.response(false);
        assert_eq!(r.status, 502, "{path}: {}", r.text());
        assert_eq!(
            seen(&log, "POST", path).len(),
            1,
            "{path} reached the upstream {:?}",
            log.lock().unwrap()
        );
        let bodies: Vec<_> =
            log.lock().unwrap().iter().filter(|e| e.2 == path).map(|e| e.3.clone()).collect();
        assert_eq!(bodies, [body.as_bytes().to_vec()]);
    }
    let m = proxy.metrics_text();
    assert!(m.contains("ringress_upstream_retries_total 0\n"), "{m}");
}

/// A GET that meets the same failure is sent once more on a fresh
/// connection and succeeds; so is a PATCH not (checked alongside).
fn idempotent_request_is_replayed_once(engine: IoEngine) {
    let (addr, log) = flaky_upstream();
    let proxy = proxy_to(engine, &[addr]);
    let mut c = proxy.client();
    assert_eq!(c.get("x", "/warm", "").status, 200);
    let r = c.get("x", "/again", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-conn"), Some("2"), "answered on a fresh connection");
    assert_eq!(seen(&log, "GET", "/again"), [1, 2], "sent twice: pooled, then fresh");
    assert!(proxy.metrics_text().contains("ringress_upstream_retries_total 1\n"));

    // Connection 2 is pooled now: a PATCH on it fails and is not replayed.
    c.send(b"PATCH /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(c.response(false).status, 502);
    assert_eq!(seen(&log, "PATCH", "/p"), [2]);
}

/// A connect failure writes nothing, so even a POST moves to another
/// endpoint: with one endpoint refusing, every POST is answered.
fn post_moves_on_after_a_connect_failure(engine: IoEngine) {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let good = Upstream::start("good");
    let proxy = proxy_to(engine, &[closed, good.addr]);
    let mut c = proxy.client();
    for i in 0..4 {
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        let r = c.response(false);
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(r.text(), "hello");
    }
    assert_eq!(good.requests.load(std::sync::atomic::Ordering::SeqCst), 4);
}

engines!(
    post_is_never_replayed,
    idempotent_request_is_replayed_once,
    post_moves_on_after_a_connect_failure
);
