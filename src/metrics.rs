//! Counters. Each worker writes only its own cache-line-padded block (a
//! single writer, so a relaxed load + store, no locked instruction); the
//! admin server sums the blocks when `/metrics` is scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::error::{Source, UpstreamKind};

/// Upper bounds of the request latency histogram, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    5_000_000, 30_000_000,
];

/// Statuses a failed request is counted under (the last one catches any
/// other).
pub const ERROR_STATUSES: [u16; 13] =
    [400, 403, 404, 408, 413, 414, 421, 431, 500, 502, 503, 504, 0];

/// The I/O engine a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    IoUring = 1,
    Epoll = 2,
}

impl Engine {
    pub fn label(self) -> &'static str {
        match self {
            Engine::IoUring => "io_uring",
            Engine::Epoll => "epoll",
        }
    }
}

/// A counter with one writer (its worker) and any number of readers.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    #[inline]
    pub fn add(&self, n: u64) {
        // Single writer: no read-modify-write instruction needed.
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub fn sub(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_sub(n), Relaxed);
    }

    #[inline]
    pub fn set(&self, n: u64) {
        self.0.store(n, Relaxed);
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Why a handshake did not complete. The label is the `kind` of
/// `ringress_tls_handshake_failures_total` in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No complete handshake within `--tls-handshake-timeout`.
    Timeout,
    /// Bytes that are not TLS, or a malformed or out-of-order message.
    BadClientHello,
    /// A well-formed ClientHello we share no version, suite or signature
    /// scheme with.
    Incompatible,
    /// The client closed or reset the connection before the handshake ended.
    Aborted,
    /// The client sent a fatal alert (for instance it rejected our certificate).
    Alert,
    /// Anything else (socket errors, internal errors).
    Other,
}

impl FailureKind {
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Timeout,
        FailureKind::BadClientHello,
        FailureKind::Incompatible,
        FailureKind::Aborted,
        FailureKind::Alert,
        FailureKind::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::BadClientHello => "bad_client_hello",
            FailureKind::Incompatible => "incompatible",
            FailureKind::Aborted => "aborted",
            FailureKind::Alert => "alert",
            FailureKind::Other => "other",
        }
    }
}

/// One worker's handshake failure counters, written only by that worker
/// (relaxed, uncontended) and read by the admin server.
#[derive(Debug, Default)]
pub struct HandshakeFailures {
    counts: CachePadded<[AtomicU64; FailureKind::ALL.len()]>,
}

impl HandshakeFailures {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, kind: FailureKind) {
        self.counts[kind as usize].fetch_add(1, Relaxed);
    }

    pub fn get(&self, kind: FailureKind) -> u64 {
        self.counts[kind as usize].load(Relaxed)
    }
}

/// One worker's counters.
#[derive(Default, Debug)]
pub struct WorkerMetrics {
    /// Responses by status class, index 0 = 1xx … 4 = 5xx.
    pub responses: [Counter; 5],
    /// Failed requests by source (downstream, upstream, internal) and
    /// status (see [`ERROR_STATUSES`]).
    pub errors: [[Counter; ERROR_STATUSES.len()]; Source::ALL.len()],
    pub upstream_errors: [Counter; UpstreamKind::ALL.len()],
    pub downstream_active: Counter,
    pub downstream_accepted: Counter,
    /// Failed accepts (out of descriptors, mostly).
    pub accept_errors: Counter,
    /// Connection tasks that panicked (caught; the worker kept serving).
    pub connection_panics: Counter,
    /// Connections closed unread at accept: the worker held its share of
    /// `--max-connections`.
    pub connections_refused: Counter,
    /// Connections closed without a response under `--proxy-protocol`:
    /// an untrusted peer, or no valid PROXY header in time.
    pub proxy_protocol_refused: Counter,
    pub pool_reused: Counter,
    pub pool_new: Counter,
    pub upstream_retries: Counter,
    pub endpoint_failures: Counter,
    /// Upgraded connections (WebSocket) open now, and those closed for
    /// being idle.
    pub tunnels_active: Counter,
    pub tunnels_idle_closed: Counter,
    pub latency_buckets: [Counter; LATENCY_BUCKETS_US.len() + 1],
    pub latency_sum_us: Counter,
    /// Generation of the table this worker loaded last.
    pub table_generation: Counter,
    /// `Engine as u64`, 0 until the worker runs and after it stopped.
    pub engine: Counter,
    /// 1 once the worker thread ended without being asked to stop.
    pub died: Counter,
}

impl WorkerMetrics {
    #[inline]
    pub fn response(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.responses[class].inc();
    }

    /// Count a failed request by the side at fault and its status.
    #[inline]
    pub fn error(&self, source: Source, status: u16) {
        let i =
            ERROR_STATUSES.iter().position(|s| *s == status).unwrap_or(ERROR_STATUSES.len() - 1);
        self.errors[source as usize][i].inc();
    }

    #[inline]
    pub fn latency(&self, elapsed: Duration) {
        let us = elapsed.as_micros().min(u64::MAX as u128) as u64;
        let i =
            LATENCY_BUCKETS_US.iter().position(|b| us <= *b).unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency_buckets[i].inc();
        self.latency_sum_us.add(us);
    }
}

/// All workers' counters, shared with the admin server.
#[derive(Debug)]
pub struct Metrics {
    pub workers: Box<[CachePadded<WorkerMetrics>]>,
    /// TLS handshake failures by kind, one block per worker (each worker's
    /// acceptor holds its own).
    pub tls_failures: Box<[Arc<HandshakeFailures>]>,
}

impl Metrics {
    pub fn new(workers: usize) -> Self {
        let tls_failures = (0..workers).map(|_| Arc::new(HandshakeFailures::new())).collect();
        let workers = (0..workers).map(|_| CachePadded::new(WorkerMetrics::default())).collect();
        Self { workers, tls_failures }
    }

    fn sum(&self, f: impl Fn(&WorkerMetrics) -> u64) -> u64 {
        self.workers.iter().map(|w| f(w)).sum()
    }

    /// Prometheus text exposition (version 0.0.4).
    pub fn render(&self, generation: u64, reloads: u64) -> String {
        let mut out = String::with_capacity(4096);
        let o = &mut out;
        help(
            o,
            "ringress_responses_total",
            "counter",
            "Responses sent downstream by status class.",
        );
        for (i, class) in ["1xx", "2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
            let v = self.sum(|w| w.responses[i].get());
            let _ = writeln!(o, "ringress_responses_total{{class=\"{class}\"}} {v}");
        }
        help(
            o,
            "ringress_request_errors_total",
            "counter",
            "Failed requests by side at fault and status.",
        );
        for source in Source::ALL {
            let (si, source) = (source as usize, source.label());
            for (i, status) in ERROR_STATUSES.iter().enumerate() {
                let v = self.sum(|w| w.errors[si][i].get());
                let status = if *status == 0 { "other".to_string() } else { status.to_string() };
                let _ = writeln!(
                    o,
                    "ringress_request_errors_total{{source=\"{source}\",status=\"{status}\"}} {v}"
                );
            }
        }
        help(o, "ringress_upstream_errors_total", "counter", "Upstream failures by kind.");
        for kind in UpstreamKind::ALL {
            let (i, kind) = (kind as usize, kind.label());
            let v = self.sum(|w| w.upstream_errors[i].get());
            let _ = writeln!(o, "ringress_upstream_errors_total{{kind=\"{kind}\"}} {v}");
        }
        let simple: [Series; 12] = [
            (
                "ringress_downstream_connections_active",
                "gauge",
                "Open downstream connections.",
                |w| w.downstream_active.get(),
            ),
            (
                "ringress_downstream_connections_total",
                "counter",
                "Accepted downstream connections.",
                |w| w.downstream_accepted.get(),
            ),
            (
                "ringress_upstream_pool_reused_total",
                "counter",
                "Requests sent on a pooled upstream connection.",
                |w| w.pool_reused.get(),
            ),
            ("ringress_upstream_pool_new_total", "counter", "Upstream connections opened.", |w| {
                w.pool_new.get()
            }),
            (
                "ringress_upstream_retries_total",
                "counter",
                "Requests retried on a fresh upstream connection.",
                |w| w.upstream_retries.get(),
            ),
            (
                "ringress_connections_refused_total",
                "counter",
                "Downstream connections closed unread because their worker held its share of --max-connections.",
                |w| w.connections_refused.get(),
            ),
            (
                "ringress_proxy_protocol_refused_total",
                "counter",
                "Downstream connections closed without a response under --proxy-protocol (untrusted peer, or no valid PROXY header in time).",
                |w| w.proxy_protocol_refused.get(),
            ),
            (
                "ringress_accept_errors_total",
                "counter",
                "Failed accepts (out of file descriptors, mostly).",
                |w| w.accept_errors.get(),
            ),
            (
                "ringress_connection_panics_total",
                "counter",
                "Connections ended by a panic in their task (the worker kept serving; a bug).",
                |w| w.connection_panics.get(),
            ),
            (
                "ringress_tunnels_active",
                "gauge",
                "Upgraded (WebSocket) connections open now.",
                |w| w.tunnels_active.get(),
            ),
            (
                "ringress_tunnels_idle_closed_total",
                "counter",
                "Upgraded connections closed after --tunnel-idle-timeout without traffic.",
                |w| w.tunnels_idle_closed.get(),
            ),
            (
                "ringress_endpoint_failures_total",
                "counter",
                "Endpoint connection failures that started a back-off.",
                |w| w.endpoint_failures.get(),
            ),
        ];
        help(
            o,
            "ringress_tls_handshake_failures_total",
            "counter",
            "TLS handshakes that failed, by kind.",
        );
        for kind in FailureKind::ALL {
            let v: u64 = self.tls_failures.iter().map(|f| f.get(kind)).sum();
            let _ = writeln!(
                o,
                "ringress_tls_handshake_failures_total{{kind=\"{}\"}} {v}",
                kind.label()
            );
        }
        for (name, kind, text, f) in simple {
            help(o, name, kind, text);
            let _ = writeln!(o, "{name} {}", self.sum(f));
        }
        help(
            o,
            "ringress_request_duration_seconds",
            "histogram",
            "Time from request head to the end of the response.",
        );
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS_US.iter().enumerate() {
            cumulative += self.sum(|w| w.latency_buckets[i].get());
            let le = *bound as f64 / 1e6;
            let _ =
                writeln!(o, "ringress_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.sum(|w| w.latency_buckets[LATENCY_BUCKETS_US.len()].get());
        let _ = writeln!(o, "ringress_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum(|w| w.latency_sum_us.get()) as f64 / 1e6;
        let _ = writeln!(o, "ringress_request_duration_seconds_sum {sum}");
        let _ = writeln!(o, "ringress_request_duration_seconds_count {cumulative}");
        help(o, "ringress_table_generation", "gauge", "Generation of the live route table.");
        let _ = writeln!(o, "ringress_table_generation {generation}");
        help(o, "ringress_table_reloads_total", "counter", "Route tables published.");
        let _ = writeln!(o, "ringress_table_reloads_total {reloads}");
        help(
            o,
            "ringress_worker_table_generation",
            "gauge",
            "Generation of the table each worker loaded last.",
        );
        for (i, w) in self.workers.iter().enumerate() {
            let _ = writeln!(
                o,
                "ringress_worker_table_generation{{worker=\"{i}\"}} {}",
                w.table_generation.get()
            );
        }
        help(o, "ringress_workers_alive", "gauge", "Worker threads running now.");
        let _ = writeln!(o, "ringress_workers_alive {}", self.workers_alive());
        help(
            o,
            "ringress_worker_io_engine",
            "gauge",
            "The I/O engine each worker runs (1 = this engine).",
        );
        for (i, w) in self.workers.iter().enumerate() {
            let engine = match w.engine.get() {
                1 => Engine::IoUring.label(),
                2 => Engine::Epoll.label(),
                _ => continue,
            };
            let _ =
                writeln!(o, "ringress_worker_io_engine{{worker=\"{i}\",engine=\"{engine}\"}} 1");
        }
        out
    }

    /// True when every worker has loaded a table of generation > 0.
    pub fn all_workers_loaded(&self) -> bool {
        self.workers.iter().all(|w| w.table_generation.get() > 0)
    }

    /// True when every worker has started its runtime and none has died.
    pub fn all_workers_running(&self) -> bool {
        self.workers.iter().all(|w| w.engine.get() != 0)
    }

    /// True when every worker thread ended without being asked to stop:
    /// nothing is left to serve.
    pub fn all_workers_died(&self) -> bool {
        self.workers.iter().all(|w| w.died.get() != 0)
    }

    /// Workers whose runtime is running now (a worker that stopped or
    /// died reads 0 in `engine`).
    pub fn workers_alive(&self) -> usize {
        self.workers.iter().filter(|w| w.engine.get() != 0).count()
    }
}

/// A plain series: name, type, help text, and how to read it from a worker.
type Series = (&'static str, &'static str, &'static str, fn(&WorkerMetrics) -> u64);

fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
}

/// The live table's annotation counts: ingress-nginx annotations of the
/// served Ingresses that ringress ignores (not implemented, snippets
/// included; one per Ingress and annotation) and those with an invalid
/// value (docs/annotations.md).
pub fn render_annotations(table: &ringress_control::RouteTable, o: &mut String) {
    let (ignored, invalid) = table.annotation_counts();
    help(
        o,
        "ringress_annotations_ignored",
        "gauge",
        "Annotations of served Ingresses that ringress does not implement, in the live table.",
    );
    let _ = writeln!(o, "ringress_annotations_ignored {ignored}");
    help(
        o,
        "ringress_annotations_invalid",
        "gauge",
        "Annotations of served Ingresses whose value is invalid, in the live table.",
    );
    let _ = writeln!(o, "ringress_annotations_invalid {invalid}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live table's ignored and invalid annotations are two gauges.
    #[test]
    fn render_annotations_counts_the_live_table() {
        let yaml = "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: ringress}
spec: {controller: ringress.io/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: i
  annotations:
    nginx.ingress.kubernetes.io/limit-rps: '5'
    nginx.ingress.kubernetes.io/server-snippet: 'return 403;'
    nginx.ingress.kubernetes.io/app-root: 'no-slash'
spec:
  ingressClassName: ringress
  defaultBackend: {service: {name: web, port: {number: 80}}}
";
        let options = ringress_control::CompileOptions::default();
        let (table, _) = ringress_control::compile_yaml(yaml, &options);
        let mut text = String::new();
        render_annotations(&table, &mut text);
        assert!(text.contains("ringress_annotations_ignored 2\n"), "{text}");
        assert!(text.contains("ringress_annotations_invalid 1\n"), "{text}");
    }

    /// Counts from every worker are summed into one series.
    #[test]
    fn render_sums_workers() {
        let m = Metrics::new(2);
        m.workers[0].response(200);
        m.workers[1].response(204);
        m.workers[1].response(503);
        m.workers[0].error(Source::Internal, 404);
        m.workers[0].latency(Duration::from_micros(300));
        m.workers[1].engine.set(Engine::Epoll as u64);
        m.workers[0].connections_refused.inc();
        m.workers[1].connections_refused.add(2);
        m.tls_failures[0].record(FailureKind::Timeout);
        m.tls_failures[1].record(FailureKind::Timeout);
        let text = m.render(3, 4);
        assert!(
            text.contains("ringress_tls_handshake_failures_total{kind=\"timeout\"} 2"),
            "{text}"
        );
        assert!(text.contains("ringress_tls_handshake_failures_total{kind=\"alert\"} 0"));
        assert!(text.contains("ringress_responses_total{class=\"2xx\"} 2"), "{text}");
        assert!(text.contains("ringress_responses_total{class=\"5xx\"} 1"));
        assert!(
            text.contains("ringress_request_errors_total{source=\"internal\",status=\"404\"} 1")
        );
        assert!(text.contains("ringress_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("ringress_request_duration_seconds_count 1"));
        assert!(text.contains("ringress_table_generation 3"));
        assert!(text.contains("# TYPE ringress_connections_refused_total counter"), "{text}");
        assert!(text.contains("\nringress_connections_refused_total 3\n"), "{text}");
        assert!(text.contains("ringress_worker_io_engine{worker=\"1\",engine=\"epoll\"} 1"));
        assert!(!text.contains("worker=\"0\",engine"));
    }
}
