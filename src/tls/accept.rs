//! The TLS handshake on an accepted connection: bounded in time, every
//! failure closed, classified and counted.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRent, Split};
use rustls::ServerConfig;

use super::stream::TlsStream;
pub use crate::metrics::{FailureKind, HandshakeFailures};

/// Classify an error returned by the handshake: a rustls error carried
/// inside the I/O error, or the socket's own.
pub fn classify(error: &io::Error) -> FailureKind {
    if let Some(inner) = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return classify_rustls(inner);
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => FailureKind::Aborted,
        _ => FailureKind::Other,
    }
}

fn classify_rustls(error: &rustls::Error) -> FailureKind {
    use rustls::Error as E;
    match error {
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. }
        | E::PeerMisbehaved(_)
        | E::DecryptError => FailureKind::BadClientHello,
        E::PeerIncompatible(_) | E::NoApplicationProtocol => FailureKind::Incompatible,
        E::AlertReceived(_) => FailureKind::Alert,
        _ => FailureKind::Other,
    }
}

/// A failed handshake: its kind, and the error behind it (for a debug log).
#[derive(Debug, thiserror::Error)]
#[error("TLS handshake failed ({}): {source}", kind.label())]
pub struct HandshakeError {
    pub kind: FailureKind,
    #[source]
    pub source: io::Error,
}

/// A worker's acceptor: its own `ServerConfig` (shared resolver and
/// ticketer, own session cache), the deadline and its counters.
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    timeout: Duration,
    failures: Arc<HandshakeFailures>,
}

impl TlsAcceptor {
    pub fn new(
        config: Arc<ServerConfig>,
        timeout: Duration,
        failures: Arc<HandshakeFailures>,
    ) -> Self {
        Self { config, timeout, failures }
    }

    /// The counters this acceptor writes.
    pub fn failures(&self) -> &Arc<HandshakeFailures> {
        &self.failures
    }

    /// Run the server handshake on `io` within the deadline. On failure the
    /// stream is dropped (the connection closes), the failure is counted by
    /// kind and returned for the caller to log at debug level.
    pub async fn handshake<IO>(&self, io: IO) -> Result<TlsStream<IO>, HandshakeError>
    where
        IO: AsyncReadRent + AsyncWriteRent + Split,
    {
        self.handshake_after(io, Vec::new()).await
    }

    /// [`TlsAcceptor::handshake`] on a connection whose first bytes,
    /// `early`, were already read from `io` (what followed a PROXY
    /// protocol header): they are the start of the ClientHello.
    pub async fn handshake_after<IO>(
        &self,
        io: IO,
        early: Vec<u8>,
    ) -> Result<TlsStream<IO>, HandshakeError>
    where
        IO: AsyncReadRent + AsyncWriteRent + Split,
    {
        let accept = TlsStream::accept_after(self.config.clone(), io, early);
        let result = match monoio::time::timeout(self.timeout, accept).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(error)) => HandshakeError { kind: classify(&error), source: error },
            Err(_elapsed) => HandshakeError {
                kind: FailureKind::Timeout,
                source: io::Error::new(io::ErrorKind::TimedOut, "TLS handshake deadline passed"),
            },
        };
        self.failures.record(result.kind);
        Err(result)
    }
}
