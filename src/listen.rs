//! Listening sockets: one per worker per address, bound with
//! `SO_REUSEPORT` so the kernel spreads new connections over the workers
//! without a shared accept queue.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Backlog of each listening socket.
const BACKLOG: i32 = 4096;

/// Bind `count` sockets to `addr` with `SO_REUSEPORT`. When `addr` has port 0
/// the first socket picks the port and the others join it, so tests can ask
/// for any free port and still get one address for all workers.
pub fn bind_reuseport(addr: SocketAddr, count: usize) -> io::Result<Vec<Socket>> {
    if addr.port() != 0 {
        ensure_free(addr)?;
    }
    let mut sockets = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count.max(1) {
        let socket = bind_one(addr)?;
        if addr.port() == 0 {
            addr = socket.local_addr()?.as_socket().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "listener without an IP address")
            })?;
        }
        sockets.push(socket);
    }
    Ok(sockets)
}

/// `SO_REUSEPORT` would silently share a port with another process of the
/// same user (its connections spread over both); refuse a port already in
/// use by binding it once without the option.
fn ensure_free(addr: SocketAddr) -> io::Result<()> {
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    probe.set_reuse_address(true)?;
    if addr.is_ipv6() {
        probe.set_only_v6(true)?;
    }
    probe.bind(&addr.into()).map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}")))
}

fn bind_one(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nodelay(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Wake every accept waiting on `socket` (a duplicate of a worker's
/// listener): `shutdown(2)` on a listening socket makes pending and later
/// accepts fail, under io_uring and epoll alike.
pub fn stop_accepting(socket: &Socket) {
    // The error is ignored on purpose: a listener already closed by its
    // worker needs no waking.
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port another socket listens on is refused, not shared.
    #[test]
    fn port_in_use_is_refused() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind_reuseport(taken.local_addr().unwrap(), 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    /// Port 0 resolves once and every worker's socket shares that port.
    #[test]
    fn port_zero_is_shared_by_all_sockets() {
        let sockets = bind_reuseport("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let ports: Vec<u16> =
            sockets.iter().map(|s| s.local_addr().unwrap().as_socket().unwrap().port()).collect();
        assert_ne!(ports[0], 0);
        assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");
    }
}
