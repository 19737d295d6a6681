//! Certificate choice per handshake, from the live table.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use ringress_control::RouteTable;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Chooses the certificate for a ClientHello from the table published last:
/// SNI exact name, then wildcard (both [`RouteTable::certificate`]), then
/// [`RouteTable::default_certificate`], then the self-signed fallback.
///
/// It reads the shared cell with `load()` (no lock; a wait-free guard), so a
/// new or changed Secret is served from the next handshake on, and a
/// connection already established keeps the certificate it negotiated.
pub struct TableCertResolver {
    table: Arc<ArcSwap<RouteTable>>,
    fallback: Arc<CertifiedKey>,
}

impl TableCertResolver {
    pub fn new(table: Arc<ArcSwap<RouteTable>>, fallback: Arc<CertifiedKey>) -> Self {
        Self { table, fallback }
    }

    /// The choice for `sni` (the name as the client sent it, or `None`).
    pub fn choose(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        let table = self.table.load();
        sni.and_then(|name| table.certificate(name))
            .or_else(|| table.default_certificate())
            .map(|certificate| certificate.key.clone())
            .unwrap_or_else(|| self.fallback.clone())
    }
}

impl ResolvesServerCert for TableCertResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.choose(client_hello.server_name()))
    }
}

impl fmt::Debug for TableCertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("TableCertResolver").finish_non_exhaustive()
    }
}
