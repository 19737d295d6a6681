//! `Connection: Upgrade`: the handshake is forwarded, then bytes flow both
//! ways until a side closes. Only allowed protocols pass (`websocket`, and
//! those of `--allow-upgrade`); an upstream's 101 must match the offer.

use std::io::{Read, Write};

use crate::support::*;
use ringress::worker::IoEngine;

/// A WebSocket handshake gets 101 from the upstream, then every byte the
/// client sends comes back (the test upstream echoes).
/// Send a WebSocket handshake on a new client connection.
fn upgrade(proxy: &Proxy) -> Client {
    let mut c = proxy.client();
    c.send(
        b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    c
}

fn manifests(up: &Upstream) -> String {
    yaml(&[service("ws", &[up.addr]), ingress("i", None, &[("/", "Prefix", "ws")])])
}

fn websocket_echo(engine: IoEngine) {
    let up = Upstream::start("ws");
    let proxy = Proxy::builder(engine).manifests(manifests(&up)).start();
    let mut c = upgrade(&proxy);
    let r = c.response(false);
    assert_eq!(r.status, 101);
    assert!(r.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")));
    for round in 0..20 {
        let msg = format!("frame {round} {}", "x".repeat(round * 100));
        c.w.write_all(msg.as_bytes()).unwrap();
        let mut back = vec![0u8; msg.len()];
        c.r.read_exact(&mut back).unwrap();
        assert_eq!(back, msg.as_bytes());
    }
    c.w.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(c.closed(), "tunnel should close after both sides are done");
}

/// A tunnel with no byte either way for `tunnel_idle_timeout` is closed
/// (both halves), and counted.
fn idle_websocket_is_closed(engine: IoEngine) {
    let up = Upstream::start("ws");
    let proxy = Proxy::builder(engine)
        .settings(|s| s.tunnel_idle_timeout = std::time::Duration::from_millis(300))
        .manifests(manifests(&up))
        .start();
    let mut c = upgrade(&proxy);
    assert_eq!(c.response(false).status, 101);
    c.w.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    c.r.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    assert!(proxy.metrics_text().contains("\nringress_tunnels_active 1\n"));

    // Silence: the proxy ends the stream (a read of 0, not the client's
    // own read deadline).
    let mut rest = Vec::new();
    let n = c.r.read_to_end(&mut rest).expect("the proxy closes the idle tunnel");
    assert_eq!(n, 0, "no stray bytes: {rest:?}");
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let m = proxy.metrics_text();
        if m.contains("\nringress_tunnels_idle_closed_total 1\n")
            && m.contains("\nringress_tunnels_active 0\n")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "tunnel not counted as idle-closed: {m}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn h2c_offer(extra: &str) -> String {
    format!(
        "GET /h2 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
         HTTP2-Settings: AAMAAABkAAQAAP__\r\n{extra}\r\n"
    )
}

/// By default a client's `Upgrade: h2c` is removed, with `upgrade` in its
/// Connection line and with HTTP2-Settings: the upstream gets a plain
/// HTTP/1.1 request, answers 200, and the connection stays usable.
fn h2c_upgrade_is_served_as_plain_http11(engine: IoEngine) {
    let up = Upstream::start("ws");
    let proxy = Proxy::builder(engine).manifests(manifests(&up)).start();
    let mut c = proxy.client();
    for _ in 0..2 {
        c.send(h2c_offer("").as_bytes());
        let r = c.response(false);
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.header("x-seen-upgrade"), None, "{r:?}");
        assert_eq!(r.header("x-seen-http2-settings"), None, "{r:?}");
        assert_eq!(r.header("x-seen-connection"), Some("keep-alive"), "{r:?}");
    }
    // An offer of several protocols keeps only the allowed one.
    let mut c = proxy.client();
    c.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c, WebSocket, irc/6.9\r\n\r\n",
    );
    let r = c.response(false);
    assert_eq!(r.status, 101);
    assert_eq!(r.header("x-seen-upgrade"), Some("WebSocket"), "{r:?}");
}

/// A proxy to `up` started with `--allow-upgrade h2c`.
fn h2c_allowed(engine: IoEngine, up: &Upstream) -> Proxy {
    Proxy::builder(engine)
        .settings(|s| s.allowed_upgrades.push("h2c".to_string()))
        .manifests(manifests(up))
        .start()
}

/// `--allow-upgrade h2c` (any case) lets the h2c offer through with its
/// HTTP2-Settings line, and the upstream's 101 for it opens the tunnel.
fn allowed_upgrade_token_is_forwarded(engine: IoEngine) {
    let up = Upstream::start("ws");
    let proxy = h2c_allowed(engine, &up);
    let mut c = proxy.client();
    c.send(h2c_offer("x-test-upgrade: H2C\r\n").as_bytes());
    let r = c.response(false);
    assert_eq!(r.status, 101, "{r:?}");
    assert_eq!(r.header("x-seen-upgrade"), Some("h2c"));
    c.w.write_all(b"PRI * HTTP/2.0").unwrap();
    let mut back = [0u8; 14];
    c.r.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"PRI * HTTP/2.0");
}

/// An upstream 101 switching to a protocol the client did not offer, or
/// when the client offered none, is a 502 and no tunnel opens.
fn upstream_101_without_a_matching_offer_is_502(engine: IoEngine) {
    let up = Upstream::start("ws");
    let proxy = h2c_allowed(engine, &up);
    // Offered websocket, switched to h2c.
    let mut c = proxy.client();
    c.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
          x-test-upgrade: h2c\r\n\r\n",
    );
    assert_eq!(c.response(false).status, 502);
    // Offered nothing.
    let r = proxy.client().get("x", "/", "x-test-upgrade: websocket\r\n");
    assert_eq!(r.status, 502);
    // Offered h2c, which is removed by default: the upstream's 101 to it is
    // not accepted either.
    let default = Proxy::builder(engine).manifests(manifests(&up)).start();
    let mut c = default.client();
    c.send(h2c_offer("x-test-upgrade: h2c\r\n").as_bytes());
    assert_eq!(c.response(false).status, 502);
    assert!(proxy.metrics_text().contains("\nringress_tunnels_active 0\n"));
}

engines!(
    websocket_echo,
    idle_websocket_is_closed,
    h2c_upgrade_is_served_as_plain_http11,
    allowed_upgrade_token_is_forwarded,
    upstream_101_without_a_matching_offer_is_502
);
