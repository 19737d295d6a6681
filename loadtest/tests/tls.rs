//! HTTPS against a real rustls server on loopback: the run succeeds, and
//! `--no-tls-resume` turns every new connection into a full handshake.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use clap::Parser;
use ringress_loadtest::cli::{Cli, Command};
use ringress_loadtest::report::Report;
use rustls::{HandshakeKind, ServerConfig, ServerConnection, StreamOwned};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Default)]
struct Handshakes {
    full: AtomicU64,
    resumed: AtomicU64,
    /// Key-exchange groups the server negotiated, one per full handshake.
    groups: std::sync::Mutex<Vec<rustls::NamedGroup>>,
}

/// A TLS server answering one request per connection (`Connection: close`).
fn tls_server() -> (SocketAddr, Arc<Handshakes>) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key)
        .expect("server config");
    let config = Arc::new(config);
    let counts = Arc::new(Handshakes::default());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let c = counts.clone();
    thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, counts) = (config.clone(), c.clone());
            thread::spawn(move || {
                let Ok(conn) = ServerConnection::new(config) else { return };
                let mut tls = StreamOwned::new(conn, tcp);
                let mut head = Vec::new();
                let mut chunk = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                match tls.conn.handshake_kind() {
                    Some(HandshakeKind::Resumed) => counts.resumed.fetch_add(1, Ordering::SeqCst),
                    _ => {
                        if let Some(g) = tls.conn.negotiated_key_exchange_group() {
                            counts.groups.lock().unwrap().push(g.name());
                        }
                        counts.full.fetch_add(1, Ordering::SeqCst)
                    }
                };
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (addr, counts)
}

fn run(url: &str, extra: &[&str]) -> Report {
    let mut argv = vec!["ringress-load", "run", url, "-c", "2", "-d", "500ms", "-q", "--no-pin"];
    argv.extend_from_slice(extra);
    let Command::Run(args) = Cli::try_parse_from(argv).expect("valid flags").command else {
        unreachable!("parsed the run subcommand")
    };
    ringress_loadtest::run::execute(&args).expect("the run completes")
}

#[test]
fn https_requests_complete_and_sessions_resume_by_default() {
    let (addr, counts) = tls_server();
    let url = format!("https://localhost:{}/", addr.port());
    let r = run(&url, &["--insecure", "-H", "Connection: close"]);
    assert!(r.summary.requests > 1, "{:?}", r.summary);
    assert_eq!(r.summary.errors.total(), 0, "{:?}", r.summary.errors);
    assert!(counts.resumed.load(Ordering::SeqCst) > 0);
}

#[test]
fn no_tls_resume_makes_every_handshake_full() {
    let (addr, counts) = tls_server();
    let url = format!("https://localhost:{}/", addr.port());
    let r = run(&url, &["--insecure", "--no-tls-resume", "-H", "Connection: close"]);
    assert!(r.summary.requests > 1, "{:?}", r.summary);
    assert_eq!(r.summary.errors.total(), 0, "{:?}", r.summary.errors);
    assert_eq!(counts.resumed.load(Ordering::SeqCst), 0);
    assert!(counts.full.load(Ordering::SeqCst) > 1);
}

/// By default the client offers rustls's list, which starts with X25519;
/// `--tls-groups secp256r1` makes the key exchange ECDHE on P-256, and the
/// report records the choice.
#[test]
fn tls_groups_choose_the_key_exchange() {
    use rustls::NamedGroup;
    let (addr, counts) = tls_server();
    let url = format!("https://localhost:{}/", addr.port());
    let r = run(&url, &["--insecure", "--no-tls-resume", "-H", "Connection: close"]);
    assert_eq!(r.summary.errors.total(), 0, "{:?}", r.summary.errors);
    let groups = std::mem::take(&mut *counts.groups.lock().unwrap());
    assert!(!groups.is_empty());
    assert!(groups.iter().all(|g| *g == NamedGroup::X25519), "{groups:?}");
    assert!(r.config.as_ref().expect("config").tls_groups.is_empty());

    let r = run(
        &url,
        &["--insecure", "--no-tls-resume", "--tls-groups", "secp256r1", "-H", "Connection: close"],
    );
    assert_eq!(r.summary.errors.total(), 0, "{:?}", r.summary.errors);
    let groups = std::mem::take(&mut *counts.groups.lock().unwrap());
    assert!(!groups.is_empty());
    assert!(groups.iter().all(|g| *g == NamedGroup::secp256r1), "{groups:?}");
    assert_eq!(r.config.as_ref().expect("config").tls_groups, ["secp256r1"]);
}

#[test]
fn an_unknown_tls_group_is_a_usage_error() {
    let err = Cli::try_parse_from(["ringress-load", "run", "https://x/", "--tls-groups", "x448"])
        .expect_err("x448 is not offered");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("x448"), "{err}");
}

#[test]
fn verification_refuses_an_unknown_certificate() {
    let (addr, _) = tls_server();
    let url = format!("https://localhost:{}/", addr.port());
    // Verification on, trusting only an unrelated certificate.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let ca = std::env::temp_dir().join(format!("ringress-load-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, other.cert.pem()).expect("write CA file");
    let r = run(&url, &["--cacert", ca.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&ca);
    assert_eq!(r.summary.requests, 0);
    assert!(r.summary.errors.connect > 0, "{:?}", r.summary.errors);
}
