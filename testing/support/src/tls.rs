//! For the TLS tests: an echo worker running the real acceptor under
//! either io engine, rustls clients on std sockets, and certificates
//! generated per test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::DEADLINE;

use monoio::buf::IoBuf;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use ringress::tls::{HandshakeFailures, ServerTls};
use ringress::worker::IoEngine;
use ringress_control::Publisher;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, StreamOwned};

/// Run the future `serve()` makes on a new thread with a runtime of the
/// given engine.
pub fn spawn_runtime<M, F>(engine: IoEngine, serve: M)
where
    M: FnOnce() -> F + Send + 'static,
    F: std::future::Future<Output = ()> + 'static,
{
    std::thread::spawn(move || match engine {
        IoEngine::IoUring => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .build()
            .expect("io_uring runtime")
            .block_on(serve()),
        IoEngine::Epoll => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("epoll runtime")
            .block_on(serve()),
        IoEngine::Auto => panic!("a test names the engine it runs"),
    });
}

/// One echo worker: accepts, handshakes, answers every read with the same
/// bytes. Returns its address and its failure counters.
pub fn start_worker(engine: IoEngine, tls: ServerTls) -> (SocketAddr, Arc<HandshakeFailures>) {
    let failures = Arc::new(HandshakeFailures::new());
    let acceptor = tls.acceptor(failures.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    spawn_runtime(engine, move || async move {
        let listener = monoio::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        tx.send(listener.local_addr().expect("local addr")).expect("send addr");
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            monoio::spawn(async move {
                let Ok(mut tls) = acceptor.handshake(stream).await else { return };
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let (res, b) = tls.read(buf).await;
                    buf = b;
                    let n = match res {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let (res, b) = tls.write_all(buf.slice(0..n)).await;
                    buf = b.into_inner();
                    if res.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (rx.recv_timeout(DEADLINE).expect("worker started"), failures)
}

/// A publisher (with the empty table) and the TLS state reading it.
pub fn server_tls(timeout: Duration) -> (Publisher, ServerTls) {
    let publisher = Publisher::new();
    let tls = ServerTls::new(publisher.handle().cell().clone(), timeout).expect("tls setup");
    (publisher, tls)
}

/// Accepts any certificate: for tests about the handshake, not trust.
#[derive(Debug)]
pub struct AcceptAnything;

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        client_provider().signature_verification_algorithms.supported_schemes()
    }
}

pub fn client_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A client that trusts anything, offering `versions` and ALPN http/1.1.
pub fn client_config(versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(client_provider())
        .with_protocol_versions(versions)
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A client that trusts only `ca` and checks the name.
pub fn verifying_client(ca: &CertificateDer<'static>) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("ca");
    Arc::new(
        ClientConfig::builder_with_provider(client_provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

pub fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    stream.set_write_timeout(Some(DEADLINE)).expect("write timeout");
    stream
}

pub type ClientStream = StreamOwned<ClientConnection, TcpStream>;

/// Connect and complete the handshake. `sni` is a DNS name, or an IP
/// literal (then no SNI is sent).
pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>, sni: &str) -> ClientStream {
    let name = ServerName::try_from(sni.to_string()).expect("name");
    let conn = ClientConnection::new(config.clone(), name).expect("client");
    let mut tls = StreamOwned::new(conn, tcp(addr));
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).expect("handshake");
    }
    tls
}

/// Send one line and read it back.
pub fn ping(tls: &mut ClientStream, line: &[u8]) {
    tls.write_all(line).expect("write");
    let mut back = vec![0u8; line.len()];
    tls.read_exact(&mut back).expect("echo");
    assert_eq!(back, line);
}

/// Handshake, one echo; returns the client connection for inspection.
pub fn echo(addr: SocketAddr, config: &Arc<ClientConfig>, sni: &str) -> ClientConnection {
    let mut tls = connect(addr, config, sni);
    ping(&mut tls, b"ping\n");
    tls.conn
}

/// The leaf certificate the server presented.
pub fn served_leaf(conn: &ClientConnection) -> CertificateDer<'static> {
    conn.peer_certificates().expect("server certificate")[0].clone().into_owned()
}

/// A test CA and leaf certificates it signs.
pub struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A leaf certificate with its key, as PEM (for a Secret) and DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl Default for Ca {
    fn default() -> Self {
        Self::new()
    }
}

impl Ca {
    pub fn new() -> Self {
        let key = rcgen::KeyPair::generate().expect("ca key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "ringress test CA");
        let cert = params.self_signed(&key).expect("ca cert");
        Self { cert, key }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    pub fn leaf(&self, names: &[&str]) -> Leaf {
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = rcgen::CertificateParams::new(names).expect("leaf params");
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("leaf cert");
        Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().clone() }
    }
}

/// A `kubernetes.io/tls` Secret in namespace `default` holding `leaf`.
pub fn secret(name: &str, leaf: &Leaf) -> String {
    crate::manifests::tls_secret(name, &leaf.cert_pem, &leaf.key_pem)
}
