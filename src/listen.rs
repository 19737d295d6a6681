//! Listening sockets: one per worker per address, bound with
//! `SO_REUSEPORT` so the kernel spreads new connections over the workers
//! without a shared accept queue.
//!
//! A [`Listener`] is the first socket of such a group, bound (and
//! listening) before the workers exist, so that a caller can bind port 0,
//! learn the port and only then start ringress on it; [`Listener::group`]
//! adds one socket per further worker on the same address. [`Listeners`]
//! holds the listeners of a `run` (http, https, admin, health).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use thiserror::Error;

/// Backlog of each listening socket.
const BACKLOG: i32 = 4096;

/// A listener that could not be bound, naming the address and which one.
#[derive(Debug, Error)]
#[error("cannot listen on {addr} ({what}): {source}")]
pub struct BindError {
    /// `http`, `https`, `admin`, `health`, …
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

/// Where `ringress run` listens: plain HTTP, HTTPS (optional), admin
/// (everything the admin server serves, `/routes` included) and health
/// (`/healthz`, `/readyz`, `/metrics` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddrs {
    pub http: SocketAddr,
    /// `None`: no HTTPS listener (TLS is not served).
    pub https: Option<SocketAddr>,
    pub admin: SocketAddr,
    pub health: SocketAddr,
}

impl ListenAddrs {
    /// Every listener on a free loopback port (tests, examples).
    pub fn loopback() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self { http: any, https: Some(any), admin: any, health: any }
    }
}

/// The listeners of one `run`, bound before it starts: a test binds port 0
/// and reads the real addresses here before handing them over.
#[derive(Debug)]
pub struct Listeners {
    pub http: Listener,
    pub https: Option<Listener>,
    /// The admin server's, every path (one socket; served on the admin
    /// server's own thread).
    pub admin: std::net::TcpListener,
    /// The health server's, probes and metrics only (same thread).
    pub health: std::net::TcpListener,
}

impl Listeners {
    /// Bind every address of `addrs`; the first that fails is named. The
    /// health listener may not share the admin listener's port on an
    /// overlapping address: probes would reach `/routes`.
    pub fn bind(addrs: &ListenAddrs) -> Result<Listeners, BindError> {
        let http = Listener::bind("http", addrs.http)?;
        let https = addrs.https.map(|a| Listener::bind("https", a)).transpose()?;
        let single = |what, addr: SocketAddr| {
            bind_single(addr).map_err(|source| BindError { what, addr, source })
        };
        if overlap(addrs.health, addrs.admin) {
            return Err(BindError {
                what: "health",
                addr: addrs.health,
                source: io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "the admin listener's port (--admin {}); the health listener \
                         needs a port of its own",
                        addrs.admin
                    ),
                ),
            });
        }
        let admin = single("admin", addrs.admin)?;
        let health = single("health", addrs.health)?;
        Ok(Listeners { http, https, admin, health })
    }

    /// The addresses bound, real ports in place of port 0.
    pub fn local_addrs(&self) -> io::Result<ListenAddrs> {
        Ok(ListenAddrs {
            http: self.http.local_addr(),
            https: self.https.as_ref().map(Listener::local_addr),
            admin: self.admin.local_addr()?,
            health: self.health.local_addr()?,
        })
    }
}

/// Two addresses with the same (non-zero) port that one connection could
/// reach both of: equal, or either unspecified.
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// The IP addresses of this host's interfaces (the pod's, or the node's
/// on the host network), for telling which endpoints a listener on
/// `0.0.0.0` or `::` would answer. Loopback is included.
#[allow(unsafe_code)] // getifaddrs(3): std has no interface list
pub fn interface_addresses() -> io::Result<Vec<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid place for getifaddrs to store its list,
    // which is freed below with freeifaddrs and not used after.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut addrs = Vec::new();
    let mut next = head;
    while !next.is_null() {
        // SAFETY: `next` is a node of the list getifaddrs returned, still
        // allocated (freed only after the loop).
        let ifa = unsafe { &*next };
        next = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: a non-null `ifa_addr` points at a sockaddr whose
        // `sa_family` says which sockaddr it is; it is read as that one.
        let ip = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
                }
                _ => continue,
            }
        };
        if !addrs.contains(&ip) {
            addrs.push(ip);
        }
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(addrs)
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

/// A listener of the admin server's: one socket, no `SO_REUSEPORT`, the
/// full backlog so that a burst of connections queues instead of having
/// its SYNs dropped (a dropped SYN is retried after a second: a probe
/// behind a flood would wait that long).
fn bind_single(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
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
    /// a taken admin or health port is named as that listener's.
    #[test]
    fn listeners_report_real_addresses() {
        let listeners = Listeners::bind(&ListenAddrs::loopback()).unwrap();
        let addrs = listeners.local_addrs().unwrap();
        let https = addrs.https.expect("https listener");
        let ports = [addrs.http.port(), https.port(), addrs.admin.port(), addrs.health.port()];
        assert!(ports.iter().all(|p| *p != 0), "{ports:?}");
        let mut distinct = ports.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 4, "{ports:?}");
        let taken = ListenAddrs { admin: addrs.admin, ..ListenAddrs::loopback() };
        let err = Listeners::bind(&taken).unwrap_err();
        assert_eq!((err.what, err.addr), ("admin", addrs.admin), "{err}");
        let taken = ListenAddrs { health: addrs.health, ..ListenAddrs::loopback() };
        let err = Listeners::bind(&taken).unwrap_err();
        assert_eq!((err.what, err.addr), ("health", addrs.health), "{err}");
    }

    /// The health listener may not take the admin listener's port where
    /// one connection could reach either: refused before anything binds,
    /// naming both flags' addresses.
    #[test]
    fn health_on_the_admin_port_is_refused() {
        let admin: SocketAddr = "127.0.0.1:9901".parse().unwrap();
        for health in ["127.0.0.1:9901", "0.0.0.0:9901"] {
            let health: SocketAddr = health.parse().unwrap();
            let addrs = ListenAddrs { admin, health, ..ListenAddrs::loopback() };
            let err = Listeners::bind(&addrs).unwrap_err();
            assert_eq!((err.what, err.addr), ("health", health), "{err}");
            assert!(err.to_string().contains("--admin 127.0.0.1:9901"), "{err}");
        }
        assert!(!overlap("127.0.0.1:9901".parse().unwrap(), "127.0.0.2:9901".parse().unwrap()));
        assert!(!overlap("127.0.0.1:0".parse().unwrap(), "127.0.0.1:0".parse().unwrap()));
    }

    /// The interface list holds loopback and the address a socket bound
    /// to a routed destination uses (when this host has a route at all).
    #[test]
    fn interface_addresses_include_loopback_and_the_routed_address() {
        let addrs = interface_addresses().unwrap();
        assert!(addrs.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{addrs:?}");
        let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        // No packet is sent: connect only chooses the source address.
        if probe.connect("198.51.100.1:9").is_ok() {
            let routed = probe.local_addr().unwrap().ip();
            assert!(addrs.contains(&routed), "{routed} not in {addrs:?}");
        }
    }
}
