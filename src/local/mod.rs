//! The state one worker's tasks share (never across threads): its
//! settings, counters, upstream pool and balancer, drain, connection limit,
//! `Date` cache and cache of the current table.
//!
//! Below both [`crate::worker`], which starts the threads and accepts, and
//! [`crate::conn`], which serves the connections they accept: each reads
//! this state and neither imports the other's.

pub mod drain;
pub mod limit;
pub mod settings;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use arc_swap::{ArcSwap, Cache};
use ringress_control::{RouteTable, TableHandle};

pub use settings::Settings;

use crate::http::date::HTTP_DATE_LEN;
use crate::http::DateCache;
use crate::metrics::{Metrics, WorkerMetrics};
use crate::upstream::{Balancer, Live, Pool};
use drain::Drain;
use limit::ConnLimit;

/// One worker's state, shared by its tasks (never across threads).
pub struct Worker {
    pub index: usize,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub pool: Pool,
    pub balancer: Balancer,
    pub drain: Rc<Drain>,
    /// This worker's share of `--max-connections`.
    pub conn_limit: Rc<ConnLimit>,
    table: RefCell<TableCache>,
    date: RefCell<DateCache>,
}

struct TableCache {
    cache: Cache<Arc<ArcSwap<RouteTable>>, Arc<RouteTable>>,
    /// The worker's own reference to the current table, so that holding it
    /// for a request is a non-atomic `Rc` increment rather than an atomic
    /// one on a count every worker shares.
    current: TableRef,
}

impl Worker {
    /// The state of worker `index`, reading tables from `table`.
    pub fn new(
        index: usize,
        settings: Settings,
        max_connections: usize,
        metrics: Arc<Metrics>,
        table: &TableHandle,
    ) -> Self {
        let settings = settings.for_worker();
        let mut cache = Cache::new(Arc::clone(table.cell()));
        let current = Rc::new(Arc::clone(cache.load()));
        metrics.workers[index].table_generation.set(current.generation());
        let seed =
            (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ std::process::id() as u64;
        Self {
            index,
            pool: Pool::new(settings.upstream_max_idle, settings.upstream_idle_timeout),
            balancer: Balancer::new(settings.balance, settings.endpoint_backoff, seed),
            settings,
            metrics,
            drain: Rc::new(Drain::default()),
            conn_limit: ConnLimit::new(max_connections),
            table: RefCell::new(TableCache { cache, current }),
            date: RefCell::new(DateCache::new()),
        }
    }

    /// The `Date` header value for now (cached per second).
    #[inline]
    pub fn date(&self) -> [u8; HTTP_DATE_LEN] {
        let mut out = [b' '; HTTP_DATE_LEN];
        out.copy_from_slice(self.date.borrow_mut().get());
        out
    }

    /// This worker's counters.
    #[inline]
    pub fn m(&self) -> &WorkerMetrics {
        &self.metrics.workers[self.index]
    }

    /// Drop the balancer and pool state of backends and endpoints that are
    /// not in `table` (once per generation, from housekeeping: the cost is
    /// one pass over the table, never on the request path).
    pub fn prune_upstream_state(&self, table: &RouteTable) {
        let live = Live::new(table.backends().map(|b| &**b));
        self.balancer.prune(&live);
        self.pool.prune(&live);
    }

    /// The current table, taken once per request and held until it ends.
    #[inline]
    pub fn load_table(&self) -> TableRef {
        let mut t = self.table.borrow_mut();
        let TableCache { cache, current } = &mut *t;
        let latest = cache.load();
        if !Arc::ptr_eq(latest, current) {
            *current = Rc::new(Arc::clone(latest));
            self.m().table_generation.set(current.generation());
        }
        Rc::clone(current)
    }
}

/// A worker-local handle on one table generation.
#[allow(clippy::redundant_allocation)] // The outer Rc is the point: see TableCache.
pub type TableRef = Rc<Arc<RouteTable>>;

#[cfg(test)]
mod tests {
    use super::*;
    use ringress_control::{compile_yaml, CompileOptions, Publisher};
    use std::time::Instant;

    /// Manifests routing every request to one endpoint on 127.0.0.1:`port`.
    fn table_with_endpoint(port: u16) -> RouteTable {
        let yaml = format!(
            "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: ringress}}
spec: {{controller: ringress.io/ingress-controller}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec:
  ports: [{{name: http, port: 80}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: default
  labels: {{kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints: [{{addresses: [\"127.0.0.1\"], conditions: {{ready: true}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: i, namespace: default}}
spec:
  ingressClassName: ringress
  defaultBackend:
    service: {{name: web, port: {{number: 80}}}}
"
        );
        compile_yaml(&yaml, &CompileOptions::default()).0
    }

    /// Compiled tables published one after another, each moving the
    /// backend to a new endpoint port, with a pick and a failure on each:
    /// pruning on each new generation keeps the worker's balancer state to
    /// the one live endpoint.
    #[test]
    fn each_generation_prunes_departed_endpoints() {
        let mut publisher = Publisher::new();
        let worker =
            Worker::new(0, Settings::default(), 1, Arc::new(Metrics::new(1)), &publisher.handle());
        let now = Instant::now();
        for port in 1000..1300 {
            publisher.publish(table_with_endpoint(port));
            let table = worker.load_table();
            let backend = &table.route("any.example", "/").expect("default backend").backend;
            let addr = worker.balancer.pick(backend, now).expect("an endpoint");
            assert_eq!(addr.port(), port);
            worker.balancer.failed(addr, now);
            worker.prune_upstream_state(&table);
            assert_eq!(worker.balancer.tracked().1, 1, "only the live endpoint at port {port}");
        }
        publisher.publish(RouteTable::empty());
        worker.prune_upstream_state(&worker.load_table());
        assert_eq!(worker.balancer.tracked(), (0, 0));
    }
}
