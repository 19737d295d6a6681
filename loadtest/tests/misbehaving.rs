//! Error kinds against real misbehaving servers on loopback: each failure is
//! counted under its kind, the run goes on to its end, the report says so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

use clap::Parser;
use ringress_loadtest::cli::{Cli, Command};
use ringress_loadtest::report::Report;
use ringress_loadtest::run;

/// A server on port 0 handing every connection to `behaviour` on its own thread.
fn server(behaviour: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || behaviour(stream));
        }
    });
    addr
}

/// Reads one request head; false when the client went away.
fn read_request(s: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

/// Waits until the client closes the connection.
fn hold(mut s: TcpStream) {
    let mut chunk = [0u8; 4096];
    while matches!(s.read(&mut chunk), Ok(n) if n > 0) {}
}

fn run(url: &str, extra: &[&str]) -> Report {
    let mut argv = vec!["ringress-load", "run", url, "-c", "2", "-d", "600ms", "-q", "--no-pin"];
    argv.extend_from_slice(extra);
    let Command::Run(args) = Cli::try_parse_from(argv).expect("valid flags").command else {
        unreachable!("parsed the run subcommand")
    };
    run::execute(&args).expect("the run completes despite errors")
}

#[test]
fn refused_connections_are_connect_errors() {
    // Port 1 (tcpmux) is outside the ephemeral range, so no other test's
    // port-0 listener can take it over while this one runs (a port freed
    // by dropping a listener can be handed to a parallel test at once).
    let r = run("http://127.0.0.1:1/", &[]);
    assert!(r.summary.errors.connect > 0, "{:?}", r.summary.errors);
    assert_eq!(r.summary.requests, 0);
    assert_eq!(r.summary.errors.total(), r.summary.errors.connect);
    assert!(r.render().contains("connect"));
}

#[test]
fn a_close_mid_response_is_a_read_error() {
    let addr = server(|mut s| {
        if read_request(&mut s) {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a few bytes");
        }
    });
    let r = run(&format!("http://{addr}/"), &[]);
    assert!(r.summary.errors.read > 0, "{:?}", r.summary.errors);
    assert_eq!(r.summary.requests, 0);
}

#[test]
fn a_garbage_answer_is_a_parse_error() {
    let addr = server(|mut s| {
        while read_request(&mut s) {
            if s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").is_err() {
                return;
            }
        }
    });
    let r = run(&format!("http://{addr}/"), &[]);
    assert!(r.summary.errors.parse > 0, "{:?}", r.summary.errors);
    assert_eq!(r.summary.requests, 0);
}

#[test]
fn a_silent_server_gives_timeouts() {
    let addr = server(hold);
    let r = run(&format!("http://{addr}/"), &["--timeout", "100ms"]);
    assert!(r.summary.errors.timeout > 0, "{:?}", r.summary.errors);
    assert_eq!(r.summary.requests, 0);
}

#[test]
fn a_tls_handshake_against_plain_http_is_a_connect_error() {
    let addr = server(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        hold(s);
    });
    let r = run(&format!("https://{addr}/"), &["--insecure"]);
    assert!(r.summary.errors.connect > 0, "{:?}", r.summary.errors);
}

#[test]
fn chunked_and_close_delimited_responses_are_complete() {
    let addr = server(|mut s| {
        while read_request(&mut s) {
            let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n world\n\r\n0\r\n\r\n";
            if s.write_all(chunked).is_err() {
                return;
            }
        }
    });
    let r = run(&format!("http://{addr}/"), &[]);
    assert!(r.summary.requests > 0);
    assert_eq!(r.summary.errors.total(), 0, "{:?}", r.summary.errors);

    let addr = server(|mut s| {
        if read_request(&mut s) {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\nbody until close");
        }
    });
    let r = run(&format!("http://{addr}/"), &[]);
    assert!(r.summary.requests > 0);
    assert_eq!(r.summary.errors.total(), 0, "{:?}", r.summary.errors);
}

#[test]
fn status_classes_are_counted_as_errors_and_responses() {
    let addr = server(|mut s| {
        let mut n = 0u64;
        while read_request(&mut s) {
            n += 1;
            let answer: &[u8] = if n.is_multiple_of(2) {
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n"
            };
            if s.write_all(answer).is_err() {
                return;
            }
        }
    });
    let r = run(&format!("http://{addr}/"), &[]);
    let e = r.summary.errors;
    assert!(e.status_4xx > 0 && e.status_5xx > 0, "{e:?}");
    assert_eq!(r.summary.requests, e.status_4xx + e.status_5xx);
    assert_eq!(r.summary.status.s4xx, e.status_4xx);
}

#[test]
fn an_unreachable_listener_gives_timeouts_not_a_hang() {
    // A listener with the smallest backlog that never accepts: once its
    // queue is full the kernel drops further SYNs, as for an address that
    // does not answer. Connects and responses both run into --timeout.
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let opts = monoio::net::ListenerOpts::new().backlog(1);
            let l = monoio::net::TcpListener::bind_with_config("127.0.0.1:0", &opts).expect("bind");
            tx.send(l.local_addr().expect("addr")).expect("send addr");
            // Hold the listener, never accept.
            monoio::time::sleep(std::time::Duration::from_secs(3600)).await;
            drop(l);
        })
    });
    let addr = rx.recv().expect("listener address");
    let r = run(&format!("http://{addr}/"), &["--timeout", "150ms"]);
    assert!(r.summary.errors.timeout > 0, "{:?}", r.summary.errors);
    assert_eq!(r.summary.requests, 0);
}

#[test]
fn the_run_recovers_after_timeouts() {
    // The first connections get no answer (a stalled server); later ones
    // are served. After its timeout each connection reconnects and must
    // then see clean responses, not a trail of read errors.
    static SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let addr = server(|mut s| {
        if SEEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            return hold(s);
        }
        while read_request(&mut s) {
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").is_err() {
                return;
            }
        }
    });
    let r = run(&format!("http://{addr}/"), &["--timeout", "100ms"]);
    let e = r.summary.errors;
    assert!(e.timeout > 0, "{e:?}");
    assert!(r.summary.requests > 0);
    assert_eq!(e.read, 0, "{e:?}");
}
