//! [`run`]: ringress put together, on listeners bound by the caller and
//! until a shutdown future resolves. The calling thread becomes the
//! control thread: a tokio current-thread runtime running the provider
//! (manifests or Kubernetes); the admin and health servers have a thread
//! of their own ([`crate::admin::start`]); the workers run on
//! their own threads (see [`crate::worker`]). `main`, `ringress demo` and
//! the tests all start ringress here.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ringress_control::compile::EndpointGuard;
use ringress_control::provider::dir::DirError;
use ringress_control::provider::kube::{ConnectError, KubeConfig, KubeStats};
use ringress_control::{CompileOptions, Publisher};
use thiserror::Error;

use crate::admin::{self, AdminState, Scope};
use crate::config::{Config, Source};
use crate::listen::{BindError, Listener, Listeners};
use crate::metrics::Metrics;
use crate::tls::{Https, ServerTls, TlsSetupError};
use crate::worker::{self, WorkerOptions};
use crate::{kubernetes, manifests};

/// Why ringress could not start or stop cleanly.
#[derive(Debug, Error)]
pub enum RunError {
    /// A listener (or a demo upstream) that could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// Starting the workers on their listeners (the message names the
    /// address and which listener).
    #[error("{0}")]
    Listen(std::io::Error),
    #[error("cannot start the control runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot install the signal handler: {0}")]
    Signal(std::io::Error),
    #[error("cannot use the admin or health listener: {0}")]
    Admin(std::io::Error),
    #[error(transparent)]
    Manifests(#[from] DirError),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error(transparent)]
    Kubernetes(#[from] ConnectError),
    /// A configuration that cannot run (the message says which part).
    #[error("{0}")]
    Config(String),
    #[error("workers did not stop within the drain timeout")]
    DrainTimeout,
    #[error("the configuration provider stopped (see the log above)")]
    ProviderStopped,
    #[error("every worker thread ended unexpectedly (see the log above)")]
    WorkersDied,
}

/// Serve `config` on `listeners` until `shutdown` resolves, then drain
/// (stop accepting, let requests in flight finish within the drain
/// timeout) and return. Ends early, with an error, if the provider can no
/// longer follow its source or every worker thread has died.
pub fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    raise_open_files_limit();
    let Config {
        source,
        workers,
        io_engine,
        pin,
        mut settings,
        mut compile,
        tls_handshake_timeout,
        shutdown_delay,
    } = config;
    guard_own_listeners(&mut compile.endpoint_guard, &listeners);
    let workers_n = workers.max(1);
    if settings.max_connections < workers_n {
        return Err(RunError::Config(format!(
            "max_connections {} is less than the number of workers ({workers_n}): \
             each worker needs a share of at least one connection",
            settings.max_connections
        )));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let provider = Provider::prepare(&rt, source, &compile)?;
    let publisher = Publisher::new();
    let table = publisher.handle();
    let metrics = Arc::new(Metrics::new(workers_n));
    let Listeners { http, https, admin, health } = listeners;
    let admin_addr = admin.local_addr().map_err(RunError::Admin)?;
    let health_addr = health.local_addr().map_err(RunError::Admin)?;
    let https_addr = https.as_ref().map(Listener::local_addr);
    if settings.https_port.is_none() {
        settings.https_port = https_addr.map(|a| a.port());
    }
    let drain_timeout = settings.drain_timeout;
    let options = WorkerOptions {
        workers: workers_n,
        engine: io_engine,
        pin,
        settings,
        http: http.local_addr(),
        on_thread_start: None,
    };
    let tls = ServerTls::new(table.cell().clone(), tls_handshake_timeout)?;
    let https = https.map(|l| (l, tls.https_factory(metrics.clone())));
    let workers = worker::start_on::<Https>(options, http, https, table.clone(), metrics.clone())
        .map_err(RunError::Listen)?;
    tracing::info!(
        http = %workers.http_addr(),
        https = %https_addr.map_or_else(|| "none".to_string(), |a| a.to_string()),
        admin = %admin_addr,
        health = %health_addr,
        workers = workers_n,
        source = %provider.describe(),
        "ringress running"
    );
    rt.block_on(async move {
        let shutting_down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let state = AdminState {
            table,
            metrics: metrics.clone(),
            provider: provider.stats(),
            shutting_down: shutting_down.clone(),
        };
        // On a thread of its own: slow or many admin clients never delay
        // this thread's compiles and Lease renewals (`admin::start`).
        let _admin = admin::start(vec![(Scope::Admin, admin), (Scope::Health, health)], state)
            .map_err(RunError::Admin)?;
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let stop = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        // The provider runs until told to stop; should it end first (its
        // file watch ended), the controller cannot follow its source any
        // more and stops too, with an error.
        let mut provider = tokio::spawn(provider.provide(compile, publisher, stop));
        let mut workers_died = false;
        let provider_failed = tokio::select! {
            () = shutdown => false,
            _ = &mut provider => {
                tracing::error!("the configuration provider stopped; shutting down");
                true
            }
            () = every_worker_died(&metrics) => {
                tracing::error!("no worker is left; shutting down");
                workers_died = true;
                false
            }
        };
        // Not ready from now on; on a signal, keep serving for the delay
        // so endpoints and load balancers stop sending before the drain.
        shutting_down.store(true, std::sync::atomic::Ordering::Relaxed);
        if !provider_failed && !workers_died && !shutdown_delay.is_zero() {
            tracing::info!(delay = ?shutdown_delay, "shutting down: /readyz answers 503; serving on until the drain");
            tokio::time::sleep(shutdown_delay).await;
        }
        tracing::info!(timeout = ?drain_timeout, "stopping: draining connections");
        workers.stop();
        let _ = stop_tx.send(true);
        let joined = tokio::task::spawn_blocking(move || workers.join());
        let result = tokio::time::timeout(drain_timeout + Duration::from_secs(5), joined).await;
        // Let the provider stop on its own (a leader releases its Lease
        // here), but not for ever.
        if !provider_failed
            && tokio::time::timeout(Duration::from_secs(5), &mut provider).await.is_err()
        {
            provider.abort();
        }
        match result {
            Ok(_) if provider_failed => Err(RunError::ProviderStopped),
            Ok(_) if workers_died => Err(RunError::WorkersDied),
            Ok(_) => {
                tracing::info!("stopped");
                Ok(())
            }
            Err(_) => Err(RunError::DrainTimeout),
        }
    })
}

/// No endpoint may point the proxy at itself: every listener as bound,
/// and for listeners on `0.0.0.0` or `::` the host's own addresses (the
/// host-local ranges are the caller's choice, `compile`).
fn guard_own_listeners(guard: &mut EndpointGuard, listeners: &Listeners) {
    let Ok(addrs) = listeners.local_addrs() else { return };
    let own = [Some(addrs.http), addrs.https, Some(addrs.admin), Some(addrs.health)];
    guard.listeners = own.into_iter().flatten().collect();
    if guard.listeners.iter().any(|l| l.ip().is_unspecified()) {
        match crate::listen::interface_addresses() {
            Ok(local) => {
                for ip in local {
                    if !guard.local_addresses.contains(&ip) {
                        guard.local_addresses.push(ip);
                    }
                }
            }
            Err(e) => tracing::warn!(
                error = %e,
                "cannot list this host's addresses: endpoints at them on a listener's \
                 port are not refused (loopback still is)"
            ),
        }
    }
}

/// A configuration source made ready to follow: the same two steps for
/// each, checked (or connected) before any worker starts, then provided
/// until shutdown.
#[allow(clippy::large_enum_variant)] // one per run, built once: size does not matter
enum Provider {
    Manifests(PathBuf),
    Kubernetes(kube::Client, KubeConfig),
}

impl Provider {
    /// Check the directory, or connect to the cluster: a missing directory
    /// or a bad kubeconfig fails here, before any worker starts.
    fn prepare(
        rt: &tokio::runtime::Runtime,
        source: Source,
        compile: &CompileOptions,
    ) -> Result<Self, RunError> {
        match source {
            Source::Manifests(dir) => {
                manifests::check(&dir)?;
                Ok(Provider::Manifests(dir))
            }
            Source::Kubernetes(settings) => {
                let client = rt.block_on(kubernetes::connect(&settings))?;
                Ok(Provider::Kubernetes(
                    client,
                    kubernetes::provider_config(&settings, compile.clone()),
                ))
            }
        }
    }

    /// The source, for the start line.
    fn describe(&self) -> String {
        match self {
            Provider::Manifests(dir) => dir.display().to_string(),
            Provider::Kubernetes(..) => "kubernetes".to_string(),
        }
    }

    /// The provider's own counters for `/metrics`, when it keeps any.
    fn stats(&self) -> Option<Arc<KubeStats>> {
        match self {
            Provider::Manifests(_) => None,
            Provider::Kubernetes(_, config) => Some(config.stats.clone()),
        }
    }

    /// Keep the table in step with the source until `stop` resolves.
    async fn provide(
        self,
        compile: CompileOptions,
        publisher: Publisher,
        stop: impl Future<Output = ()> + Send,
    ) {
        match self {
            Provider::Manifests(dir) => manifests::provide(dir, compile, publisher, stop).await,
            Provider::Kubernetes(client, config) => {
                kubernetes::provide(client, config, publisher, stop).await
            }
        }
    }
}

/// Resolves once every worker thread has ended without being asked to
/// (see [`crate::worker::contain`]).
async fn every_worker_died(metrics: &Metrics) {
    while !metrics.all_workers_died() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every connection is a descriptor (two while proxied): take the hard
/// limit on open files, as nginx's `worker_rlimit_nofile` does, instead of
/// the soft 1024 most shells give, which caps a worker near 500 clients.
pub fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < 4096 => tracing::warn!(
            limit,
            "open files limit is low; raise the hard limit (ulimit -Hn) for many connections"
        ),
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit"),
    }
}

/// [`run`] until SIGTERM or SIGINT (`ringress run`, `ringress demo`). A
/// signal handler that cannot be installed stops the start, as an error.
pub fn run_until_signal(config: Config, listeners: Listeners) -> Result<(), RunError> {
    let (failed_tx, mut failed) = tokio::sync::oneshot::channel();
    let shutdown = async move {
        if let Err(e) = wait_for_signal().await {
            let _ = failed_tx.send(e);
        }
    };
    run(config, listeners, shutdown)?;
    match failed.try_recv() {
        Ok(e) => Err(RunError::Signal(e)),
        Err(_) => Ok(()),
    }
}

/// Resolves on the first SIGTERM or SIGINT. Polled inside [`run`]'s
/// runtime (tokio installs the handlers on first poll); fails only if the
/// handlers cannot be installed.
pub async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}
