//! The admin and health listeners on their own thread: what each serves,
//! and that clients holding connections open with a trickle of bytes
//! cannot keep a probe out.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringress::admin::{self, AdminState, Scope};
use ringress::metrics::Metrics;
use ringress_control::Publisher;
use ringress_test_support::trickle::{status_within, Trickle};

/// Generous bound for anything that should be quick.
const DEADLINE: Duration = Duration::from_secs(10);

struct Admin {
    health: SocketAddr,
    admin: SocketAddr,
    _thread: admin::AdminThread,
    _publisher: Publisher,
}

fn start() -> Admin {
    // Bound as `run` binds them (the HTTP and HTTPS ones are not used).
    let listeners = ringress::Listeners::bind(&ringress::ListenAddrs::loopback()).unwrap();
    let (health, admin) = (listeners.health, listeners.admin);
    let (health_addr, admin_addr) = (health.local_addr().unwrap(), admin.local_addr().unwrap());
    let publisher = Publisher::new();
    let state = AdminState {
        table: publisher.handle(),
        metrics: Arc::new(Metrics::new(1)),
        provider: None,
        shutting_down: Default::default(),
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

/// 2,000 connections trickling one byte a second at each listener do
/// not delay a `/healthz` answer on either past 1 s: beyond 256 held
/// connections the oldest gives way to each new one, and none of the slow
/// ones is ever answered.
#[test]
fn trickling_connections_do_not_keep_a_probe_out() {
    ringress::serve::raise_open_files_limit();
    let a = start();
    let mut floods = [Trickle::open(a.health, 2000), Trickle::open(a.admin, 2000)];
    let mut probes = 0;
    for _ in 0..3 {
        // One more byte on every slow connection, then probes on both
        // listeners until the next second, each answered within 1 s.
        let next = Instant::now() + Duration::from_secs(1);
        for flood in &mut floods {
            flood.tick();
        }
        while Instant::now() < next {
            for (addr, name) in [(a.health, "health"), (a.admin, "admin")] {
                let started = Instant::now();
                let status = status_within(addr, "/healthz", Duration::from_secs(1));
                assert!(
                    status.is_some(),
                    "probe {probes} on {name}: no answer within 1 s (after {:?})",
                    started.elapsed()
                );
                probes += 1;
            }
        }
    }
    // Each listener held at most 256 of them: the others were closed to
    // make room (a read sees the end or a reset), and none got a page.
    for flood in &mut floods {
        let closed = flood.closed();
        assert!(
            closed + flood.reopened >= flood.len() - admin::MAX_CONNECTIONS,
            "{closed} of {} trickling connections closed ({} reopened); the cap is {}",
            flood.len(),
            flood.reopened,
            admin::MAX_CONNECTIONS
        );
    }
}
