//! Endpoint choice, per request. Round-robin by default; least outstanding
//! requests with two random choices as an option. An endpoint that refused a
//! connection is skipped for a back-off period (unless every endpoint is
//! backing off, when the choice falls back to the plain order).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::{shrink, Live};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ringress_control::table::{Backend, BackendKey, Endpoint};

/// How a worker chooses among a backend's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    #[default]
    RoundRobin,
    /// Least outstanding requests between two endpoints picked at random.
    LeastOutstanding,
}

#[derive(Default)]
struct EndpointState {
    outstanding: u32,
    failures: u32,
    backoff_until: Option<Instant>,
}

/// One worker's balancer state, keyed by backend identity (cursors) and
/// endpoint address (outstanding counts, back-off); survives table swaps.
pub struct Balancer {
    mode: Balance,
    backoff: Duration,
    cursors: RefCell<HashMap<BackendKey, usize>>,
    endpoints: RefCell<HashMap<SocketAddr, EndpointState>>,
    /// Endpoints currently in back-off; zero lets the common case skip the
    /// lookups.
    backing_off: Cell<usize>,
    rng: Cell<u64>,
}

impl Balancer {
    pub fn new(mode: Balance, backoff: Duration, seed: u64) -> Self {
        Self {
            mode,
            backoff,
            cursors: RefCell::new(HashMap::new()),
            endpoints: RefCell::new(HashMap::new()),
            backing_off: Cell::new(0),
            rng: Cell::new(seed | 1),
        }
    }

    /// Choose an endpoint of `backend`; `None` when it has none.
    pub fn pick(&self, backend: &Backend, now: Instant) -> Option<SocketAddr> {
        let eps: &[Endpoint] = &backend.endpoints;
        match eps.len() {
            0 => None,
            1 => Some(eps[0].addr),
            n => match self.mode {
                Balance::RoundRobin => Some(self.round_robin(&backend.key, eps, n, now)),
                Balance::LeastOutstanding => Some(self.two_choices(eps, n, now)),
            },
        }
    }

    fn round_robin(
        &self,
        key: &BackendKey,
        eps: &[Endpoint],
        n: usize,
        now: Instant,
    ) -> SocketAddr {
        let mut cursors = self.cursors.borrow_mut();
        let start = match cursors.get_mut(key) {
            Some(c) => {
                *c = c.wrapping_add(1);
                *c
            }
            None => {
                cursors.insert(key.clone(), 0);
                0
            }
        };
        let mut chosen = eps[start % n].addr;
        if self.backing_off.get() > 0 {
            for i in 0..n {
                let addr = eps[(start + i) % n].addr;
                if !self.in_backoff(addr, now) {
                    chosen = addr;
                    if let Some(c) = cursors.get_mut(key) {
                        *c = start + i;
                    }
                    break;
                }
            }
        }
        chosen
    }

    fn two_choices(&self, eps: &[Endpoint], n: usize, now: Instant) -> SocketAddr {
        let a = self.next_random() as usize % n;
        let mut b = self.next_random() as usize % (n - 1);
        if b >= a {
            b += 1;
        }
        let (a, b) = (eps[a].addr, eps[b].addr);
        let eligible = |addr| self.backing_off.get() == 0 || !self.in_backoff(addr, now);
        match (eligible(a), eligible(b)) {
            (true, false) => a,
            (false, true) => b,
            _ => {
                let map = self.endpoints.borrow();
                let load = |addr| map.get(&addr).map_or(0, |s: &EndpointState| s.outstanding);
                if load(b) < load(a) {
                    b
                } else {
                    a
                }
            }
        }
    }

    fn in_backoff(&self, addr: SocketAddr, now: Instant) -> bool {
        let mut map = self.endpoints.borrow_mut();
        let Some(state) = map.get_mut(&addr) else { return false };
        match state.backoff_until {
            Some(until) if now < until => true,
            Some(_) => {
                state.backoff_until = None;
                self.backing_off.set(self.backing_off.get().saturating_sub(1));
                false
            }
            None => false,
        }
    }

    /// A request to `addr` starts (least-outstanding mode counts it).
    pub fn started(&self, addr: SocketAddr) {
        if self.mode == Balance::LeastOutstanding {
            self.endpoints.borrow_mut().entry(addr).or_default().outstanding += 1;
        }
    }

    /// A request to `addr` ended, successfully or not.
    pub fn finished(&self, addr: SocketAddr) {
        if self.mode == Balance::LeastOutstanding {
            if let Some(s) = self.endpoints.borrow_mut().get_mut(&addr) {
                s.outstanding = s.outstanding.saturating_sub(1);
            }
        }
    }

    /// `addr` refused or failed a connection: skip it for the back-off
    /// period. Returns the endpoint's consecutive failure count.
    pub fn failed(&self, addr: SocketAddr, now: Instant) -> u32 {
        let mut map = self.endpoints.borrow_mut();
        let state = map.entry(addr).or_default();
        state.failures += 1;
        if state.backoff_until.is_none() {
            self.backing_off.set(self.backing_off.get() + 1);
        }
        state.backoff_until = Some(now + self.backoff);
        state.failures
    }

    /// `addr` accepted a connection: its failure streak ends.
    pub fn connected(&self, addr: SocketAddr) {
        if self.backing_off.get() == 0 && self.mode == Balance::RoundRobin {
            return;
        }
        if let Some(s) = self.endpoints.borrow_mut().get_mut(&addr) {
            s.failures = 0;
            if s.backoff_until.take().is_some() {
                self.backing_off.set(self.backing_off.get().saturating_sub(1));
            }
        }
    }

    /// Forget what is kept for backends and endpoints no longer in the
    /// table. Called when the worker sees a new table generation, never
    /// per request; a request still in flight on an older table may add an
    /// entry back, which the next generation prunes.
    pub fn prune(&self, live: &Live<'_>) {
        let mut cursors = self.cursors.borrow_mut();
        cursors.retain(|k, _| live.has_backend(k));
        shrink(&mut cursors);
        let mut endpoints = self.endpoints.borrow_mut();
        let mut backing_off = self.backing_off.get();
        endpoints.retain(|addr, state| {
            let keep = live.has_endpoint(*addr);
            if !keep && state.backoff_until.is_some() {
                backing_off = backing_off.saturating_sub(1);
            }
            keep
        });
        shrink(&mut endpoints);
        self.backing_off.set(backing_off);
    }

    /// Backends with a cursor and endpoints with state (tests, admin).
    pub fn tracked(&self) -> (usize, usize) {
        (self.cursors.borrow().len(), self.endpoints.borrow().len())
    }

    fn next_random(&self) -> u64 {
        // xorshift64*: plenty for choosing between endpoints.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Live;
    use ringress_control::table::ServicePortRef;
    use std::sync::Arc;

    fn backend(n: u16) -> Backend {
        let endpoints: Vec<Endpoint> = (0..n)
            .map(|i| Endpoint { addr: SocketAddr::from(([127, 0, 0, 1], 1000 + i)) })
            .collect();
        Backend {
            key: BackendKey {
                namespace: "ns".into(),
                service: "svc".into(),
                port: ServicePortRef::Number(80),
                cluster_ip: false,
            },
            endpoints: Arc::from(endpoints),
        }
    }

    /// Round-robin visits every endpoint once per cycle, per request.
    #[test]
    fn round_robin_cycles_through_endpoints() {
        let b = Balancer::new(Balance::RoundRobin, Duration::from_secs(5), 7);
        let be = backend(3);
        let now = Instant::now();
        let picks: Vec<u16> = (0..6).map(|_| b.pick(&be, now).unwrap().port()).collect();
        assert_eq!(picks, [1000, 1001, 1002, 1000, 1001, 1002]);
    }

    /// An endpoint that failed is skipped until its back-off ends.
    #[test]
    fn failing_endpoint_is_skipped_during_backoff() {
        let b = Balancer::new(Balance::RoundRobin, Duration::from_secs(5), 7);
        let be = backend(2);
        let now = Instant::now();
        b.failed(be.endpoints[0].addr, now);
        for _ in 0..4 {
            assert_eq!(b.pick(&be, now).unwrap().port(), 1001);
        }
        let later = now + Duration::from_secs(6);
        let picks: Vec<u16> = (0..2).map(|_| b.pick(&be, later).unwrap().port()).collect();
        assert!(picks.contains(&1000), "{picks:?}");
    }

    /// With two choices, the endpoint with fewer requests in flight wins.
    #[test]
    fn least_outstanding_prefers_idle_endpoint() {
        let b = Balancer::new(Balance::LeastOutstanding, Duration::from_secs(5), 7);
        let be = backend(2);
        let busy = be.endpoints[0].addr;
        for _ in 0..3 {
            b.started(busy);
        }
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(b.pick(&be, now).unwrap().port(), 1001);
        }
    }

    /// 100,000 endpoint changes, each a new table whose one backend (one of
    /// seven Services) has two endpoints on addresses never seen before,
    /// with picks, requests and failures between them: after each prune
    /// the balancer holds state only for the live backend and endpoints,
    /// back-off bookkeeping included, and its maps stay small.
    #[test]
    fn state_is_pruned_to_the_live_endpoints() {
        for mode in [Balance::RoundRobin, Balance::LeastOutstanding] {
            let b = Balancer::new(mode, Duration::from_secs(5), 7);
            let now = Instant::now();
            for i in 0..100_000u32 {
                let addr = |j: u32| {
                    let n = 2 * i + j;
                    SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 1000))
                };
                let be = Backend {
                    key: BackendKey {
                        namespace: "ns".into(),
                        service: format!("svc-{}", i % 7).into(),
                        port: ServicePortRef::Number(80),
                        cluster_ip: false,
                    },
                    endpoints: Arc::from(vec![
                        Endpoint { addr: addr(0) },
                        Endpoint { addr: addr(1) },
                    ]),
                };
                let picked = b.pick(&be, now).unwrap();
                b.started(picked);
                b.failed(addr(0), now);
                b.finished(picked);
                let _ = b.pick(&be, now);
                b.prune(&Live::new([&be]));
                let (cursors, endpoints) = b.tracked();
                assert!(
                    cursors <= 1 && endpoints <= 2,
                    "{i}: {cursors} cursors, {endpoints} endpoints"
                );
                assert!(b.backing_off.get() <= endpoints, "{i}: back-off count out of step");
            }
            assert!(b.cursors.borrow().capacity() <= 64);
            assert!(b.endpoints.borrow().capacity() <= 64);
            // A table without those backends forgets everything.
            b.prune(&Live::new([]));
            assert_eq!(b.tracked(), (0, 0));
            assert_eq!(b.backing_off.get(), 0);
        }
    }

    /// Pruning keeps the state of endpoints that stay: a back-off survives
    /// a new table that still lists the endpoint.
    #[test]
    fn pruning_keeps_live_endpoint_state() {
        let b = Balancer::new(Balance::RoundRobin, Duration::from_secs(5), 7);
        let be = backend(2);
        let now = Instant::now();
        b.failed(be.endpoints[0].addr, now);
        b.prune(&Live::new([&be]));
        for _ in 0..4 {
            assert_eq!(b.pick(&be, now).unwrap().port(), 1001);
        }
    }

    /// No endpoints: nothing to pick (the proxy answers 503).
    #[test]
    fn empty_backend_has_no_pick() {
        let b = Balancer::new(Balance::RoundRobin, Duration::from_secs(5), 7);
        assert!(b.pick(&backend(0), Instant::now()).is_none());
    }
}
