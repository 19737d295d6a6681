//! ringress started as a library, the way `main` starts it: a plain
//! `Config` reading a manifests directory, listeners bound on port 0
//! beforehand, and a shutdown future. Real requests reach a real loopback
//! upstream through the routes, the admin listener answers, and shutdown
//! makes `run` return `Ok`. Under both I/O engines.

// The test client and upstream are plain threads that block and wait; the
// data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ringress::worker::IoEngine;
use ringress::{Config, ListenAddrs, Listeners, Source};
use ringress_test_support::{engines, ingress, service, yaml, DEADLINE};

/// An upstream on a loopback port 0 answering every request with its
/// name and the request line it saw.
fn upstream(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let addr = listener.local_addr().expect("upstream address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = stream.try_clone().expect("clone upstream stream");
                let mut r = BufReader::new(stream);
                loop {
                    let mut request_line = String::new();
                    if r.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut line = String::new();
                    while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                        line.clear();
                    }
                    let body = format!("{name} saw {}", request_line.trim_end());
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                    if w.write_all(head.as_bytes())
                        .and_then(|()| w.write_all(body.as_bytes()))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// An IngressClass, Service `web` with one endpoint at `upstream`, and an
/// Ingress sending `site.example/api` there.
fn manifests(upstream: SocketAddr) -> String {
    yaml(&[
        service("web", &[upstream]),
        ingress("site", Some("site.example"), &[("/api", "Prefix", "web")]),
    ])
}

/// `GET path` with `Host: host` on a fresh connection: status and body.
fn get(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read response");
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, body)
}

/// The whole stack through `ringress::run`: routing to the upstream, a
/// 404 for a host no rule names, `/healthz` and `/readyz` on the admin
/// listener, then a clean shutdown.
fn run_serves_routes_and_stops_on_shutdown(engine: IoEngine) {
    let up = upstream("web");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("site.yaml"), manifests(up)).expect("write manifests");

    let listeners = Listeners::bind(&ListenAddrs::loopback()).expect("bind listeners");
    let addrs = listeners.local_addrs().expect("bound addresses");
    let mut config = Config::new(Source::Manifests(dir.path().to_path_buf()));
    config.workers = 2;
    config.io_engine = engine;
    config.pin = false;
    // Short, but exercised: the delay before the drain.
    config.shutdown_delay = Duration::from_millis(100);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || {
        ringress::run(config, listeners, async move {
            let _ = stopped.await;
        })
    });

    // Connections made before the table is live queue on the listeners;
    // wait for the table through the admin server.
    let deadline = Instant::now() + DEADLINE;
    while get(addrs.admin, "admin", "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "ringress never became ready");
        assert!(!running.is_finished(), "run ended early: {:?}", running.join());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(get(addrs.admin, "admin", "/healthz"), (200, "ok\n".to_string()));
    for _ in 0..4 {
        let (status, body) = get(addrs.http, "site.example", "/api/items");
        assert_eq!((status, body.as_str()), (200, "web saw GET /api/items HTTP/1.1"));
    }
    assert_eq!(get(addrs.http, "unknown.example", "/api").0, 404);
    assert_eq!(get(addrs.http, "site.example", "/other").0, 404);

    stop.send(()).expect("run is waiting for shutdown");
    let outcome = running.join().expect("run did not panic");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(TcpStream::connect(addrs.http).is_err(), "the http listener is closed after run");
}

engines!(run_serves_routes_and_stops_on_shutdown);
