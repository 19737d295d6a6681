//! The handshake layer on its own: echo workers running the real acceptor
//! on loopback listeners (port 0), rustls clients on std sockets. Every case
//! runs under both io engines.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use ringress::tls::{FailureKind, HandshakeFailures};
use ringress::worker::IoEngine;
use ringress_test_support::tls::{client_config, echo, server_tls, start_worker, tcp};
use ringress_test_support::{engines, DEADLINE};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, HandshakeKind, StreamOwned};

/// Waits until the server closed the connection (EOF or reset).
fn assert_closed(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue, // an alert, then the close
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("expected the server to close, got {e}"),
        }
    }
}

/// Waits (bounded) until `kind` was counted `n` times.
fn wait_count(failures: &HandshakeFailures, kind: FailureKind, n: u64) {
    let start = std::time::Instant::now();
    while failures.get(kind) < n {
        assert!(start.elapsed() < DEADLINE, "{} never counted", kind.label());
        std::thread::yield_now();
    }
}

fn a_client_hello() -> Vec<u8> {
    let mut conn = ClientConnection::new(
        client_config(&[&rustls::version::TLS13]),
        ServerName::try_from("a.example").expect("name"),
    )
    .expect("client");
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).expect("hello");
    hello
}

fn alpn_is_http11_and_echo_works(engine: IoEngine) {
    let (_publisher, tls) = server_tls(Duration::from_secs(10));
    let (addr, _) = start_worker(engine, tls);
    for versions in [&[&rustls::version::TLS13][..], &[&rustls::version::TLS12][..]] {
        let conn = echo(addr, &client_config(versions), "anything.example");
        assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    }
}

fn garbage_instead_of_client_hello_is_closed_and_counted(engine: IoEngine) {
    let (_publisher, tls) = server_tls(Duration::from_secs(10));
    let (addr, failures) = start_worker(engine, tls);
    let mut stream = tcp(addr);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n").expect("write");
    assert_closed(stream);
    wait_count(&failures, FailureKind::BadClientHello, 1);
    // The worker is unharmed.
    echo(addr, &client_config(&[&rustls::version::TLS13]), "a.example");
}

fn handshake_aborted_half_way_is_counted(engine: IoEngine) {
    let (_publisher, tls) = server_tls(Duration::from_secs(10));
    let (addr, failures) = start_worker(engine, tls);
    let hello = a_client_hello();
    let mut stream = tcp(addr);
    stream.write_all(&hello[..hello.len() / 2]).expect("write");
    stream.shutdown(std::net::Shutdown::Write).expect("half close");
    assert_closed(stream);
    wait_count(&failures, FailureKind::Aborted, 1);
    echo(addr, &client_config(&[&rustls::version::TLS13]), "a.example");
}

fn stalled_handshake_times_out(engine: IoEngine) {
    let (_publisher, tls) = server_tls(Duration::from_millis(200));
    let (addr, failures) = start_worker(engine, tls);
    // A connection that is healthy while the other one stalls.
    let config = client_config(&[&rustls::version::TLS13]);
    let healthy =
        ClientConnection::new(config.clone(), ServerName::try_from("a.example").expect("name"))
            .expect("client");
    let mut healthy = StreamOwned::new(healthy, tcp(addr));
    healthy.write_all(b"one\n").expect("write");
    let mut line = [0u8; 4];
    healthy.read_exact(&mut line).expect("echo");

    let hello = a_client_hello();
    let mut stream = tcp(addr);
    stream.write_all(&hello[..hello.len() / 2]).expect("write");
    assert_closed(stream);
    wait_count(&failures, FailureKind::Timeout, 1);

    healthy.write_all(b"two\n").expect("write");
    healthy.read_exact(&mut line).expect("echo after the stall");
    assert_eq!(&line, b"two\n");
}

fn client_alert_is_counted(engine: IoEngine) {
    let (_publisher, tls) = server_tls(Duration::from_secs(10));
    let (addr, failures) = start_worker(engine, tls);
    // A client that trusts nothing rejects the certificate with an alert.
    let config = Arc::new(
        ClientConfig::builder_with_provider(ringress_test_support::tls::client_provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    );
    let conn = ClientConnection::new(config, ServerName::try_from("a.example").expect("name"))
        .expect("client");
    let mut tls = StreamOwned::new(conn, tcp(addr));
    let err = tls.write_all(b"ping\n").and_then(|_| tls.read(&mut [0u8; 8]));
    assert!(err.is_err(), "an untrusted certificate must fail the handshake");
    drop(tls);
    wait_count(&failures, FailureKind::Alert, 1);
    echo(addr, &client_config(&[&rustls::version::TLS13]), "a.example");
}

/// ALPN offers only `http/1.1`: a client insisting on another protocol is
/// refused and counted; one offering no ALPN is served.
fn alpn_without_http11_is_refused(engine: IoEngine) {
    let (_publisher, tls) = server_tls(Duration::from_secs(10));
    let (addr, failures) = start_worker(engine, tls);
    let mut h2_only = (*client_config(&[&rustls::version::TLS13])).clone();
    h2_only.alpn_protocols = vec![b"h2".to_vec()];
    let conn =
        ClientConnection::new(Arc::new(h2_only), ServerName::try_from("a.example").expect("name"))
            .expect("client");
    let mut tls = StreamOwned::new(conn, tcp(addr));
    assert!(tls.write_all(b"ping\n").and_then(|_| tls.read(&mut [0u8; 8])).is_err());
    wait_count(&failures, FailureKind::Incompatible, 1);

    let mut no_alpn = (*client_config(&[&rustls::version::TLS13])).clone();
    no_alpn.alpn_protocols.clear();
    let conn = echo(addr, &Arc::new(no_alpn), "a.example");
    assert_eq!(conn.alpn_protocol(), None);
}

/// A session from worker A resumes on worker B: the ticket key is shared.
fn resumption_across_workers(engine: IoEngine) {
    let (_publisher, tls) = server_tls(Duration::from_secs(10));
    let (a, _) = start_worker(engine, tls.clone());
    let (b, _) = start_worker(engine, tls);
    for versions in [&[&rustls::version::TLS13][..], &[&rustls::version::TLS12][..]] {
        let config = client_config(versions);
        let first = echo(a, &config, "a.example");
        assert_eq!(first.handshake_kind(), Some(HandshakeKind::Full));
        let second = echo(b, &config, "a.example");
        assert_eq!(
            second.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{versions:?}: a session from one worker must resume on another"
        );
    }
}

engines!(
    alpn_is_http11_and_echo_works,
    garbage_instead_of_client_hello_is_closed_and_counted,
    handshake_aborted_half_way_is_counted,
    stalled_handshake_times_out,
    client_alert_is_counted,
    alpn_without_http11_is_refused,
    resumption_across_workers,
);
