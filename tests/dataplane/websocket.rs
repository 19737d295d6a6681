//! `Connection: Upgrade`: the handshake is forwarded, then bytes flow both
//! ways until a side closes.

use std::io::{Read, Write};

use crate::engines;
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

engines!(websocket_echo, idle_websocket_is_closed);
