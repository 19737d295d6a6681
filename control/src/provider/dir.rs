//! The manifests provider: a directory of ordinary Kubernetes YAML/JSON,
//! so ringress runs with no cluster at all.
//!
//! [`load_dir`] reads every `.yaml`, `.yml` and `.json` file under the
//! directory (recursively, in name order; entries whose name starts with
//! `.` are skipped, which also skips the `..data` links of a mounted
//! ConfigMap). [`run`] watches the directory with inotify (through
//! `notify`, debounced) and republishes when the objects changed.
//!
//! Errors are reported and skipped, and the rest still compiles. What a
//! broken file stands for depends on its history: a file that read
//! cleanly before keeps its last good version live (an editor's
//! half-written save never drops a route); a file that never read cleanly
//! contributes only its valid objects. The live table is only replaced by
//! a newer one compiled from what is good.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};

use super::{NotPublished, Publish};
use crate::compile::{compile_with, CompileOptions, Diagnostic, Memo, Severity};
use crate::manifest;
use crate::snapshot::{Origin, Snapshot, Sourced};

/// Quiet time after the last file event before reloading: an editor's
/// save or a `kubectl`-style rewrite of several files becomes one reload.
/// A steady stream of events still reloads every [`MAX_DELAY`].
/// (Short: a reload reads only the files whose stamp moved, and a file
/// caught half-written keeps its last good version until the next event.)
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(10);

const MAX_DELAY: Duration = Duration::from_millis(250);

/// Does a file event say that something may have been written? Opening,
/// reading and closing a file unwritten (every reload does that to the
/// files it reads, and to the directory it lists) do not: were they taken
/// for changes, each reload would cause the next, for ever.
fn may_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Deepest directory nesting read (guards against symlink loops).
const MAX_DEPTH: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("manifests directory {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("manifests directory {}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("watching manifests directory {}: {source}", path.display())]
    Watch { path: PathBuf, source: notify::Error },
    #[error("manifests loader task failed: {0}")]
    Task(String),
}

/// Read every manifest under `dir` into a snapshot. Unreadable files,
/// YAML errors and invalid objects are diagnostics (with file, document,
/// object and field); only an unreadable directory is an error.
pub fn load_dir(dir: &Path) -> Result<(Snapshot, Vec<Diagnostic>), DirError> {
    let mut snapshot = Snapshot::default();
    let mut diagnostics = Vec::new();
    for file in load_files(dir)? {
        merge(&mut snapshot, file.snapshot);
        diagnostics.extend(file.diagnostics);
    }
    diagnostics.extend(manifest::dedup(&mut snapshot));
    Ok((snapshot, diagnostics))
}

/// What one manifest file held: its valid objects and its problems.
#[derive(Debug, Clone)]
struct FileLoad {
    path: PathBuf,
    snapshot: Snapshot,
    diagnostics: Vec<Diagnostic>,
}

/// A file of one reload: shared with the cache, and whether this reload
/// read it (rather than finding it unchanged).
struct Loaded {
    file: Arc<FileLoad>,
    fresh: bool,
}

impl FileLoad {
    fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// That `dir` exists, is a directory and can be listed: checked before
/// anything starts, so a wrong `--manifests` fails at once, naming it.
pub fn check_dir(dir: &Path) -> Result<(), DirError> {
    let meta =
        std::fs::metadata(dir).map_err(|source| DirError::Read { path: dir.into(), source })?;
    if !meta.is_dir() {
        return Err(DirError::NotADirectory(dir.into()));
    }
    std::fs::read_dir(dir).map_err(|source| DirError::Read { path: dir.into(), source })?;
    Ok(())
}

/// Read every manifest file under `dir`, each into its own snapshot.
fn load_files(dir: &Path) -> Result<Vec<FileLoad>, DirError> {
    check_dir(dir)?;
    let mut paths = Vec::new();
    collect(dir, 0, &mut paths).map_err(|source| DirError::Read { path: dir.into(), source })?;
    Ok(paths.into_iter().filter_map(load_file).collect())
}

/// `None` when the file went away between listing and reading: it is
/// removed, not broken, and takes its objects with it.
fn load_file(path: PathBuf) -> Option<FileLoad> {
    let mut snapshot = Snapshot::default();
    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let diagnostics = match std::fs::read_to_string(&path) {
        Ok(text) if json => manifest::parse_json_str(&text, Some(&path), &mut snapshot),
        Ok(text) => manifest::parse_str(&text, Some(&path), &mut snapshot),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => vec![Diagnostic {
            severity: Severity::Error,
            kind: String::new(),
            namespace: None,
            name: None,
            field: String::new(),
            reason: format!("cannot read: {e}"),
            origin: Some(Origin { file: Arc::from(path.as_path()), document: 0, line: 0 }),
        }],
    };
    Some(FileLoad { path, snapshot, diagnostics })
}

/// Which version of a file was read: a file whose identity, size and
/// times are unchanged is not read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        // Follows symlinks, as reading does: a ConfigMap's `..data` swap
        // changes the inode behind every file.
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// The files as last read, so that a change to one file of a large
/// directory reads and parses that file only.
#[derive(Default)]
struct FileCache {
    files: HashMap<PathBuf, (Stamp, Arc<FileLoad>)>,
}

impl FileCache {
    /// Every manifest file under `dir`: those whose [`Stamp`] moved are
    /// read again, the others come from the cache. `everything` (events
    /// may have been lost) reads every file.
    fn load(&mut self, dir: &Path, everything: bool) -> Result<Vec<Loaded>, DirError> {
        check_dir(dir)?;
        let mut paths = Vec::new();
        collect(dir, 0, &mut paths)
            .map_err(|source| DirError::Read { path: dir.into(), source })?;
        let mut next = HashMap::with_capacity(paths.len());
        let mut loads = Vec::with_capacity(paths.len());
        for path in paths {
            let stamp = Stamp::of(&path);
            // The watch also reports every open of a file (our own reads
            // included), so an event alone does not mean a change: a file
            // is read again when its stamp moved, or when events may have
            // been lost.
            let before = self.files.remove(&path);
            let cached = before.as_ref().filter(|(s, _)| !everything && Some(*s) == stamp);
            let (file, fresh) = match cached {
                Some((_, file)) => (file.clone(), false),
                None => match load_file(path.clone()) {
                    Some(mut file) => {
                        if let Some((_, old)) = &before {
                            keep_unchanged(&mut file.snapshot, &old.snapshot);
                        }
                        (Arc::new(file), true)
                    }
                    None => continue,
                },
            };
            if let Some(stamp) = stamp {
                next.insert(path, (stamp, file.clone()));
            }
            loads.push(Loaded { file, fresh });
        }
        self.files = next;
        Ok(loads)
    }
}

/// In a file read again, each object equal to one of the file's previous
/// version stays that very object (the same `Arc`; its origin is the new
/// one): the compile memo recognises objects by identity, so a change to
/// one object of a file recompiles what that object touches, not what
/// every object of the file does.
fn keep_unchanged(new: &mut Snapshot, old: &Snapshot) {
    keep_kind(&mut new.ingresses, &old.ingresses, |o| &o.metadata);
    keep_kind(&mut new.ingress_classes, &old.ingress_classes, |o| &o.metadata);
    keep_kind(&mut new.services, &old.services, |o| &o.metadata);
    keep_kind(&mut new.endpoint_slices, &old.endpoint_slices, |o| &o.metadata);
    keep_kind(&mut new.secrets, &old.secrets, |o| &o.metadata);
}

fn keep_kind<T: PartialEq>(
    new: &mut [Sourced<T>],
    old: &[Sourced<T>],
    meta: impl Fn(&T) -> &ObjectMeta,
) {
    if old.is_empty() {
        return;
    }
    fn key(m: &ObjectMeta) -> (&str, &str) {
        (m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or(""))
    }
    let mut before: crate::table::FastMap<(&str, &str), &Arc<T>> =
        crate::table::FastMap::with_capacity_and_hasher(old.len(), Default::default());
    for o in old {
        before.entry(key(meta(&o.object))).or_insert(&o.object);
    }
    for o in new {
        if let Some(&same) = before.get(&key(meta(&o.object))) {
            if **same == *o.object {
                o.object = same.clone();
            }
        }
    }
}

/// [`merge`] from a shared file (the objects themselves stay shared).
fn merge_shared(into: &mut Snapshot, from: &Snapshot) {
    into.ingresses.extend_from_slice(&from.ingresses);
    into.ingress_classes.extend_from_slice(&from.ingress_classes);
    into.services.extend_from_slice(&from.services);
    into.endpoint_slices.extend_from_slice(&from.endpoint_slices);
    into.secrets.extend_from_slice(&from.secrets);
}

fn merge(into: &mut Snapshot, from: Snapshot) {
    into.ingresses.extend(from.ingresses);
    into.ingress_classes.extend(from.ingress_classes);
    into.services.extend(from.services);
    into.endpoint_slices.extend(from.endpoint_slices);
    into.secrets.extend(from.secrets);
}

/// The last version of each file that read without errors.
#[derive(Default)]
struct LastGood {
    files: HashMap<PathBuf, Arc<FileLoad>>,
    /// The files the previous reload merged, in order, and the duplicates
    /// found among their objects.
    merged: Vec<Arc<FileLoad>>,
    duplicates: (Vec<Diagnostic>, manifest::Dropped),
}

impl LastGood {
    /// Merge this reload's files into one snapshot: a file with errors
    /// that read cleanly before stands for its last good version, any
    /// other file for what it holds now. Returns the snapshot, every
    /// diagnostic, and the files whose last good version was kept.
    fn resolve(&mut self, files: Vec<Loaded>) -> (Snapshot, Vec<Diagnostic>, Vec<PathBuf>) {
        let mut snapshot = Snapshot::default();
        let mut diagnostics = Vec::new();
        let mut kept = Vec::new();
        let mut seen = HashMap::with_capacity(files.len());
        let mut merged = Vec::with_capacity(files.len());
        for Loaded { file, fresh } in files {
            seen.insert(file.path.clone(), ());
            let used = if !file.has_errors() {
                // (A file read unchanged is already its own last good one.)
                if fresh || !self.files.contains_key(&file.path) {
                    self.files.insert(file.path.clone(), file.clone());
                }
                file.clone()
            } else if let Some(good) = self.files.get(&file.path) {
                kept.push(file.path.clone());
                good.clone()
            } else {
                file.clone()
            };
            merge_shared(&mut snapshot, &used.snapshot);
            merged.push(used);
            diagnostics.extend(file.diagnostics.iter().cloned());
        }
        // A removed file takes its objects with it.
        self.files.retain(|path, _| seen.contains_key(path));
        // Which objects are defined twice depends only on the files' names,
        // order and object keys: the same as last time, the same answer,
        // without a pass over every object.
        let same = merged.len() == self.merged.len()
            && merged.iter().zip(&self.merged).all(|(a, b)| same_keys(a, b));
        if !same {
            self.duplicates = manifest::duplicates(&snapshot);
        }
        self.merged = merged;
        let (found, dropped) = &self.duplicates;
        dropped.apply(&mut snapshot);
        diagnostics.extend(found.iter().cloned());
        (snapshot, diagnostics, kept)
    }
}

/// Do two versions of a file hold objects of the same kinds, namespaces
/// and names, at the same places (documents and lines)?
fn same_keys(a: &FileLoad, b: &FileLoad) -> bool {
    if std::ptr::eq(a, b) {
        return true;
    }
    let (a, b) = (&a.snapshot, &b.snapshot);
    same_kind_keys(&a.ingresses, &b.ingresses, |o| &o.metadata)
        && same_kind_keys(&a.ingress_classes, &b.ingress_classes, |o| &o.metadata)
        && same_kind_keys(&a.services, &b.services, |o| &o.metadata)
        && same_kind_keys(&a.endpoint_slices, &b.endpoint_slices, |o| &o.metadata)
        && same_kind_keys(&a.secrets, &b.secrets, |o| &o.metadata)
}

fn same_kind_keys<T>(a: &[Sourced<T>], b: &[Sourced<T>], meta: impl Fn(&T) -> &ObjectMeta) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            let (ma, mb) = (meta(&a.object), meta(&b.object));
            ma.namespace == mb.namespace && ma.name == mb.name && a.origin == b.origin
        })
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

/// Load off the async threads (blocking file reads), through the cache.
async fn load(
    dir: PathBuf,
    mut cache: FileCache,
    everything: bool,
) -> (FileCache, Result<Vec<Loaded>, DirError>) {
    let task = tokio::task::spawn_blocking(move || {
        let files = cache.load(&dir, everything);
        (cache, files)
    });
    match task.await {
        Ok(done) => done,
        Err(e) => (FileCache::default(), Err(DirError::Task(e.to_string()))),
    }
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
    check_dir(&dir)?;
    // Watch before the first read, so no change slips in between.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<notify::Result<()>>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = match event {
            Ok(event) if !may_change(&event.kind) => return,
            Ok(_) => tx.send(Ok(())),
            Err(e) => tx.send(Err(e)),
        };
    })
    .map_err(|source| DirError::Watch { path: dir.clone(), source })?;
    watcher
        .watch(&dir, RecursiveMode::Recursive)
        .map_err(|source| DirError::Watch { path: dir.clone(), source })?;

    let names = super::resolve::ExternalNameResolver::start(&options.dns, Default::default());
    let mut last_good = LastGood::default();
    // Kept across compiles: a change recompiles only what it touched.
    let memo = Arc::new(Mutex::new(Memo::default()));
    let started = Instant::now();
    let (mut cache, files) = load(dir.clone(), FileCache::default(), true).await;
    let (snapshot, diagnostics, _) = last_good.resolve(files?);
    let mut reported = diagnostics.clone();
    let with_names = names.options(&snapshot, &options);
    let mut live = publish(&mut sink, snapshot, diagnostics, &with_names, &memo, started).await;
    tokio::pin!(shutdown);
    loop {
        // After a watch error (which may have lost events) every file is
        // read again; otherwise only those whose stamp moved.
        let mut everything = false;
        let mut note = |event: notify::Result<()>| match event {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "file watch error: {e}; reading every file");
                everything = true;
            }
        };
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            event = rx.recv() => match event {
                None => return Ok(()),
                Some(event) => note(event),
            },
            () = names.changed() => {
                // An ExternalName answer changed: the same objects again.
                let with_names = names.options(&live.snapshot, &options);
                let now = Instant::now();
                live = publish(&mut sink, live.snapshot, Vec::new(), &with_names, &memo, now).await;
                continue;
            }
        }
        // Debounce: wait for a quiet gap, but never longer than MAX_DELAY.
        let hard = tokio::time::Instant::now() + MAX_DELAY;
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    None => return Ok(()),
                    Some(event) => note(event),
                },
                () = tokio::time::sleep(DEBOUNCE) => break,
                () = tokio::time::sleep_until(hard) => break,
            }
        }
        // The batch of watch events is in (its debounce is behind us).
        let woke = Instant::now();
        let (kept_cache, files) = load(dir.clone(), cache, everything).await;
        cache = kept_cache;
        let files = match files {
            Ok(files) => files,
            Err(e) => {
                tracing::error!("{e}; keeping generation {}", live.generation);
                continue;
            }
        };
        let (snapshot, diagnostics, kept) = last_good.resolve(files);
        let log_kept = || {
            for file in &kept {
                tracing::error!(
                    file = %file.display(),
                    "manifest file has errors; its last good version stays live"
                );
            }
        };
        if snapshot == live.snapshot {
            // Errors already reported for these very objects are not news:
            // a watch event that changed nothing (a stray second batch, a
            // touched file) must not re-announce them.
            if diagnostics != reported && diagnostics.iter().any(Diagnostic::is_error) {
                log_kept();
                log(&diagnostics);
                tracing::error!(
                    dir = %dir.display(),
                    "manifests have errors and nothing good changed; generation {} stays live",
                    live.generation
                );
                sink.not_published(NotPublished::Rejected {
                    live_generation: live.generation,
                    diagnostics: &diagnostics,
                });
            } else {
                tracing::debug!(dir = %dir.display(), "manifests unchanged; nothing to publish");
                sink.not_published(NotPublished::Unchanged { live_generation: live.generation });
            }
            reported = diagnostics;
            continue;
        }
        log_kept();
        reported = diagnostics.clone();
        let with_names = names.options(&snapshot, &options);
        live = publish(&mut sink, snapshot, diagnostics, &with_names, &memo, woke).await;
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
    memo: &Arc<Mutex<Memo>>,
    woke: Instant,
) -> Live {
    let options = options.clone();
    let memo = memo.clone();
    let read = woke.elapsed();
    let compiled = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let (table, more) = compile_with(&snapshot, &options, &mut super::kube::lock(&memo));
        (snapshot, table, more, started.elapsed())
    })
    .await;
    let (snapshot, table, mut more, compile_time) = match compiled {
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
    // Where the time went since the watch events arrived: reading the
    // changed files, the compile, and the rest (hand-off, logging,
    // publishing).
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    tracing::info!(
        generation,
        routes,
        diagnostics = diagnostics.len(),
        read_ms = format_args!("{:.1}", ms(read)),
        compile_ms = format_args!("{:.1}", ms(compile_time)),
        total_ms = format_args!("{:.1}", ms(woke.elapsed())),
        "route table published"
    );
    Live { snapshot, generation }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file listed and then removed before it is read is a removal, not
    /// an unreadable file whose last good version would stay live.
    #[test]
    fn a_file_removed_before_it_is_read_is_absent_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.yaml");
        assert!(load_file(path.clone()).is_none());

        std::fs::write(&path, "kind: Service\nmetadata: {name: [broken\n").unwrap();
        let broken = load_file(path).expect("a present file is read");
        assert!(broken.has_errors());
    }

    fn service(name: &str, port: u16) -> String {
        format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: ns}}\nspec: {{ports: [{{port: {port}}}]}}\n"
        )
    }

    /// A file read again after one of its objects changed hands out the
    /// others as the very objects it read before, so that the compile memo
    /// redoes only what the changed one touches.
    #[test]
    fn a_file_read_again_keeps_its_unchanged_objects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("services.yaml");
        std::fs::write(&path, service("a", 80) + &service("b", 80)).unwrap();
        let mut cache = FileCache::default();
        let before = cache.load(dir.path(), false).unwrap();
        std::fs::write(&path, service("a", 80) + &service("b", 81)).unwrap();
        let after = cache.load(dir.path(), true).unwrap();
        assert!(after[0].fresh, "the changed file is read again");
        let (old, new) = (&before[0].file.snapshot.services, &after[0].file.snapshot.services);
        assert!(Arc::ptr_eq(&old[0].object, &new[0].object), "unchanged: the same object");
        assert!(!Arc::ptr_eq(&old[1].object, &new[1].object), "changed: a new object");
        assert_eq!(new[1].object.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port, 81);
    }

    /// An object defined in two files stays reported (and dropped) on a
    /// reload that changes neither file's objects' names, where the answer
    /// of the previous reload is reused.
    #[test]
    fn duplicates_stay_reported_when_the_names_did_not_change() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), service("a", 80)).unwrap();
        std::fs::write(dir.path().join("b.yaml"), service("a", 81)).unwrap();
        let (mut cache, mut last_good) = (FileCache::default(), LastGood::default());
        let (first, diagnostics, _) = last_good.resolve(cache.load(dir.path(), false).unwrap());
        assert_eq!((first.services.len(), diagnostics.len()), (1, 1));
        std::fs::write(dir.path().join("b.yaml"), service("a", 82)).unwrap();
        let (second, again, _) = last_good.resolve(cache.load(dir.path(), true).unwrap());
        assert_eq!(second.services.len(), 1);
        assert_eq!(again, diagnostics);
        std::fs::write(dir.path().join("b.yaml"), service("c", 82)).unwrap();
        let (third, none, _) = last_good.resolve(cache.load(dir.path(), true).unwrap());
        assert_eq!((third.services.len(), none.len()), (2, 0), "a rename is seen");
    }
}
