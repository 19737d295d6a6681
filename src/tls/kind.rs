//! The HTTPS listener's stream kind: a worker's accepted TCP connection
//! becomes a TLS stream after a bounded handshake.

use std::io;

use monoio::net::TcpStream;

use super::stream::TlsStream;
use super::TlsAcceptor;
use crate::stream::StreamKind;

/// Connections on the `--https` listener of one worker.
pub struct Https {
    acceptor: TlsAcceptor,
}

impl Https {
    pub fn new(acceptor: TlsAcceptor) -> Self {
        Self { acceptor }
    }
}

impl StreamKind for Https {
    type Stream = TlsStream<TcpStream>;

    fn is_https(&self) -> bool {
        true
    }

    async fn wrap(&self, tcp: TcpStream, early: &mut Vec<u8>) -> io::Result<Self::Stream> {
        // Counted by kind inside; the caller logs at debug level. Bytes
        // read after a PROXY header are the start of the ClientHello.
        let early = std::mem::take(early);
        self.acceptor.handshake_after(tcp, early).await.map_err(io::Error::other)
    }
}
