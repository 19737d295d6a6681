//! Bodies of several MiB in both directions and both framings, streamed;
//! `Expect: 100-continue`.

use std::io::Write;

use crate::support::*;
use ringress::worker::IoEngine;

const BIG: usize = 5 * 1024 * 1024 + 13;

/// A proxy without a body limit (the bodies here are larger than the
/// default `--max-body-size`; the limit has its own tests in `limits`).
fn proxy(engine: IoEngine, up: &Upstream) -> Proxy {
    Proxy::builder(engine)
        .settings(|s| s.max_body_size = None)
        .manifests(yaml(&[
            service("web", &[up.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start()
}

/// A multi-MiB Content-Length request body arrives intact and is echoed
/// back intact; the connection is reused afterwards.
fn large_content_length_both_ways(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy(engine, &up);
    let mut c = proxy.client();
    let body = pattern_body(BIG);
    c.send(format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {BIG}\r\n\r\n").as_bytes());
    // Written from another thread: the proxy streams while we send.
    let mut w = c.w.try_clone().unwrap();
    let sender = std::thread::spawn(move || w.write_all(&body).unwrap());
    let r = c.response(false);
    sender.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-bytes"), Some(BIG.to_string().as_str()));
    assert_eq!(r.header("content-length"), Some(BIG.to_string().as_str()));
    assert!(r.body == pattern_body(BIG), "echoed body differs");
    assert_eq!(c.get("x", "/", "").text(), "web\n");
}

/// A multi-MiB chunked request body arrives intact; a multi-MiB chunked
/// response arrives intact and chunked.
fn large_chunked_both_ways(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy(engine, &up);
    let mut c = proxy.client();
    c.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nx-test-chunked: 1\r\n\r\n",
    );
    let mut w = c.w.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let body = pattern_body(BIG);
        for piece in body.chunks(65_521) {
            w.write_all(format!("{:x}\r\n", piece.len()).as_bytes()).unwrap();
            w.write_all(piece).unwrap();
            w.write_all(b"\r\n").unwrap();
        }
        w.write_all(b"0\r\n\r\n").unwrap();
    });
    let r = c.response(false);
    sender.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("x-request-bytes"), Some(BIG.to_string().as_str()));
    assert!(r.body == pattern_body(BIG), "chunked body differs");
    assert_eq!(c.get("x", "/", "").text(), "web\n");
}

/// A large response body with Content-Length, to a GET.
fn large_response_content_length(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy(engine, &up);
    let mut c = proxy.client();
    let r = c.get("x", "/", &format!("x-test-body-bytes: {BIG}\r\n"));
    assert_eq!(r.header("content-length"), Some(BIG.to_string().as_str()));
    assert!(r.body == pattern_body(BIG));
}

/// `Expect: 100-continue`: the proxy answers `100 Continue`, the body then
/// flows, the final response follows.
fn expect_continue(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = proxy(engine, &up);
    let mut c = proxy.client();
    c.send(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.response(false);
    assert_eq!(interim.status, 100);
    c.send(b"hello");
    let r = c.response(false);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello");
    assert_eq!(r.header("x-seen-expect"), None, "Expect must not be forwarded");
}

/// An upstream that refuses an upload answers 413 after the head and
/// closes without reading the body (half-close, then close with unread
/// input: a reset). The client gets that 413, not a 502, and the
/// connection closes after it.
fn early_answer_during_upload_is_relayed(engine: IoEngine) {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let upstream = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        while r.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let mut w = s;
        w.write_all(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large",
        )
        .unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
        // Read a little of the body, then close with the rest unread.
        let mut some = [0u8; 4096];
        let _ = std::io::Read::read(&mut r, &mut some);
    });
    let proxy = Proxy::builder(engine)
        .settings(|s| s.max_body_size = None)
        .manifests(yaml(&[service("web", &[addr]), ingress("i", None, &[("/", "Prefix", "web")])]))
        .start();
    let mut c = proxy.client();
    c.send(format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {BIG}\r\n\r\n").as_bytes());
    let mut w = c.w.try_clone().unwrap();
    // The proxy stops reading at some point: the sender may then fail.
    let sender = std::thread::spawn(move || {
        let _ = w.write_all(&pattern_body(BIG));
    });
    let r = c.response(false);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.text(), "too large");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());
    sender.join().unwrap();
    upstream.join().unwrap();
}

engines!(
    large_content_length_both_ways,
    large_chunked_both_ways,
    large_response_content_length,
    expect_continue,
    early_answer_during_upload_is_relayed,
);
