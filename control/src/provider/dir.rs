//! The manifests provider: a directory of ordinary Kubernetes YAML/JSON,
//! so ringress runs with no cluster at all.
//!
//! [`load_dir`] reads every `.yaml`, `.yml` and `.json` file under the
//! directory (recursively, in name order; entries whose name starts with
//! `.` are skipped, which also skips the `..data` links of a mounted
//! ConfigMap). [`run`] watches the directory with inotify (through
//! `notify`, debounced) and republishes when the objects changed.
//!
//! The last good table stays live: once a table is published, a reload in
//! which a file does not parse or an object fails to decode is reported
//! and not published. The first table is published even with such errors
//! (the rest compiles), so that ringress serves what it can.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult};

use super::{NotPublished, Publish};
use crate::compile::{compile, CompileOptions, Diagnostic, Severity};
use crate::manifest;
use crate::snapshot::{Origin, Snapshot};

/// Quiet time after the last file event before reloading: an editor's
/// save or a `kubectl`-style rewrite of several files becomes one reload.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Deepest directory nesting read (guards against symlink loops).
const MAX_DEPTH: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("manifests directory {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("manifests directory {}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("watching manifests directory {}: {source}", path.display())]
    Watch { path: PathBuf, source: notify_debouncer_mini::notify::Error },
    #[error("manifests loader task failed: {0}")]
    Task(String),
}

/// Read every manifest under `dir` into a snapshot. Unreadable files,
/// YAML errors and invalid objects are diagnostics (with file, document,
/// object and field); only an unreadable directory is an error.
pub fn load_dir(dir: &Path) -> Result<(Snapshot, Vec<Diagnostic>), DirError> {
    let meta =
        std::fs::metadata(dir).map_err(|source| DirError::Read { path: dir.into(), source })?;
    if !meta.is_dir() {
        return Err(DirError::NotADirectory(dir.into()));
    }
    let mut files = Vec::new();
    collect(dir, 0, &mut files).map_err(|source| DirError::Read { path: dir.into(), source })?;
    let mut snapshot = Snapshot::default();
    let mut diagnostics = Vec::new();
    for file in files {
        let json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        match std::fs::read_to_string(&file) {
            Ok(text) if json => {
                diagnostics.extend(manifest::parse_json_str(&text, Some(&file), &mut snapshot))
            }
            Ok(text) => diagnostics.extend(manifest::parse_str(&text, Some(&file), &mut snapshot)),
            Err(e) => diagnostics.push(Diagnostic {
                severity: Severity::Error,
                kind: String::new(),
                namespace: None,
                name: None,
                field: String::new(),
                reason: format!("cannot read: {e}"),
                origin: Some(Origin { file, document: 0, line: 0 }),
            }),
        }
    }
    diagnostics.extend(manifest::dedup(&mut snapshot));
    Ok((snapshot, diagnostics))
}

fn collect(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symlinks; a dangling link is skipped.
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_dir() {
            if depth < MAX_DEPTH {
                collect(&path, depth + 1, files)?;
            }
        } else if is_manifest(&path) {
            files.push(path);
        }
    }
    Ok(())
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["yaml", "yml", "json"].iter().any(|m| e.eq_ignore_ascii_case(m)))
}

/// Load off the async threads (blocking file reads).
async fn load(dir: PathBuf) -> Result<(Snapshot, Vec<Diagnostic>), DirError> {
    tokio::task::spawn_blocking(move || load_dir(&dir))
        .await
        .map_err(|e| DirError::Task(e.to_string()))?
}

fn log(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        match d.severity {
            Severity::Error => tracing::error!("{d}"),
            Severity::Warning => tracing::warn!("{d}"),
        }
    }
}

/// Watch `dir` and publish a table for it now and after every change,
/// until `shutdown` resolves. Fails only when the directory cannot be read
/// or watched at start.
pub async fn run(
    dir: PathBuf,
    options: CompileOptions,
    mut sink: impl Publish,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DirError> {
    // Watch before the first read, so no change slips in between.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, move |ev: DebounceEventResult| {
        let _ = tx.send(ev);
    })
    .map_err(|source| DirError::Watch { path: dir.clone(), source })?;
    debouncer
        .watcher()
        .watch(&dir, RecursiveMode::Recursive)
        .map_err(|source| DirError::Watch { path: dir.clone(), source })?;

    let (snapshot, diagnostics) = load(dir.clone()).await?;
    let mut live = publish(&mut sink, snapshot, diagnostics, &options).await;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            event = rx.recv() => match event {
                None => return Ok(()),
                Some(Err(e)) => tracing::warn!(dir = %dir.display(), "file watch error: {e}"),
                Some(Ok(_)) => {}
            },
        }
        // Coalesce whatever else arrived meanwhile.
        while rx.try_recv().is_ok() {}
        let (snapshot, diagnostics) = match load(dir.clone()).await {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!("{e}; keeping generation {}", live.generation);
                continue;
            }
        };
        if snapshot == live.snapshot {
            tracing::debug!(dir = %dir.display(), "manifests unchanged; nothing to publish");
            sink.not_published(NotPublished::Unchanged { live_generation: live.generation });
            continue;
        }
        if diagnostics.iter().any(Diagnostic::is_error) {
            log(&diagnostics);
            tracing::error!(
                dir = %dir.display(),
                "manifests have errors; keeping the last good table (generation {})",
                live.generation
            );
            sink.not_published(NotPublished::Rejected {
                live_generation: live.generation,
                diagnostics: &diagnostics,
            });
            continue;
        }
        live = publish(&mut sink, snapshot, diagnostics, &options).await;
    }
}

/// What is live: the objects it was compiled from, and its generation.
struct Live {
    snapshot: Snapshot,
    generation: u64,
}

async fn publish(
    sink: &mut impl Publish,
    snapshot: Snapshot,
    mut diagnostics: Vec<Diagnostic>,
    options: &CompileOptions,
) -> Live {
    let options = options.clone();
    let compiled = tokio::task::spawn_blocking(move || {
        let (table, more) = compile(&snapshot, &options);
        (snapshot, table, more)
    })
    .await;
    let (snapshot, table, mut more) = match compiled {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("compile task failed: {e}");
            return Live { snapshot: Snapshot::default(), generation: 0 };
        }
    };
    diagnostics.append(&mut more);
    log(&diagnostics);
    let routes: usize = table.virtual_hosts().iter().map(|v| v.routes().len()).sum();
    let generation = sink.publish(table);
    tracing::info!(generation, routes, diagnostics = diagnostics.len(), "route table published");
    Live { snapshot, generation }
}
