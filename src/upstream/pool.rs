//! The worker's idle upstream connections, keyed by endpoint address.
//!
//! LIFO: the most recently used connection is the most likely to be alive
//! and warm. At most `max_idle` per endpoint; older than `idle_timeout` or
//! found closed by the peer means discarded.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use super::{shrink, Live};

/// Idle connections younger than this are reused without checking them.
const PEEK_AFTER: Duration = Duration::from_millis(500);

struct Idle {
    stream: TcpStream,
    since: Instant,
}

/// One worker's pool. Not `Send`: it lives and dies on its worker.
pub struct Pool {
    idle: RefCell<HashMap<SocketAddr, Vec<Idle>>>,
    max_idle: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub fn new(max_idle: usize, idle_timeout: Duration) -> Self {
        Self { idle: RefCell::new(HashMap::new()), max_idle, idle_timeout }
    }

    /// The most recently returned live connection to `addr`, if any.
    pub fn take(&self, addr: SocketAddr, now: Instant) -> Option<TcpStream> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(&addr)?;
        while let Some(conn) = list.pop() {
            let idle = now.saturating_duration_since(conn.since);
            // A connection idle for a moment is almost never closed by then;
            // checking costs a system call per request, so only older ones
            // are checked (a request that still meets a closed one is
            // retried, see `conn`).
            if idle < self.idle_timeout && (idle < PEEK_AFTER || !peer_closed(&conn.stream)) {
                return Some(conn.stream);
            }
        }
        None
    }

    /// Return a connection whose last response was read completely.
    pub fn put(&self, addr: SocketAddr, stream: TcpStream, now: Instant) {
        if self.max_idle == 0 {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(addr).or_default();
        if list.len() >= self.max_idle {
            // Drop the oldest: the newest is the one reused first anyway.
            list.remove(0);
        }
        list.push(Idle { stream, since: now });
    }

    /// Close connections idle for longer than the timeout and forget
    /// endpoints with nothing idle.
    pub fn sweep(&self, now: Instant) {
        let mut idle = self.idle.borrow_mut();
        idle.retain(|_, list| {
            list.retain(|c| now.saturating_duration_since(c.since) < self.idle_timeout);
            !list.is_empty()
        });
        shrink(&mut idle);
    }

    /// Close the idle connections to endpoints no longer in the table
    /// (called once per table generation, never per request).
    pub fn prune(&self, live: &Live<'_>) {
        let mut idle = self.idle.borrow_mut();
        idle.retain(|addr, _| live.has_endpoint(*addr));
        shrink(&mut idle);
    }

    /// Endpoints with idle connections (tests, admin).
    pub fn endpoints(&self) -> usize {
        self.idle.borrow().len()
    }

    /// Idle connections to `addr` (for tests and the admin view).
    pub fn idle_count(&self, addr: SocketAddr) -> usize {
        self.idle.borrow().get(&addr).map_or(0, Vec::len)
    }
}

/// True when the peer closed the connection or sent bytes nobody asked for
/// (either way the connection cannot carry a new request).
fn peer_closed(stream: &TcpStream) -> bool {
    let mut byte = 0u8;
    // SAFETY: `recv` writes at most 1 byte into `byte`, which lives for the
    // whole call; the fd is owned by `stream` and open while it is borrowed.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        let err = std::io::Error::last_os_error();
        !matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted)
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringress_control::table::{Backend, BackendKey, Endpoint, ServicePortRef};
    use std::sync::Arc;

    fn backend(addrs: &[SocketAddr]) -> Backend {
        Backend {
            key: BackendKey {
                namespace: "ns".into(),
                service: "svc".into(),
                port: ServicePortRef::Number(80),
                cluster_ip: false,
            },
            endpoints: Arc::from(addrs.iter().map(|&addr| Endpoint { addr }).collect::<Vec<_>>()),
        }
    }

    /// Idle connections to an endpoint that left the table are closed by
    /// the prune; those to endpoints still listed stay.
    #[test]
    fn prune_closes_connections_to_departed_endpoints() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            let pool = Pool::new(8, Duration::from_secs(60));
            let now = Instant::now();
            for addr in [a_addr, a_addr, b_addr] {
                pool.put(addr, TcpStream::connect_addr(addr).await.unwrap(), now);
            }
            assert_eq!(pool.endpoints(), 2);
            pool.prune(&Live::new([&backend(&[b_addr])]));
            assert_eq!((pool.idle_count(a_addr), pool.idle_count(b_addr)), (0, 1));
            assert_eq!(pool.endpoints(), 1);
            // The pruned connections were closed: the listener's side reads EOF.
            let (mut peer, _) = a.accept().unwrap();
            peer.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            assert_eq!(std::io::Read::read(&mut peer, &mut [0u8; 1]).unwrap(), 0);
            pool.prune(&Live::new([]));
            assert_eq!(pool.endpoints(), 0);
        });
    }
}
