//! The contract of a downstream stream: what the request phases need from
//! plain TCP and from TLS alike.
//!
//! Below `conn`, `worker` and `tls`, so each of them can name it without
//! importing another.

use std::future::Future;
use std::io;
use std::sync::Arc;

use monoio::io::{AsyncReadRent, AsyncWriteRent, OwnedReadHalf, OwnedWriteHalf, Splitable};
use monoio::net::TcpStream;
use ringress_control::TableHandle;

/// A stream the proxy reads requests from and writes responses to, which
/// can be cut into a read half and a write half for a tunnel (WebSocket),
/// each driven by its own future.
///
/// # Cancellation
///
/// Every stream here keeps one promise: an operation whose future is
/// dropped before it finished (a timeout, a `select!` that chose another
/// branch) never makes a later call panic. Whether a later call can still
/// succeed depends on the stream: see `docs/architecture.md`, "Timeouts and
/// cancelled I/O".
pub trait DownstreamStream: AsyncReadRent + AsyncWriteRent + 'static {
    type Read: AsyncReadRent + 'static;
    type Write: AsyncWriteRent + 'static;

    /// The two halves, to be driven concurrently.
    fn into_halves(self) -> (Self::Read, Self::Write);

    /// The connection is about to wait, idle, for its next request: give
    /// back the large buffers the stream holds (see [`crate::buffers`]).
    fn release_idle(&mut self) {}

    /// The SNI name the client's ClientHello sent (TLS only).
    fn server_name(&self) -> Option<Box<str>> {
        None
    }
}

impl DownstreamStream for TcpStream {
    type Read = OwnedReadHalf<TcpStream>;
    type Write = OwnedWriteHalf<TcpStream>;

    fn into_halves(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

/// How accepted TCP connections become the stream the proxy speaks HTTP
/// over: plain TCP here; TLS plugs in as another kind.
pub trait StreamKind: 'static {
    type Stream: DownstreamStream;
    /// Whether requests on this listener arrived over TLS
    /// (`X-Forwarded-Proto: https`).
    fn is_https(&self) -> bool;
    /// Turn an accepted connection into the stream (e.g. a TLS handshake).
    fn wrap(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Stream>>;
}

/// Plain-text HTTP.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl StreamKind for Plain {
    type Stream = TcpStream;
    fn is_https(&self) -> bool {
        false
    }
    async fn wrap(&self, tcp: TcpStream) -> io::Result<TcpStream> {
        Ok(tcp)
    }
}

/// Builds the HTTPS stream kind for worker `index` (called on that worker's
/// thread, so the kind need not be `Send`).
pub type KindFactory<K> = Arc<dyn Fn(usize, &TableHandle) -> K + Send + Sync>;
