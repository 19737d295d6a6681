//! The admin and health listeners on their own thread: what each serves,
//! and that clients holding connections open with a trickle of bytes
//! cannot keep a probe out.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringress::admin::{self, AdminState, Scope};
use ringress::metrics::Metrics;
use ringress_control::Publisher;

/// Generous bound for anything that should be quick.
const DEADLINE: Duration = Duration::from_secs(10);

struct Admin {
    health: SocketAddr,
    admin: SocketAddr,
    _thread: admin::AdminThread,
    _publisher: Publisher,
}

fn start() -> Admin {
    let health = TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").unwrap();
    let (health_addr, admin_addr) = (health.local_addr().unwrap(), admin.local_addr().unwrap());
    let publisher = Publisher::new();
    let state = AdminState {
        table: publisher.handle(),
        metrics: Arc::new(Metrics::new(1)),
        provider: None,
    };
    let thread = admin::start(vec![(Scope::Health, health), (Scope::Admin, admin)], state).unwrap();
    Admin { health: health_addr, admin: admin_addr, _thread: thread, _publisher: publisher }
}

/// GET `path`: the status and body; `None` if no answer came within
/// `within`.
fn get(addr: SocketAddr, path: &str, within: Duration) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, within).ok()?;
    s.set_read_timeout(Some(within)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: admin\r\n\r\n").as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// The health listener serves `/healthz`, `/readyz` and `/metrics` and
/// nothing that reveals configuration: `/routes` is 404 there and 200 on
/// the admin listener.
#[test]
fn the_health_listener_serves_only_probes_and_metrics() {
    let a = start();
    for path in ["/healthz", "/readyz"] {
        let (status, _) = get(a.health, path, DEADLINE).expect(path);
        // No worker runs and no table is live here: 503, but an answer.
        assert_eq!(status, 503, "{path}");
    }
    let (status, body) = get(a.health, "/metrics", DEADLINE).expect("metrics");
    assert_eq!(status, 200);
    assert!(body.contains("ringress_workers_alive"), "{body}");
    assert_eq!(get(a.health, "/routes", DEADLINE).expect("routes").0, 404);
    let (status, body) = get(a.admin, "/routes", DEADLINE).expect("routes on admin");
    assert_eq!(status, 200);
    assert!(body.contains("\"generation\""), "{body}");
}

/// 2,000 connections trickling one byte a second do not delay a
/// `/healthz` answer past 1 s: beyond 256 held connections the oldest
/// gives way to each new one.
#[test]
fn trickling_connections_do_not_keep_a_probe_out() {
    ringress::serve::raise_open_files_limit();
    let a = start();
    let mut slow: Vec<TcpStream> = Vec::new();
    for _ in 0..2000 {
        match TcpStream::connect_timeout(&a.health, DEADLINE) {
            Ok(mut s) => {
                let _ = s.write_all(b"G");
                slow.push(s);
            }
            Err(e) => panic!("connection {} refused: {e}", slow.len()),
        }
    }
    let end = Instant::now() + Duration::from_secs(3);
    let mut probes = 0;
    while Instant::now() < end {
        // One more byte on every slow connection (each second, roughly),
        // then a probe that must be answered within 1 s.
        for s in &mut slow {
            let _ = s.write_all(b"E");
        }
        let started = Instant::now();
        let answer = get(a.health, "/healthz", Duration::from_secs(1));
        assert!(
            answer.is_some(),
            "probe {probes}: no answer within 1 s (after {:?})",
            started.elapsed()
        );
        probes += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(probes >= 3);
    // The listener held at most 256 of them: the others were closed to
    // make room (a read sees the end or a reset), and none got a page.
    let mut closed = 0;
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let mut byte = [0u8; 1];
        match s.read(&mut byte) {
            Ok(0) => closed += 1,
            Ok(_) => panic!("a trickling connection was answered"),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => closed += 1,
        }
    }
    assert!(
        closed >= slow.len() - admin::MAX_CONNECTIONS,
        "{closed} of {} trickling connections closed; the cap is {}",
        slow.len(),
        admin::MAX_CONNECTIONS
    );
}
