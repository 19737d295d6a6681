//! The client `provider::kube::connect` builds from a kubeconfig: it lists
//! and watches over http and over https (a TLS front on loopback, checked
//! against the kubeconfig's CA), and its connections have TCP keepalive,
//! seen from the kernel's side: an established socket with keepalive on
//! has its keepalive timer pending (`/proc/net/tcp`, timer kind 2); kube's
//! own stack, for contrast, has none.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use ringress_control::provider::kube::connect;
use ringress_test_apiserver::ApiServer;
use ringress_test_support::fixtures::service;
use ringress_test_support::kube::{client as kube_own_client, eventually, DEADLINE};
use tokio::net::{TcpListener, TcpStream};

/// The established IPv4 sockets whose peer is `port` on loopback, each
/// with whether its keepalive timer is pending.
fn client_sockets_to(port: u16) -> Vec<bool> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let peer = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl, local, remote, state, tx:rx, timer:when, ...
            (f.len() > 5 && f[2] == peer && f[3] == "01").then(|| f[5].starts_with("02:"))
        })
        .collect()
}

type Watch = futures::stream::BoxStream<'static, kube::Result<WatchEvent<Service>>>;

/// List the Services, open a watch from there, add one: the watch sees it.
/// Returns the watch, still open (its connection idle).
async fn list_and_watch(client: kube::Client, server: &ApiServer) -> Watch {
    let api: Api<Service> = Api::namespaced(client, "web");
    let listed = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    let version = listed.metadata.resource_version.expect("a list resourceVersion");
    let mut events =
        api.watch(&WatchParams::default().timeout(30), &version).await.expect("watch").boxed();
    server.apply(&service("web", "second"));
    let event = tokio::time::timeout(DEADLINE, events.try_next()).await.expect("a watch event");
    match event.expect("watch stream") {
        Some(WatchEvent::Added(s)) => assert_eq!(s.metadata.name.as_deref(), Some("second")),
        other => panic!("expected the added Service, got {other:?}"),
    }
    events
}

async fn keepalive_on_connections_to(port: u16) {
    eventually("a client connection with keepalive", || {
        client_sockets_to(port).iter().any(|&keepalive| keepalive)
    })
    .await;
}

#[tokio::test]
async fn over_http_it_lists_and_watches_with_keepalive_on() {
    let server = ApiServer::start().await.unwrap();
    server.apply(&service("web", "first"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, "t").unwrap();
    let client = connect(Some(&path)).await.expect("client");
    let _watch = list_and_watch(client, &server).await;
    keepalive_on_connections_to(server.addr().port()).await;

    // kube's own stack on another server: connected, no keepalive timer.
    let other = ApiServer::start().await.unwrap();
    let plain: Api<Service> = Api::all(kube_own_client(&other, "t").await);
    plain.list(&ListParams::default()).await.expect("list");
    let sockets = client_sockets_to(other.addr().port());
    assert!(!sockets.is_empty(), "the pooled connection is open");
    assert!(sockets.iter().all(|&keepalive| !keepalive), "{sockets:?}");
}

/// A TLS front for `upstream` with a certificate for 127.0.0.1; returns
/// its address and the CA certificate (PEM) that signed it.
async fn tls_front(upstream: SocketAddr) -> (SocketAddr, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = TcpStream::connect(upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (addr, ca.pem())
}

fn write_tls_kubeconfig(path: &Path, front: SocketAddr, ca_pem: &str) {
    let ca_path = path.with_file_name("ca.pem");
    std::fs::write(&ca_path, ca_pem).unwrap();
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: tls\n  cluster:\n    server: https://{front}\n    \
         certificate-authority: {ca}\n\
         users:\n- name: t\n  user:\n    token: t\n\
         contexts:\n- name: tls\n  context:\n    cluster: tls\n    user: t\n\
         current-context: tls\n",
        ca = ca_path.display()
    );
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn over_https_it_verifies_the_server_lists_and_watches_with_keepalive_on() {
    let server = ApiServer::start().await.unwrap();
    server.apply(&service("web", "first"));
    let (front, ca_pem) = tls_front(server.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    write_tls_kubeconfig(&path, front, &ca_pem);
    let client = connect(Some(&path)).await.expect("client");
    let _watch = list_and_watch(client, &server).await;
    keepalive_on_connections_to(front.port()).await;
    assert!(server.requests().iter().all(|r| r.user.as_deref() == Some("t")), "the token is sent");

    // Another CA: the server is refused.
    let (_, other_ca) = tls_front(server.addr()).await;
    write_tls_kubeconfig(&path, front, &other_ca);
    let client = connect(Some(&path)).await.expect("client");
    let api: Api<Service> = Api::all(client);
    assert!(api.list(&ListParams::default()).await.is_err());
}
