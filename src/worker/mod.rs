//! Workers: one thread per core, each pinned, each with its own monoio
//! runtime (io_uring, or epoll where io_uring is refused), its own
//! `SO_REUSEPORT` listeners, upstream pool and balancer. Nothing mutable is
//! shared between workers on the request path.
//!
//! - [`start_on`] launches the threads on listeners bound beforehand
//!   ([`crate::listen::Listener`]); [`start`] binds them first.
//! - [`Workers::stop`] (from the control thread) stops accepting; each
//!   worker then drains ([`drain`]) and its thread ends.
//!
//! The state a worker's tasks share is [`crate::local::Worker`].

#[allow(unsafe_code)] // pins the contained task in place
pub mod contain;
pub mod engine;

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use monoio::net::TcpListener;
use ringress_control::TableHandle;
use socket2::Socket;

pub use engine::IoEngine;
// The per-worker state lives a layer below, beside `conn`, which reads it.
pub use crate::local::{drain, limit, settings, Settings, TableRef, Worker};

use crate::listen::Listener;
use crate::metrics::{Engine, Metrics};

pub use crate::stream::{KindFactory, Plain, StreamKind};

/// What [`start`] needs besides the table.
#[derive(Clone)]
pub struct WorkerOptions {
    pub workers: usize,
    pub engine: IoEngine,
    /// Pin worker `i` to the `i`-th CPU of the affinity mask.
    pub pin: bool,
    pub settings: Settings,
    /// Where [`start`] binds the http listener ([`start_on`] is given its
    /// listeners and ignores this).
    pub http: SocketAddr,
    /// Called first thing on each worker thread with its index (tests use
    /// it to tag the thread, e.g. to count its allocations).
    pub on_thread_start: Option<Arc<dyn Fn(usize) + Send + Sync>>,
}

/// Running workers, as seen from the control thread.
pub struct Workers {
    threads: Vec<JoinHandle<()>>,
    stopper: Stopper,
    http_addr: SocketAddr,
    https_addr: Option<SocketAddr>,
    metrics: Arc<Metrics>,
}

/// Stops the workers from another thread (signal handler task, tests).
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    /// Duplicates of every listening socket, to wake pending accepts.
    listeners: Arc<Vec<Socket>>,
}

impl Stopper {
    /// Stop accepting everywhere; workers then drain and exit.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        for l in self.listeners.iter() {
            crate::listen::stop_accepting(l);
        }
    }
}

impl Workers {
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    pub fn stop(&self) {
        self.stopper.stop();
    }

    /// Wait for every worker thread to end.
    pub fn join(self) {
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
    }
}

/// Bind the listeners and start `options.workers` worker threads reading
/// tables from `table`. `https`, when given, adds a second listener whose
/// connections go through the stream kind the factory builds per worker.
pub fn start<K: StreamKind>(
    options: WorkerOptions,
    table: TableHandle,
    metrics: Arc<Metrics>,
    https: Option<(SocketAddr, KindFactory<K>)>,
) -> io::Result<Workers> {
    let http = Listener::bind("http", options.http)?;
    let https = match https {
        Some((addr, factory)) => Some((Listener::bind("https", addr)?, factory)),
        None => None,
    };
    start_on(options, http, https, table, metrics)
}

/// Start `options.workers` worker threads on listeners already bound,
/// reading tables from `table`: each listener is joined by one socket per
/// further worker ([`Listener::group`]). `https`, when given, is a second
/// listener whose connections go through the stream kind the factory
/// builds per worker.
pub fn start_on<K: StreamKind>(
    options: WorkerOptions,
    http: Listener,
    https: Option<(Listener, KindFactory<K>)>,
    table: TableHandle,
    metrics: Arc<Metrics>,
) -> io::Result<Workers> {
    let n = options.workers.max(1);
    let http_addr = http.local_addr();
    let http = http.group(n)?;
    let (https_sockets, https_addr, factory) = match https {
        Some((listener, factory)) => {
            let a = listener.local_addr();
            let sockets = listener.group(n)?;
            (sockets.into_iter().map(Some).collect(), Some(a), Some(factory))
        }
        None => ((0..n).map(|_| None).collect::<Vec<_>>(), None, None),
    };
    let mut dups = Vec::new();
    for s in http.iter().chain(https_sockets.iter().flatten()) {
        dups.push(s.try_clone()?);
    }
    let mut own_dups = Vec::with_capacity(n);
    for (h, s) in http.iter().zip(https_sockets.iter()) {
        let mut own = vec![h.try_clone()?];
        if let Some(s) = s {
            own.push(s.try_clone()?);
        }
        own_dups.push(own);
    }
    let flag = Arc::new(AtomicBool::new(false));
    let cores = if options.pin { engine::usable_cores() } else { Vec::new() };
    let mut threads = Vec::with_capacity(n);
    let per_worker = http.into_iter().zip(https_sockets).zip(own_dups);
    for (i, ((http, https), own)) in per_worker.enumerate() {
        let core = if cores.is_empty() { None } else { Some(cores[i % cores.len()]) };
        let (settings, engine_choice) = (options.settings.clone(), options.engine);
        let max_connections = settings::connection_share(settings.max_connections, n, i);
        let (metrics, table, flag) = (metrics.clone(), table.clone(), flag.clone());
        let exit = contain::WorkerExit {
            index: i,
            metrics: metrics.clone(),
            listeners: own,
            stop: flag.clone(),
        };
        let factory = factory.clone();
        let on_start = options.on_thread_start.clone();
        let thread =
            std::thread::Builder::new().name(format!("ringress-worker-{i}")).spawn(move || {
                // Dropped when this thread ends, by return or panic.
                let _exit = exit;
                if let Some(f) = on_start {
                    f(i);
                }
                if let Some(core) = core {
                    if !core_affinity::set_for_current(core) {
                        tracing::warn!(worker = i, core = core.id, "could not pin worker to core");
                    }
                }
                let https = https.zip(factory.map(|f| f(i, &table)));
                let run = move |engine: Engine| {
                    let worker =
                        Rc::new(Worker::new(i, settings, max_connections, metrics, &table));
                    worker.m().engine.set(engine as u64);
                    tracing::info!(worker = i, engine = engine.label(), "worker running");
                    run_worker(worker, http, https, flag)
                };
                if let Err(e) = engine::block_on(engine_choice, run) {
                    tracing::error!(worker = i, error = %e, "worker could not start its runtime");
                }
            })?;
        threads.push(thread);
    }
    Ok(Workers {
        threads,
        stopper: Stopper { flag, listeners: Arc::new(dups) },
        http_addr,
        https_addr,
        metrics,
    })
}

/// The body of one worker thread, inside its runtime.
async fn run_worker<K: StreamKind>(
    worker: Rc<Worker>,
    http: Socket,
    https: Option<(Socket, K)>,
    stop: Arc<AtomicBool>,
) {
    let mut loops = Vec::new();
    match TcpListener::from_std(http.into()) {
        Ok(l) => loops.push(monoio::spawn(accept_loop(worker.clone(), l, Plain, stop.clone()))),
        Err(e) => tracing::error!(worker = worker.index, error = %e, "cannot use http listener"),
    }
    if let Some((socket, kind)) = https {
        match TcpListener::from_std(socket.into()) {
            Ok(l) => loops.push(monoio::spawn(accept_loop(worker.clone(), l, kind, stop.clone()))),
            Err(e) => {
                tracing::error!(worker = worker.index, error = %e, "cannot use https listener")
            }
        }
    }
    monoio::spawn(housekeeping(worker.clone()));
    for l in loops {
        l.await;
    }
    worker.drain.start();
    let open = worker.drain.open();
    if open > 0 {
        tracing::info!(worker = worker.index, open, "draining connections");
        let drained =
            monoio::time::timeout(worker.settings.drain_timeout, worker.drain.all_closed()).await;
        if drained.is_err() {
            tracing::warn!(
                worker = worker.index,
                open = worker.drain.open(),
                "drain timeout reached; closing remaining connections"
            );
        }
    }
    tracing::info!(worker = worker.index, "worker stopped");
}

async fn accept_loop<K: StreamKind>(
    worker: Rc<Worker>,
    listener: TcpListener,
    kind: K,
    stop: Arc<AtomicBool>,
) {
    let kind = Rc::new(kind);
    let mut last_warning: Option<Instant> = None;
    let mut last_refusal: Option<Instant> = None;
    loop {
        let accepted = listener.accept().await;
        if stop.load(Ordering::Acquire) {
            break;
        }
        match accepted {
            Ok((tcp, peer)) => {
                let Some(slot) = worker.conn_limit.try_acquire() else {
                    // Over this worker's share of --max-connections: close
                    // at once, without reading, and count it.
                    worker.m().connections_refused.inc();
                    drop(tcp);
                    let now = Instant::now();
                    if last_refusal.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
                    {
                        last_refusal = Some(now);
                        tracing::warn!(
                            worker = worker.index,
                            limit = worker.conn_limit.max(),
                            "connection limit reached; refusing connections (--max-connections)"
                        );
                    }
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                worker.m().downstream_accepted.inc();
                let (w, k) = (worker.clone(), kind.clone());
                monoio::spawn(async move {
                    if contain::contained(crate::conn::serve(w.clone(), k, tcp, peer))
                        .await
                        .is_err()
                    {
                        w.m().connection_panics.inc();
                        tracing::error!(worker = w.index, %peer, "a connection task panicked; connection closed, worker serving on");
                    }
                    // The connection's place under --max-connections,
                    // given back however its task ended.
                    drop(slot);
                });
            }
            Err(e) => {
                // Out of file descriptors or a transient network error: wait
                // a little instead of spinning, and say so at most once a
                // second (the counter has every failure).
                worker.m().accept_errors.inc();
                let now = Instant::now();
                if last_warning.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
                    last_warning = Some(now);
                    tracing::warn!(worker = worker.index, error = %e, "accept failed");
                }
                monoio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Periodic worker chores: close expired pooled connections, load the
/// table so `/readyz` sees that this worker has one even without traffic,
/// and on each new table generation forget the balancer and pool state of
/// endpoints that left it.
async fn housekeeping(worker: Rc<Worker>) {
    let mut pruned_for = None;
    while !worker.drain.is_draining() {
        let table = worker.load_table();
        let live = table.generation() > 0;
        if pruned_for != Some(table.generation()) {
            pruned_for = Some(table.generation());
            worker.prune_upstream_state(&table);
        }
        drop(table);
        worker.pool.sweep(Instant::now());
        let pause = if live { Duration::from_secs(1) } else { Duration::from_millis(50) };
        monoio::time::sleep(pause).await;
    }
}
