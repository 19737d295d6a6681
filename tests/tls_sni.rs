//! Certificate choice by SNI from the live table, and rotation without a
//! restart. Real tables compiled from inline manifests with certificates
//! generated per test; echo workers running the real acceptor under both
//! io engines; rustls clients on std sockets.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Duration;

use ringress::tls::default_cert::SELF_SIGNED_NAME;
use ringress::worker::IoEngine;
use ringress_control::{CompileOptions, RouteTable};
use ringress_test_support::manifests::tls_ingress;
use ringress_test_support::tls::{
    client_config, connect, echo, ping, secret, served_leaf, server_tls, start_worker,
    verifying_client, Ca,
};
use ringress_test_support::{engines, yaml};

const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Compile manifests; any diagnostic of severity error fails the test.
fn table(yaml: &str, options: &CompileOptions) -> RouteTable {
    let (table, diagnostics) = ringress_control::compile_yaml(yaml, options);
    let errors: Vec<_> =
        diagnostics.iter().filter(|d| d.severity == ringress_control::Severity::Error).collect();
    assert!(errors.is_empty(), "manifest errors: {errors:?}");
    table
}

fn with_default_certificate() -> CompileOptions {
    CompileOptions {
        default_certificate: Some(("default".to_string(), "fallback".to_string())),
        ..CompileOptions::default()
    }
}

/// `spec.tls[].hosts` exact name: the client asking for it by SNI gets the
/// certificate of that Ingress's Secret, and it verifies against the CA.
fn exact_sni_gets_its_secret_certificate(engine: IoEngine) {
    let ca = Ca::new();
    let a = ca.leaf(&["a.example"]);
    let b = ca.leaf(&["b.example"]);
    let (mut publisher, tls) = server_tls(Duration::from_secs(10));
    let yaml = yaml(&[
        secret("a-tls", &a),
        secret("b-tls", &b),
        tls_ingress("a", "a.example", "a-tls", &[]),
        tls_ingress("b", "b.example", "b-tls", &[]),
    ]);
    publisher.publish(table(&yaml, &CompileOptions::default()));
    let (addr, _) = start_worker(engine, tls);

    let verifying = verifying_client(&ca.der());
    assert_eq!(served_leaf(&echo(addr, &verifying, "a.example")), a.der);
    assert_eq!(served_leaf(&echo(addr, &verifying, "b.example")), b.der);
    // SNI is case-insensitive.
    assert_eq!(served_leaf(&echo(addr, &client_config(TLS13), "A.Example")), a.der);
}

/// A `*.wild.example` tls host covers exactly one label; an exact name
/// beats the wildcard.
fn wildcard_sni_covers_one_label(engine: IoEngine) {
    let ca = Ca::new();
    let wild = ca.leaf(&["*.wild.example"]);
    let exact = ca.leaf(&["x.wild.example"]);
    let (mut publisher, tls) = server_tls(Duration::from_secs(10));
    let yaml = yaml(&[
        secret("wild-tls", &wild),
        secret("exact-tls", &exact),
        tls_ingress("wild", "*.wild.example", "wild-tls", &[]),
        tls_ingress("exact", "x.wild.example", "exact-tls", &[]),
    ]);
    publisher.publish(table(&yaml, &CompileOptions::default()));
    let (addr, _) = start_worker(engine, tls);

    let verifying = verifying_client(&ca.der());
    assert_eq!(served_leaf(&echo(addr, &verifying, "y.wild.example")), wild.der);
    assert_eq!(served_leaf(&echo(addr, &verifying, "x.wild.example")), exact.der);
    let any = client_config(TLS13);
    let two_labels = served_leaf(&echo(addr, &any, "a.b.wild.example"));
    assert_ne!(two_labels, wild.der, "a wildcard covers one label only");
    assert_ne!(served_leaf(&echo(addr, &any, "wild.example")), wild.der);
}

/// An unknown name, or no SNI at all, gets `--default-certificate`.
fn unknown_or_missing_sni_gets_the_default_certificate(engine: IoEngine) {
    let ca = Ca::new();
    let a = ca.leaf(&["a.example"]);
    let fallback = ca.leaf(&["fallback.example"]);
    let (mut publisher, tls) = server_tls(Duration::from_secs(10));
    let yaml = yaml(&[
        secret("a-tls", &a),
        secret("fallback", &fallback),
        tls_ingress("a", "a.example", "a-tls", &[]),
    ]);
    publisher.publish(table(&yaml, &with_default_certificate()));
    let (addr, _) = start_worker(engine, tls);

    let any = client_config(TLS13);
    assert_eq!(served_leaf(&echo(addr, &any, "unknown.example")), fallback.der);
    // An IP literal as server name: rustls sends no SNI.
    assert_eq!(served_leaf(&echo(addr, &any, "127.0.0.1")), fallback.der);
    assert_eq!(served_leaf(&echo(addr, &any, "a.example")), a.der);
}

/// With no `--default-certificate`, the self-signed certificate generated
/// at start is served for unknown names and missing SNI.
fn without_default_certificate_the_self_signed_one_is_served(engine: IoEngine) {
    let ca = Ca::new();
    let a = ca.leaf(&["a.example"]);
    let (mut publisher, tls) = server_tls(Duration::from_secs(10));
    let yaml = yaml(&[secret("a-tls", &a), tls_ingress("a", "a.example", "a-tls", &[])]);
    publisher.publish(table(&yaml, &CompileOptions::default()));
    let (addr, _) = start_worker(engine, tls);

    let any = client_config(TLS13);
    let unknown = served_leaf(&echo(addr, &any, "unknown.example"));
    let no_sni = served_leaf(&echo(addr, &any, "127.0.0.1"));
    assert_eq!(unknown, no_sni, "one self-signed certificate, generated once");
    // It is for the reserved name, and it is not a Secret's certificate.
    let needle = SELF_SIGNED_NAME.as_bytes();
    assert!(unknown.as_ref().windows(needle.len()).any(|w| w == needle));
    assert_ne!(unknown, a.der);
}

/// A changed Secret is served from the next handshake on, with no restart;
/// a connection made before the change keeps working.
fn changed_secret_is_served_from_the_next_handshake(engine: IoEngine) {
    let ca = Ca::new();
    let old = ca.leaf(&["a.example"]);
    let new = ca.leaf(&["a.example"]);
    let (mut publisher, tls) = server_tls(Duration::from_secs(10));
    let manifests =
        |leaf| yaml(&[secret("a-tls", leaf), tls_ingress("a", "a.example", "a-tls", &[])]);
    publisher.publish(table(&manifests(&old), &CompileOptions::default()));
    let (addr, _) = start_worker(engine, tls);
    let verifying = verifying_client(&ca.der());

    let mut before = connect(addr, &verifying, "a.example");
    ping(&mut before, b"before\n");
    assert_eq!(served_leaf(&before.conn), old.der);

    publisher.publish(table(&manifests(&new), &CompileOptions::default()));
    // A fresh client (no session to resume: a resumed session keeps the
    // certificate of its first handshake) gets the new certificate.
    assert_eq!(served_leaf(&echo(addr, &verifying_client(&ca.der()), "a.example")), new.der);
    // The old connection is not dropped.
    ping(&mut before, b"still here\n");

    // A new host added by a new Ingress and Secret is served too.
    let b = ca.leaf(&["b.example"]);
    let yaml = [manifests(&new), secret("b-tls", &b), tls_ingress("b", "b.example", "b-tls", &[])]
        .join("\n---\n");
    publisher.publish(table(&yaml, &CompileOptions::default()));
    assert_eq!(served_leaf(&echo(addr, &verifying, "b.example")), b.der);
}

engines!(
    exact_sni_gets_its_secret_certificate,
    wildcard_sni_covers_one_label,
    unknown_or_missing_sni_gets_the_default_certificate,
    without_default_certificate_the_self_signed_one_is_served,
    changed_secret_is_served_from_the_next_handshake,
);
