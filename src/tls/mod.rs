//! TLS termination: one rustls configuration per process, cloned per worker.
//!
//! # Layout
//!
//! - [`resolver`]: picks the certificate for a ClientHello from the live
//!   `RouteTable`: SNI exact, then wildcard,
//!   then the table's default certificate, then the self-signed fallback.
//! - [`default_cert`]: the self-signed fallback generated once at start.
//! - [`tickets`]: the session-ticket key shared by every worker and rotated.
//! - [`accept`]: the handshake with its deadline, and the failure counters
//!   by kind.
//! - [`stream`]: the TLS stream itself, over rustls, safe to cancel.
//! - [`kind`]: the `--https` listener's [`StreamKind`](crate::stream::StreamKind).
//!
//! # Sharing
//!
//! [`ServerTls::new`] builds the process-wide part once: the certificate
//! resolver (which reads the table cell, so a new Secret is served from the
//! next handshake on), the ticketer (so a ticket issued by one worker is
//! accepted by every other) and the protocol settings. [`ServerTls::for_worker`]
//! clones it into a worker's own `ServerConfig` with its own session cache,
//! so session-ID resumption never takes a lock another core holds.
//!
//! Keys are parsed on the control thread when a table is compiled; nothing
//! here parses key material per handshake, and nothing logs it.

pub mod accept;
pub mod default_cert;
pub mod kind;
pub mod resolver;
#[allow(unsafe_code)] // copies into and out of monoio's owned buffers by pointer
pub mod stream;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use ringress_control::RouteTable;
use rustls::crypto::aws_lc_rs as crypto;
use rustls::crypto::CryptoProvider;
use rustls::server::ServerSessionMemoryCache;
use rustls::ServerConfig;

use crate::metrics::Metrics;
use crate::stream::KindFactory;

pub use accept::{FailureKind, HandshakeError, HandshakeFailures, TlsAcceptor};
pub use default_cert::self_signed;
pub use kind::Https;
pub use resolver::TableCertResolver;
pub use stream::TlsStream;

/// Default for `--tls-handshake-timeout`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Sessions each worker remembers for session-ID resumption (TLS 1.2
/// clients without ticket support). Tickets carry the rest.
pub const SESSION_CACHE_PER_WORKER: usize = 4096;

/// The only application protocol offered: the data plane speaks HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider the data plane uses (see docs/benchmarks.md, "TLS",
/// for why this one).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::default_provider())
}

/// Why TLS could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot generate the self-signed default certificate: {0}")]
    SelfSigned(#[from] rcgen::Error),
    #[error("cannot load the self-signed default certificate's key: {0}")]
    Key(rustls::Error),
    #[error("cannot create the session ticket key: {0}")]
    Ticketer(rustls::Error),
    #[error("cannot build the TLS configuration: {0}")]
    Config(rustls::Error),
}

/// The process-wide TLS state, built once at start and shared by workers.
#[derive(Clone)]
pub struct ServerTls {
    base: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

impl ServerTls {
    /// Build from the live table cell. `handshake_timeout` is
    /// `--tls-handshake-timeout`.
    pub fn new(
        table: Arc<ArcSwap<RouteTable>>,
        handshake_timeout: Duration,
    ) -> Result<Self, TlsSetupError> {
        let provider = provider();
        let fallback = self_signed(&provider)?;
        let resolver = Arc::new(TableCertResolver::new(table, fallback));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsSetupError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        config.ticketer = tickets::shared_ticketer()?;
        // Never leak key material into a file, whatever the environment says.
        config.key_log = Arc::new(rustls::NoKeyLog {});
        Ok(Self { base: Arc::new(config), handshake_timeout })
    }

    /// A worker's own configuration: the shared resolver and ticketer, its
    /// own session cache.
    pub fn for_worker(&self) -> Arc<ServerConfig> {
        let mut config = (*self.base).clone();
        config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_PER_WORKER);
        Arc::new(config)
    }

    /// A worker's acceptor, counting failures into `failures` (the worker's
    /// own counters).
    pub fn acceptor(&self, failures: Arc<HandshakeFailures>) -> TlsAcceptor {
        TlsAcceptor::new(self.for_worker(), self.handshake_timeout, failures)
    }

    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// What the workers need to build their `--https` listener's kind:
    /// worker `i` gets its own configuration and counts its handshake
    /// failures into `metrics.tls_failures[i]`.
    pub fn https_factory(self, metrics: Arc<Metrics>) -> KindFactory<Https> {
        Arc::new(move |i, _table| Https::new(self.acceptor(metrics.tls_failures[i].clone())))
    }
}
