//! The manifests source ([`Source::Manifests`](crate::config::Source)):
//! check the directory before serving, then keep the table in step with
//! it. The same two steps as `crate::kubernetes`; the provider itself
//! lives in `ringress_control::provider::dir`.

use std::future::Future;
use std::path::{Path, PathBuf};

use ringress_control::provider::dir::{self, DirError};
use ringress_control::{CompileOptions, Diagnostic, Publisher, RouteTable};

/// A directory this process can list (fails fast: before anything listens
/// when `main` calls it, before any worker starts in `run`).
pub fn check(dir: &Path) -> Result<(), DirError> {
    dir::check_dir(dir)
}

/// Keep the table in step with the manifests under `dir` until `shutdown`
/// resolves. Returns early only if the directory cannot be followed any
/// more (logged here).
pub async fn provide(
    dir: PathBuf,
    compile: CompileOptions,
    publisher: Publisher,
    shutdown: impl Future<Output = ()> + Send,
) {
    if let Err(e) = dir::run(dir, compile, publisher, shutdown).await {
        tracing::error!("manifests provider stopped: {e}");
    }
}

/// Read and compile the manifests under `dir` once (for `ringress demo`).
pub fn load(
    dir: &Path,
    options: &CompileOptions,
) -> Result<(RouteTable, Vec<Diagnostic>), DirError> {
    let (snapshot, mut diagnostics) = dir::load_dir(dir)?;
    let (table, more) = ringress_control::compile(&snapshot, options);
    diagnostics.extend(more);
    Ok((table, diagnostics))
}
