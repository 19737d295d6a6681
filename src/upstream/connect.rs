//! Opening an upstream connection.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use monoio::net::TcpStream;

/// Connect to `addr` within `deadline`, with `TCP_NODELAY` set. A timeout
/// comes back as `io::ErrorKind::TimedOut`.
pub async fn connect(addr: SocketAddr, deadline: Duration) -> io::Result<TcpStream> {
    let stream = match monoio::time::timeout(deadline, TcpStream::connect_addr(addr)).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "upstream connect timed out"))
        }
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}
