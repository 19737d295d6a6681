//! Zero-drop shutdown, with the binary as deployed: on SIGTERM `/readyz`
//! answers 503 at once, the listeners serve on for `--shutdown-delay`,
//! then accepting stops, keep-alive responses carry `Connection: close`,
//! requests in flight finish, and the process exits 0. Clients behave as
//! a load balancer does: they stop opening connections once `/readyz` is
//! 503, and keep using the ones they have until told to close.

// Test clients and upstreams are plain threads that may block and sleep.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringress_test_support::process::{spawn, start_addrs};
use ringress_test_support::{ingress, service, yaml, Client, Upstream, DEADLINE};

/// `GET path` on a fresh connection: the status, 0 when none came.
fn status_of(addr: SocketAddr, path: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr) else { return 0 };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    ok_after_sigterm: AtomicUsize,
    failed: AtomicUsize,
    closed_by_server: AtomicUsize,
}

fn shutdown_loses_nothing(engine: &str) {
    let up = Upstream::start("web");
    let dir = tempfile::tempdir().expect("temp dir");
    let manifests = yaml(&[
        service("web", &[up.addr]),
        ingress("web", Some("site.example"), &[("/", "Prefix", "web")]),
    ]);
    std::fs::write(dir.path().join("site.yaml"), manifests).expect("write manifests");
    let (mut child, lines) = spawn(
        Command::new(env!("CARGO_BIN_EXE_ringress"))
            .args(["run", "--manifests"])
            .arg(dir.path())
            .args(["--http=127.0.0.1:0", "--https=127.0.0.1:0", "--admin=127.0.0.1:0"])
            .args(["--health=127.0.0.1:0", "--workers=2", "--no-pin"])
            .args(["--shutdown-delay=1s", "--drain-timeout=5s", &format!("--io-engine={engine}")])
            .env("RUST_LOG", "info"),
    );
    let [http, health] = start_addrs(&lines, ["http", "health"]);
    let start = Instant::now();
    while status_of(health, "/readyz") != 200 {
        assert!(start.elapsed() < DEADLINE, "never ready");
        std::thread::sleep(Duration::from_millis(10));
    }

    let not_ready = Arc::new(AtomicBool::new(false));
    let sigterm_sent = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (not_ready, sigterm_sent, tally) =
                (not_ready.clone(), sigterm_sent.clone(), tally.clone());
            std::thread::spawn(move || {
                let mut conn: Option<Client> = None;
                let mut on_conn = 0u32;
                let deadline = Instant::now() + DEADLINE;
                while Instant::now() < deadline {
                    if conn.is_none() {
                        // As a load balancer: no new connection to a
                        // backend that is not ready.
                        if not_ready.load(Ordering::SeqCst) {
                            return;
                        }
                        conn = Some(Client::connect(http));
                        on_conn = 0;
                    }
                    let c = conn.as_mut().expect("a connection");
                    let after_sigterm = sigterm_sent.load(Ordering::SeqCst);
                    c.send(b"GET /x HTTP/1.1\r\nHost: site.example\r\n\r\n");
                    on_conn += 1;
                    match c.try_response(false) {
                        Some(r) if r.status == 200 => {
                            tally.ok.fetch_add(1, Ordering::SeqCst);
                            if after_sigterm {
                                tally.ok_after_sigterm.fetch_add(1, Ordering::SeqCst);
                            }
                            if r.header("connection")
                                .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                            {
                                tally.closed_by_server.fetch_add(1, Ordering::SeqCst);
                                conn = None;
                            }
                        }
                        other => {
                            eprintln!(
                                "failed request {on_conn} on its connection \
                                 (after SIGTERM: {after_sigterm}): {other:?}"
                            );
                            tally.failed.fetch_add(1, Ordering::SeqCst);
                            conn = None;
                        }
                    }
                }
                panic!("the client was never told to close");
            })
        })
        .collect();
    // The poller a load balancer runs.
    let poller = {
        let not_ready = not_ready.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + DEADLINE;
            while Instant::now() < deadline {
                if status_of(health, "/readyz") == 503 {
                    not_ready.store(true, Ordering::SeqCst);
                    return true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        })
    };
    while tally.ok.load(Ordering::SeqCst) < 400 {
        assert!(start.elapsed() < DEADLINE, "clients are not served");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = i32::try_from(child.0.id()).expect("a pid");
    sigterm_sent.store(true, Ordering::SeqCst);
    // SAFETY: kill(2) with a valid signal on our own child's pid; no
    // memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(sent.elapsed() < DEADLINE, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(poller.join().expect("poller"), "/readyz never answered 503");
    for c in clients {
        c.join().expect("a client ends when told to close");
    }
    let (ok, after, failed, closed) = (
        tally.ok.load(Ordering::SeqCst),
        tally.ok_after_sigterm.load(Ordering::SeqCst),
        tally.failed.load(Ordering::SeqCst),
        tally.closed_by_server.load(Ordering::SeqCst),
    );
    eprintln!(
        "{ok} requests, {after} after SIGTERM, {failed} failed, {closed} closed by the server"
    );
    assert_eq!(failed, 0, "requests lost at shutdown");
    assert!(after > 0, "served on after SIGTERM");
    assert_eq!(closed, 4, "each client told to close once, by Connection: close");
}

#[test]
fn shutdown_loses_nothing_io_uring() {
    shutdown_loses_nothing("io-uring");
}

#[test]
fn shutdown_loses_nothing_epoll() {
    shutdown_loses_nothing("epoll");
}
