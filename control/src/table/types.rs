use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// `pathType` of an Ingress path. `ImplementationSpecific` is matched as
/// `Prefix` (documented in docs/configuration.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathType {
    Prefix,
    ImplementationSpecific,
    Exact,
}

/// Stable identity of a backend across table generations: the Service and
/// its port as the Ingress named it. Pools and balancer state in the data
/// plane are keyed by endpoint address, not by this.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendKey {
    pub namespace: Box<str>,
    pub service: Box<str>,
    /// The port as written in the Ingress: a number or a name.
    pub port: ServicePortRef,
    /// `service-upstream: "true"`: the one endpoint is the Service's
    /// ClusterIP and port, not its EndpointSlices' addresses.
    pub cluster_ip: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServicePortRef {
    Number(u16),
    Name(Box<str>),
}

impl fmt::Display for BackendKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.port {
            ServicePortRef::Number(n) => write!(f, "{}/{}:{}", self.namespace, self.service, n)?,
            ServicePortRef::Name(n) => write!(f, "{}/{}:{}", self.namespace, self.service, n)?,
        }
        if self.cluster_ip {
            f.write_str(" (ClusterIP)")?;
        }
        Ok(())
    }
}

/// One ready endpoint of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: SocketAddr,
}

/// A Service port resolved to its ready endpoints. Empty `endpoints` means
/// the data plane answers 503 (Service missing or nothing ready).
#[derive(Debug, Clone)]
pub struct Backend {
    pub key: BackendKey,
    pub endpoints: Arc<[Endpoint]>,
}

/// One Ingress path (or a `defaultBackend`) as the data plane sees it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The path as written in the rule (`/` for a default backend).
    pub path: Box<str>,
    pub path_type: PathType,
    pub backend: Arc<Backend>,
    /// Plain-HTTP requests on this route are answered with a 308 to https
    /// (host listed under `tls` and redirect not disabled by annotation).
    pub redirect_to_https: bool,
    /// This route is a `spec.defaultBackend` catch-all.
    pub is_default: bool,
    /// What the Ingress's annotations make of this route; `None` (the
    /// common case) costs the request path one pointer test.
    pub policy: Option<Arc<super::RoutePolicy>>,
    /// `namespace/name` of the Ingress that produced this route.
    pub ingress: Box<str>,
}

/// A TLS certificate parsed once on the control thread.
pub struct Certificate {
    pub key: Arc<rustls::sign::CertifiedKey>,
    /// SHA-256 of the leaf certificate's DER: a stable identity across tables.
    pub fingerprint: [u8; 32],
    /// The SNI names (exact or `*.` wildcard) this certificate is served for.
    pub names: Vec<Box<str>>,
    /// `namespace/name` of the Secret.
    pub source: Box<str>,
}

impl Certificate {
    /// Whether the leaf certificate is valid for the DNS name `host` (SAN
    /// names, `*.` wildcards one label deep), as a client verifies it. An
    /// unparsable leaf or name covers nothing.
    pub fn covers(&self, host: &str) -> bool {
        let Some(leaf) = self.key.cert.first() else {
            return false;
        };
        let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
            return false;
        };
        let Ok(name) = rustls_pki_types::ServerName::try_from(host) else {
            return false;
        };
        cert.verify_is_valid_for_subject_name(&name).is_ok()
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Certificate")
            .field("names", &self.names)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}
