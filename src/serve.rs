//! `ringress run` put together. The calling thread becomes the control
//! thread: a tokio current-thread runtime running the manifests provider,
//! the admin server and the signal handler; the workers run on their own
//! threads (see [`crate::worker`]).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::path::{Path, PathBuf};

use ringress_control::{manifest, CompileOptions, Diagnostic, Publisher, RouteTable, Snapshot};
use thiserror::Error;

use crate::admin::{self, AdminState};
use crate::cli::{CheckArgs, RunArgs};
use crate::metrics::Metrics;
use crate::worker::{self, engine, Plain, WorkerOptions};

/// Why `ringress run` could not start or stop cleanly.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the control runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot install the signal handler: {0}")]
    Signal(std::io::Error),
    #[error("cannot read manifests in {dir}: {source}")]
    Manifests { dir: PathBuf, source: std::io::Error },
    #[error("workers did not stop within the drain timeout")]
    DrainTimeout,
}

/// Run until SIGTERM or SIGINT, then drain and return.
pub fn run(args: RunArgs) -> Result<(), ServeError> {
    let workers_n = args.workers.unwrap_or_else(engine::default_workers).max(1);
    let options =
        CompileOptions { ingress_class: args.ingress_class.clone(), ..CompileOptions::default() };
    let publisher = Publisher::new();
    let table = publisher.handle();
    let metrics = Arc::new(Metrics::new(workers_n));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
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
    };
    // The HTTPS listener is added here once TLS termination is wired in.
    let workers = worker::start::<Plain>(worker_options, table.clone(), metrics.clone(), None)
        .map_err(|source| ServeError::Bind { what: "http", addr: args.http, source })?;
    tracing::info!(
        http = %workers.http_addr(),
        admin = %args.admin,
        workers = workers_n,
        manifests = %args.manifests.display(),
        "ringress running"
    );
    rt.block_on(async move {
        tokio::spawn(admin::serve(admin_listener, AdminState { table, metrics }));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let provider = tokio::spawn(provide(args.manifests.clone(), options, publisher, stop_rx));
        wait_for_signal().await?;
        tracing::info!(timeout = ?drain_timeout, "stopping: draining connections");
        workers.stop();
        let _ = stop_tx.send(true);
        let joined = tokio::task::spawn_blocking(move || workers.join());
        let result = tokio::time::timeout(drain_timeout + Duration::from_secs(5), joined).await;
        provider.abort();
        match result {
            Ok(_) => {
                tracing::info!("stopped");
                Ok(())
            }
            Err(_) => Err(ServeError::DrainTimeout),
        }
    })
}

/// Keep the table in step with the manifests directory until `stop`:
/// publish at start, then whenever the files change (polled every
/// [`POLL`]); a directory with errors keeps the last good table.
pub async fn provide(
    dir: PathBuf,
    options: CompileOptions,
    mut publisher: Publisher,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut last: Option<Vec<u8>> = None;
    loop {
        let d = dir.clone();
        let read = tokio::task::spawn_blocking(move || read_manifests(&d)).await;
        match read {
            Ok(Ok(files)) => {
                let fingerprint: Vec<u8> = files
                    .iter()
                    .flat_map(|(p, t)| p.as_os_str().as_encoded_bytes().iter().chain(t.as_bytes()))
                    .copied()
                    .collect();
                if last.as_ref() != Some(&fingerprint) {
                    let (table, diagnostics) = compile_files(&files, &options);
                    for d in &diagnostics {
                        if d.is_error() {
                            tracing::error!("{d}");
                        } else {
                            tracing::warn!("{d}");
                        }
                    }
                    if diagnostics.iter().any(Diagnostic::is_error) {
                        tracing::error!(dir = %dir.display(), "manifests have errors; keeping the last good table");
                    } else {
                        let generation = publisher.publish(table);
                        tracing::info!(generation, dir = %dir.display(), "route table published");
                    }
                    last = Some(fingerprint);
                }
            }
            Ok(Err(e)) => tracing::error!(dir = %dir.display(), "cannot read manifests: {e}"),
            Err(e) => tracing::error!("manifest reader failed: {e}"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// How often `provide` looks at the manifests directory.
const POLL: Duration = Duration::from_secs(1);

/// Read and compile the manifests under `dir` once.
pub fn load(
    dir: &Path,
    options: &CompileOptions,
) -> std::io::Result<(RouteTable, Vec<Diagnostic>)> {
    Ok(compile_files(&read_manifests(dir)?, options))
}

/// Every `.yaml`, `.yml` and `.json` file under `dir`, sorted by path.
fn read_manifests(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["yaml", "yml", "json"].contains(&e))
            {
                let text = std::fs::read_to_string(&path)?;
                files.push((path, text));
            }
        }
    }
    files.sort();
    Ok(files)
}

fn compile_files(
    files: &[(PathBuf, String)],
    options: &CompileOptions,
) -> (RouteTable, Vec<Diagnostic>) {
    let mut snapshot = Snapshot::default();
    let mut diagnostics = Vec::new();
    for (path, text) in files {
        diagnostics.extend(manifest::parse_str(text, Some(path), &mut snapshot));
    }
    diagnostics.extend(manifest::dedup(&mut snapshot));
    let (table, more) = ringress_control::compile(&snapshot, options);
    diagnostics.extend(more);
    (table, diagnostics)
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

/// `ringress check`: print every problem found and the routes; exit 1
/// when any problem is an error.
pub fn check(args: &CheckArgs) -> ExitCode {
    let options =
        CompileOptions { ingress_class: args.ingress_class.clone(), ..CompileOptions::default() };
    let files = match read_manifests(&args.manifests) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("ringress: cannot read {}: {e}", args.manifests.display());
            return ExitCode::from(1);
        }
    };
    let (table, diagnostics) = compile_files(&files, &options);
    for d in &diagnostics {
        println!("{d}");
    }
    let routes = crate::admin::routes_json(&table, 0);
    println!("{}", serde_json::to_string_pretty(&routes).unwrap_or_default());
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    println!(
        "{} file(s), {errors} error(s), {} warning(s)",
        files.len(),
        diagnostics.len() - errors
    );
    if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
