//! The certificate of last resort: self-signed, generated once at start.
//!
//! Served when the ClientHello carries no SNI or a name no Ingress lists,
//! and no `--default-certificate` Secret is configured or valid.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::TlsSetupError;

/// The name in the self-signed certificate. `.invalid` never resolves
/// (RFC 6761), so no client can mistake it for a real host.
pub const SELF_SIGNED_NAME: &str = "ringress-default.invalid";

/// Generate an ECDSA P-256 self-signed certificate for
/// [`SELF_SIGNED_NAME`], with its key loaded by `provider`.
pub fn self_signed(provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, TlsSetupError> {
    let generated = rcgen::generate_simple_self_signed(vec![SELF_SIGNED_NAME.to_string()])?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
    let key = provider.key_provider.load_private_key(der).map_err(TlsSetupError::Key)?;
    Ok(Arc::new(CertifiedKey::new(vec![generated.cert.der().clone()], key)))
}
