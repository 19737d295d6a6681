//! Upstream side of a worker: its own keep-alive connection [`pool`], its
//! endpoint choice ([`balance`]) and [`connect`] with a deadline. All of it
//! is worker-local (`Rc`/`Cell`), keyed by endpoint address so that it
//! survives route-table swaps.

pub mod balance;
pub mod connect;
#[allow(unsafe_code)] // one non-blocking MSG_PEEK recv(2) to see a closed pooled connection
pub mod pool;

pub use balance::{Balance, Balancer};
pub use connect::connect;
pub use pool::Pool;

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::SocketAddr;

use ringress_control::table::{Backend, BackendKey};

/// The backends and endpoint addresses of one table, gathered once per
/// table generation to prune the worker's long-lived state
/// ([`Balancer::prune`], [`Pool::prune`]).
pub struct Live<'t> {
    backends: HashSet<&'t BackendKey>,
    endpoints: HashSet<SocketAddr>,
}

impl<'t> Live<'t> {
    /// From every backend of a table (`RouteTable::backends`).
    pub fn new(backends: impl IntoIterator<Item = &'t Backend>) -> Self {
        let mut live = Live { backends: HashSet::new(), endpoints: HashSet::new() };
        for b in backends {
            live.backends.insert(&b.key);
            live.endpoints.extend(b.endpoints.iter().map(|e| e.addr));
        }
        live
    }

    pub fn has_backend(&self, key: &BackendKey) -> bool {
        self.backends.contains(key)
    }

    pub fn has_endpoint(&self, addr: SocketAddr) -> bool {
        self.endpoints.contains(&addr)
    }
}

/// Give memory back once most entries of a map are gone (after a burst of
/// endpoints), so that its size follows the live endpoints.
fn shrink<K: Eq + Hash, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 64 && map.capacity() > 4 * map.len() {
        map.shrink_to_fit();
    }
}
