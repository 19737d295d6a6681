//! The client-side rustls configuration: the system CA bundle (or
//! `--cacert`), or no verification at all with `--insecure` (handshake
//! signatures are still checked, so the TLS work is the real one), and the
//! key-exchange groups offered (`--tls-groups`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{aws_lc_rs, CryptoProvider, SupportedKxGroup};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use thiserror::Error;

use crate::cli::KxGroup;

/// Where the CA bundle is looked for when `--cacert` is not given.
const SYSTEM_BUNDLES: [&str; 3] =
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

#[derive(Debug, Error)]
pub enum TlsSetupError {
    #[error("CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("no CA bundle found (tried {SYSTEM_BUNDLES:?}); pass --cacert FILE or --insecure")]
    NoBundle,
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("server name {0:?} is not a valid DNS name or IP address")]
    ServerName(String),
}

/// The rustls client configuration for a run.
pub fn client_config(
    insecure: bool,
    cacert: Option<&Path>,
    resume: bool,
    groups: &[KxGroup],
) -> Result<ClientConfig, TlsSetupError> {
    let mut provider = aws_lc_rs::default_provider();
    if !groups.is_empty() {
        provider.kx_groups = groups.iter().map(|g| kx_group(*g)).collect();
    }
    let provider = Arc::new(provider);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        let path = match cacert {
            Some(p) => p.to_path_buf(),
            None => std::env::var_os("SSL_CERT_FILE")
                .map(PathBuf::from)
                .or_else(|| SYSTEM_BUNDLES.iter().map(PathBuf::from).find(|p| p.exists()))
                .ok_or(TlsSetupError::NoBundle)?,
        };
        builder.with_root_certificates(load_roots(&path)?).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(config)
}

fn kx_group(group: KxGroup) -> &'static dyn SupportedKxGroup {
    use aws_lc_rs::kx_group;
    match group {
        KxGroup::X25519 => kx_group::X25519,
        KxGroup::Secp256r1 => kx_group::SECP256R1,
        KxGroup::Secp384r1 => kx_group::SECP384R1,
        KxGroup::X25519mlkem768 => kx_group::X25519MLKEM768,
    }
}

/// The name sent in SNI (none for an IP address) and verified.
pub fn server_name(name: &str) -> Result<ServerName<'static>, TlsSetupError> {
    ServerName::try_from(name.to_string()).map_err(|_| TlsSetupError::ServerName(name.to_string()))
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let err = |reason: String| TlsSetupError::CaFile { path: path.to_path_buf(), reason };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))? {
        let cert = cert.map_err(|e| err(e.to_string()))?;
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    Ok(roots)
}

/// `--insecure`: any certificate is accepted; signatures are verified.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
