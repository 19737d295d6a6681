//! `ringress run` put together. The calling thread becomes the control
//! thread: a tokio current-thread runtime running the manifests provider,
//! the admin server and the signal handler; the workers run on their own
//! threads (see [`crate::worker`]).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::path::{Path, PathBuf};

use ringress_control::provider::dir;
use ringress_control::{CompileOptions, Diagnostic, Publisher, RouteTable};
use thiserror::Error;

use crate::admin::{self, AdminState};
use crate::cli::{CheckArgs, RunArgs, SecretRef};
use crate::metrics::Metrics;
use crate::tls::{Https, ServerTls, TlsSetupError};
use crate::worker::{self, engine, WorkerOptions};

/// Why `ringress run` could not start or stop cleanly.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    /// The data-plane listeners (the message names the address and which).
    #[error("{0}")]
    Listen(std::io::Error),
    #[error("cannot start the control runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot install the signal handler: {0}")]
    Signal(std::io::Error),
    #[error(transparent)]
    Manifests(#[from] dir::DirError),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error(transparent)]
    Kubernetes(#[from] ringress_control::provider::kube::ConnectError),
    #[error("{0}")]
    Flags(String),
    #[error("workers did not stop within the drain timeout")]
    DrainTimeout,
    #[error("the configuration provider stopped (see the log above)")]
    ProviderStopped,
    #[error("every worker thread ended unexpectedly (see the log above)")]
    WorkersDied,
}

/// Run until SIGTERM or SIGINT, then drain and return.
pub fn run(args: RunArgs) -> Result<(), ServeError> {
    raise_open_files_limit();
    let workers_n = args.workers.unwrap_or_else(engine::default_workers).max(1);
    if args.max_connections < workers_n {
        return Err(ServeError::Flags(format!(
            "--max-connections {} is less than the number of workers ({workers_n}): \
             each worker needs a share of at least one connection",
            args.max_connections
        )));
    }
    let options = CompileOptions {
        ingress_class: args.ingress_class.clone(),
        default_certificate: args.default_certificate.as_ref().map(SecretRef::pair),
        ..CompileOptions::default()
    };
    let publisher = Publisher::new();
    let table = publisher.handle();
    let metrics = Arc::new(Metrics::new(workers_n));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    // The Kubernetes client is built first: a missing in-cluster config or
    // a bad kubeconfig fails before any listener starts.
    let kube = match &args.manifests {
        Some(dir) => {
            args.kube.check_unused().map_err(ServeError::Flags)?;
            dir::check_dir(dir)?;
            None
        }
        None => {
            let config = args.kube.config(options.clone()).map_err(ServeError::Flags)?;
            Some((rt.block_on(crate::kubernetes::connect(&args.kube))?, config))
        }
    };
    let admin_listener = rt
        .block_on(tokio::net::TcpListener::bind(args.admin))
        .map_err(|source| ServeError::Bind { what: "admin", addr: args.admin, source })?;
    let settings = args.settings();
    let drain_timeout = settings.drain_timeout;
    let worker_options = WorkerOptions {
        workers: workers_n,
        engine: args.io_engine,
        pin: !args.no_pin,
        settings,
        http: args.http,
        on_thread_start: None,
    };
    let tls = ServerTls::new(table.cell().clone(), args.tls_handshake_timeout)?;
    let https = Some((args.https, tls.https_factory(metrics.clone())));
    let workers = worker::start::<Https>(worker_options, table.clone(), metrics.clone(), https)
        .map_err(ServeError::Listen)?;
    tracing::info!(
        http = %workers.http_addr(),
        https = %args.https,
        admin = %admin_listener.local_addr().unwrap_or(args.admin),
        workers = workers_n,
        source = %args.manifests.as_ref().map_or("kubernetes".into(), |d| d.display().to_string()),
        "ringress running"
    );
    rt.block_on(async move {
        let provider_stats = kube.as_ref().map(|(_, config)| config.stats.clone());
        let state = AdminState { table, metrics: metrics.clone(), provider: provider_stats };
        tokio::spawn(admin::serve(admin_listener, state));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let provider = match kube {
            Some((client, config)) => {
                tokio::spawn(crate::kubernetes::provide(client, config, publisher, stop_rx))
            }
            None => {
                let dir = args.manifests.clone().unwrap_or_default();
                tokio::spawn(provide(dir, options, publisher, stop_rx))
            }
        };
        // The provider runs until told to stop; should it end first (its
        // file watch ended), the controller cannot follow its source any
        // more and stops too, with an error.
        let mut provider = provider;
        let mut workers_died = false;
        let provider_failed = tokio::select! {
            signal = wait_for_signal() => {
                signal?;
                false
            }
            _ = &mut provider => {
                tracing::error!("the configuration provider stopped; shutting down");
                true
            }
            _ = every_worker_died(&metrics) => {
                tracing::error!("no worker is left; shutting down");
                workers_died = true;
                false
            }
        };
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
            Ok(_) if provider_failed => Err(ServeError::ProviderStopped),
            Ok(_) if workers_died => Err(ServeError::WorkersDied),
            Ok(_) => {
                tracing::info!("stopped");
                Ok(())
            }
            Err(_) => Err(ServeError::DrainTimeout),
        }
    })
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

/// Keep the table in step with the manifests directory until `stop`.
pub async fn provide(
    dir: PathBuf,
    options: CompileOptions,
    publisher: Publisher,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = dir::run(dir, options, publisher, shutdown).await {
        tracing::error!("manifests provider stopped: {e}");
    }
}

/// Read and compile the manifests under `dir` once (for `ringress demo`).
pub fn load(
    dir: &Path,
    options: &CompileOptions,
) -> Result<(RouteTable, Vec<Diagnostic>), dir::DirError> {
    let (snapshot, mut diagnostics) = dir::load_dir(dir)?;
    let (table, more) = ringress_control::compile(&snapshot, options);
    diagnostics.extend(more);
    Ok((table, diagnostics))
}

async fn wait_for_signal() -> Result<(), ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}

/// `ringress check`: print the compiled routes and every problem found;
/// exit 1 when any problem is an error.
pub fn check(args: &CheckArgs) -> ExitCode {
    let options = CompileOptions {
        ingress_class: args.ingress_class.clone(),
        default_certificate: args.default_certificate.as_ref().map(SecretRef::pair),
        ..CompileOptions::default()
    };
    let outcome = ringress_control::check::run(&args.manifests, &options);
    print!("{}", outcome.text);
    if outcome.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
