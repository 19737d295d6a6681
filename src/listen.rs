//! Listening sockets: one per worker per address, bound with
//! `SO_REUSEPORT` so the kernel spreads new connections over the workers
//! without a shared accept queue.
//!
//! A [`Listener`] is the first socket of such a group, bound (and
//! listening) before the workers exist, so that a caller can bind port 0,
//! learn the port and only then start ringress on it; [`Listener::group`]
//! adds one socket per further worker on the same address. [`Listeners`]
//! holds the three listeners of a `run` (http, https, admin).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use thiserror::Error;

/// Backlog of each listening socket.
const BACKLOG: i32 = 4096;

/// A listener that could not be bound, naming the address and which one.
#[derive(Debug, Error)]
#[error("cannot listen on {addr} ({what}): {source}")]
pub struct BindError {
    /// `http`, `https`, `admin`, …
    pub what: &'static str,
    /// The address asked for.
    pub addr: SocketAddr,
    pub source: io::Error,
}

impl From<BindError> for io::Error {
    fn from(e: BindError) -> Self {
        io::Error::new(e.source.kind(), e.to_string())
    }
}

/// The first `SO_REUSEPORT` socket of a data-plane listener, bound and
/// listening (connections queue on it until a worker accepts them).
#[derive(Debug)]
pub struct Listener {
    what: &'static str,
    socket: Socket,
    addr: SocketAddr,
}

impl Listener {
    /// Bind `addr` (`what` names it in errors: `http`, `https`). Port 0
    /// picks a free port, which [`Listener::local_addr`] then tells.
    pub fn bind(what: &'static str, addr: SocketAddr) -> Result<Listener, BindError> {
        let error = |source| BindError { what, addr, source };
        if addr.port() != 0 {
            ensure_free(addr).map_err(error)?;
        }
        let socket = bind_one(addr).map_err(error)?;
        let local = local_addr(&socket).map_err(error)?;
        Ok(Listener { what, socket, addr: local })
    }

    /// The address bound (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// This socket and `count - 1` more joined to its address, one per
    /// worker (at least this one).
    pub fn group(self, count: usize) -> Result<Vec<Socket>, BindError> {
        let Listener { what, socket, addr } = self;
        let mut sockets = Vec::with_capacity(count.max(1));
        sockets.push(socket);
        for _ in 1..count {
            sockets.push(bind_one(addr).map_err(|source| BindError { what, addr, source })?);
        }
        Ok(sockets)
    }
}

/// Where `ringress run` listens: plain HTTP, HTTPS (optional), admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddrs {
    pub http: SocketAddr,
    /// `None`: no HTTPS listener (TLS is not served).
    pub https: Option<SocketAddr>,
    pub admin: SocketAddr,
}

impl ListenAddrs {
    /// Every listener on a free loopback port (tests, examples).
    pub fn loopback() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self { http: any, https: Some(any), admin: any }
    }
}

/// The listeners of one `run`, bound before it starts: a test binds port 0
/// and reads the real addresses here before handing them over.
#[derive(Debug)]
pub struct Listeners {
    pub http: Listener,
    pub https: Option<Listener>,
    /// The admin server's (one socket; it runs on the control thread).
    pub admin: std::net::TcpListener,
}

impl Listeners {
    /// Bind every address of `addrs`; the first that fails is named.
    pub fn bind(addrs: &ListenAddrs) -> Result<Listeners, BindError> {
        let http = Listener::bind("http", addrs.http)?;
        let https = addrs.https.map(|a| Listener::bind("https", a)).transpose()?;
        let admin = std::net::TcpListener::bind(addrs.admin).map_err(|source| BindError {
            what: "admin",
            addr: addrs.admin,
            source,
        })?;
        Ok(Listeners { http, https, admin })
    }

    /// The addresses bound, real ports in place of port 0.
    pub fn local_addrs(&self) -> io::Result<ListenAddrs> {
        Ok(ListenAddrs {
            http: self.http.local_addr(),
            https: self.https.as_ref().map(Listener::local_addr),
            admin: self.admin.local_addr()?,
        })
    }
}

/// The IP address and port a socket is bound to.
pub fn local_addr(socket: &Socket) -> io::Result<SocketAddr> {
    socket.local_addr()?.as_socket().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "listener without an IP address")
    })
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
    probe.bind(&addr.into())
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

    /// A port another socket listens on is refused, not shared, and the
    /// error names the address and the listener.
    #[test]
    fn port_in_use_is_refused() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = Listener::bind("https", addr).unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::AddrInUse);
        assert!(
            err.to_string().starts_with(&format!("cannot listen on {addr} (https): ")),
            "{err}"
        );
    }

    /// Port 0 resolves once, at bind, and every worker's socket shares
    /// that port.
    #[test]
    fn port_zero_is_shared_by_all_sockets() {
        let listener = Listener::bind("http", "127.0.0.1:0".parse().unwrap()).unwrap();
        let port = listener.local_addr().port();
        assert_ne!(port, 0);
        let sockets = listener.group(3).unwrap();
        assert_eq!(sockets.len(), 3);
        let ports: Vec<u16> = sockets.iter().map(|s| local_addr(s).unwrap().port()).collect();
        assert_eq!(ports, [port; 3]);
    }

    /// Listeners bound on port 0 report their real, distinct addresses;
    /// a taken admin port is named as the admin listener's.
    #[test]
    fn listeners_report_real_addresses() {
        let listeners = Listeners::bind(&ListenAddrs::loopback()).unwrap();
        let addrs = listeners.local_addrs().unwrap();
        let https = addrs.https.expect("https listener");
        assert!([addrs.http.port(), https.port(), addrs.admin.port()].iter().all(|p| *p != 0));
        assert_ne!(addrs.http, https);
        let taken = ListenAddrs { admin: addrs.admin, ..ListenAddrs::loopback() };
        let err = Listeners::bind(&taken).unwrap_err();
        assert_eq!((err.what, err.addr), ("admin", addrs.admin), "{err}");
    }
}
