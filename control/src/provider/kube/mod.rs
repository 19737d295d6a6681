//! The Kubernetes provider: reflectors on Ingress, IngressClass, Service,
//! EndpointSlice and TLS Secret, debounced into one compile and publish.
//!
//! Life of a table here:
//! 1. every kind is listed (paged) and then watched; the store of a kind
//!    is swapped in one piece when its list completes (`InitDone`), so a
//!    relist after a `410 Gone` or a dropped watch never exposes a partial
//!    store;
//! 2. nothing is published until every kind completed its first list, so
//!    the first table is complete and `/readyz` (the table being live)
//!    means "caches synced";
//! 3. each change wakes the compiler, which waits for a quiet gap
//!    ([`KubeConfig::debounce`]) bounded by [`KubeConfig::max_delay`], then
//!    compiles every store into one table and publishes it — unless only
//!    what the compiler ignores changed (Ingress status, resourceVersions),
//!    which keeps the live table and its generation;
//! 4. the elected leader writes Ingress status and Events (see
//!    [`crate::leader`], [`crate::status`], [`crate::events`]).
//!
//! Errors from the API server are stream items: logged, counted in
//! [`KubeStats`], followed by a back-off that only resets on progress
//! (kube's own stream back-off resets on the `Init` event that follows
//! every failed list, so a refused list would retry at the first step for
//! ever); they never end the provider.

mod backoff;
mod client;
mod interest;
mod secrets;
mod store;
mod watch;
mod writer;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::Api;
use kube::runtime::watcher;
use kube::Client;
use tokio::sync::{watch as channel, Notify};

use interest::Interest;
use store::Store;
use watch::Wake;

pub(crate) use backoff::Backoff;

use super::Publish;
use crate::compile::{compile_with, CompileOptions, Diagnostic, Memo};
use crate::leader::LeaseConfig;
use crate::snapshot::{Snapshot, Sourced};
use crate::status::PublishTarget;

/// Every API call the controller makes, as `(apiGroup, resource, verb,
/// namespaced-to-own-namespace)`. `deploy/rbac.yaml` must grant each of
/// them; a test checks it against this list.
pub const API_ACCESS: &[(&str, &str, &str, bool)] = &[
    ("networking.k8s.io", "ingresses", "list", false),
    ("networking.k8s.io", "ingresses", "watch", false),
    ("networking.k8s.io", "ingressclasses", "list", false),
    ("networking.k8s.io", "ingressclasses", "watch", false),
    ("", "services", "list", false),
    ("", "services", "watch", false),
    ("", "services", "get", false),
    ("discovery.k8s.io", "endpointslices", "list", false),
    ("discovery.k8s.io", "endpointslices", "watch", false),
    ("", "secrets", "list", false),
    ("", "secrets", "watch", false),
    ("networking.k8s.io", "ingresses/status", "patch", false),
    ("", "events", "create", false),
    ("coordination.k8s.io", "leases", "get", true),
    ("coordination.k8s.io", "leases", "create", true),
    ("coordination.k8s.io", "leases", "update", true),
];

/// How the Kubernetes provider runs.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    /// Watch one namespace (`--namespace`) or all (`None`). IngressClasses
    /// are cluster-scoped and always watched cluster-wide.
    pub namespace: Option<String>,
    pub compile: CompileOptions,
    /// Where Ingress status comes from; `None` writes no status.
    pub publish: Option<PublishTarget>,
    /// Leader election for status and Events; `None` never writes either.
    pub election: Option<LeaseConfig>,
    /// Quiet gap that ends a burst of changes.
    pub debounce: Duration,
    /// Longest a burst may delay a compile.
    pub max_delay: Duration,
    /// First and longest pause after a watch error.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Status is re-checked this often even without changes (retries
    /// failed writes, repairs status edited by hand).
    pub status_resync: Duration,
    pub stats: Arc<KubeStats>,
}

impl Default for KubeConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            compile: CompileOptions::default(),
            publish: None,
            election: None,
            // Short: at scale a compile takes longer than this, and
            // changes that arrive during one are taken together by the
            // next; a `kubectl apply` of many objects sends them within it.
            debounce: Duration::from_millis(5),
            max_delay: Duration::from_millis(250),
            // client-go's reflector back-off: 800 ms doubling to 30 s.
            backoff_initial: Duration::from_millis(800),
            backoff_max: Duration::from_secs(30),
            status_resync: Duration::from_secs(60),
            stats: Arc::default(),
        }
    }
}

/// Counters and state of the provider, for metrics, `/readyz` and tests.
#[derive(Debug, Default)]
pub struct KubeStats {
    /// Every kind completed its first list and a table was published.
    pub synced: AtomicBool,
    /// This replica holds the Lease (status and Events are its job).
    pub leader: AtomicBool,
    pub watch_errors: AtomicU64,
    /// Lists or watches refused with 403.
    pub forbidden: AtomicU64,
    /// Full lists started (first list and relists).
    pub relists: AtomicU64,
    pub compiles: AtomicU64,
    /// Status passes run by the leader (each compares every served
    /// Ingress and writes the ones that differ).
    pub status_passes: AtomicU64,
    pub status_updates: AtomicU64,
    pub status_errors: AtomicU64,
    pub events_created: AtomicU64,
    /// TLS Secrets held with their data (those a served Ingress or
    /// `--default-certificate` names; see `secrets`).
    pub tls_secrets_kept: AtomicU64,
}

impl KubeStats {
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// The counters in the Prometheus text format, for `/metrics`.
    pub fn render(&self) -> String {
        let gauge = |b: &AtomicBool| u64::from(b.load(Ordering::Relaxed));
        let rows: [(&str, &str, &str, u64); 11] = [
            (
                "ringress_kube_synced",
                "gauge",
                "1 once every watched kind was listed and a table published",
                gauge(&self.synced),
            ),
            (
                "ringress_kube_leader",
                "gauge",
                "1 while this replica holds the Lease",
                gauge(&self.leader),
            ),
            (
                "ringress_kube_watch_errors_total",
                "counter",
                "list and watch errors (each followed by a back-off)",
                self.watch_errors.load(Ordering::Relaxed),
            ),
            (
                "ringress_kube_forbidden_total",
                "counter",
                "lists and watches refused with 403",
                self.forbidden.load(Ordering::Relaxed),
            ),
            (
                "ringress_kube_relists_total",
                "counter",
                "full lists started, first ones included",
                self.relists.load(Ordering::Relaxed),
            ),
            (
                "ringress_kube_compiles_total",
                "counter",
                "tables compiled from the cluster",
                self.compiles.load(Ordering::Relaxed),
            ),
            (
                "ringress_kube_status_passes_total",
                "counter",
                "Ingress status passes run as leader",
                self.status_passes.load(Ordering::Relaxed),
            ),
            (
                "ringress_kube_status_updates_total",
                "counter",
                "Ingress statuses written",
                self.status_updates.load(Ordering::Relaxed),
            ),
            (
                "ringress_kube_status_errors_total",
                "counter",
                "failed status passes",
                self.status_errors.load(Ordering::Relaxed),
            ),
            (
                "ringress_kube_events_created_total",
                "counter",
                "Events created for invalid Ingresses",
                self.events_created.load(Ordering::Relaxed),
            ),
            (
                "ringress_kube_tls_secrets_kept",
                "gauge",
                "TLS Secrets held with their data (named by a served Ingress or the default certificate)",
                self.tls_secrets_kept.load(Ordering::Relaxed),
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        }
        out
    }
}

/// What the leader's status and event writers see after each compile.
/// (No `Debug`: the snapshot holds TLS Secrets.)
#[derive(Default)]
pub(crate) struct Compiled {
    pub(crate) snapshot: Snapshot,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// The five stores the compiler reads.
#[derive(Clone)]
struct Stores {
    ingresses: Store<Ingress>,
    classes: Store<IngressClass>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    secrets: Store<Secret>,
}

impl Stores {
    fn snapshot(&self) -> Snapshot {
        fn copy<K: store::Watched>(store: &Store<K>) -> Vec<Sourced<K>> {
            store.state().into_iter().map(Sourced::shared).collect()
        }
        Snapshot {
            ingresses: copy(&self.ingresses),
            ingress_classes: copy(&self.classes),
            services: copy(&self.services),
            endpoint_slices: copy(&self.slices),
            secrets: copy(&self.secrets),
        }
    }
}

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("--kubeconfig {path}: {source}")]
    Kubeconfig { path: std::path::PathBuf, source: kube::config::KubeconfigError },
    #[error(
        "in-cluster configuration unavailable ({0}); outside a cluster pass --kubeconfig PATH"
    )]
    InCluster(kube::config::InClusterError),
    #[error("cannot build the Kubernetes client: {0}")]
    Client(kube::Error),
}

/// A client from `kubeconfig` when given, else from the in-cluster
/// service account (`KUBERNETES_SERVICE_HOST` and the mounted token).
pub async fn connect(kubeconfig: Option<&std::path::Path>) -> Result<Client, ConnectError> {
    let config = match kubeconfig {
        Some(path) => {
            let error = |source| ConnectError::Kubeconfig { path: path.to_path_buf(), source };
            let file = kube::config::Kubeconfig::read_from(path).map_err(error)?;
            kube::Config::from_custom_kubeconfig(file, &Default::default()).await.map_err(error)?
        }
        None => kube::Config::incluster().map_err(ConnectError::InCluster)?,
    };
    client::build(with_timeouts(config)).map_err(ConnectError::Client)
}

/// An API server that stops answering must not hold a request for ever:
/// connecting is bounded by 10 s, and every response by 295 s of silence
/// (longer than a watch's own 290 s server-side timeout and than the gap
/// between its bookmarks, so quiet watches live on), counted from the
/// request's last write. The leader election bounds its own calls much
/// tighter (`leader::run`). Connections also have TCP keepalive
/// (`client`): a peer gone silent is found in about a minute.
fn with_timeouts(mut config: kube::Config) -> kube::Config {
    config.connect_timeout = Some(std::time::Duration::from_secs(10));
    config.read_timeout = Some(std::time::Duration::from_secs(295));
    config.reset_reader_on_write = true;
    config
}

/// Run the provider until `shutdown` resolves. Publishes through
/// `publisher`; the first table appears only after every kind is synced.
pub async fn run<P: Publish>(
    client: Client,
    config: KubeConfig,
    mut publisher: P,
    shutdown: impl Future<Output = ()> + Send,
) {
    let stats = config.stats.clone();
    let mut synced_flags = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let scope = match &config.namespace {
        Some(ns) => format!("in namespace {ns}"),
        None => "cluster-wide".to_string(),
    };

    let changed = Arc::new(Wake::default());
    let interest = Arc::new(Interest::default());
    macro_rules! spawn_watch {
        ($kind:ty, $api:expr, $wc:expr, $rbac:expr, $scope:expr, $judge:expr) => {
            spawn_watch!(
                $kind,
                $api,
                $wc,
                $rbac,
                $scope,
                $judge,
                Arc::new(|_: &$kind| false),
                Arc::new(watch::strip::<$kind>),
                None
            )
        };
        ($kind:ty, $api:expr, $wc:expr, $rbac:expr, $scope:expr, $judge:expr, $reads:expr, $trim:expr, $relist:expr) => {{
            let store = Store::<$kind>::default();
            let synced = Arc::new(AtomicBool::new(false));
            synced_flags.push(synced.clone());
            let i = interest.clone();
            let judge: watch::Judge<$kind> = Arc::new(move |b, a| $judge(&i, b, a));
            let w = watch::Watch {
                api: $api,
                config: $wc,
                store: store.clone(),
                judge,
                status_reads: $reads,
                rbac_name: $rbac,
                scope: $scope,
                backoff: Backoff::new(config.backoff_initial, config.backoff_max),
                synced,
                trim: $trim,
                relist: $relist,
            };
            tasks.spawn(w.run(changed.clone(), stats.clone()));
            store
        }};
    }
    let always = |_: &Interest, _: Option<&IngressClass>, _: Option<&IngressClass>| true;
    // The status writer reads the published Service's status.
    let publish_service: Arc<dyn Fn(&Service) -> bool + Send + Sync> = match &config.publish {
        Some(PublishTarget::Service { namespace, name }) => {
            let (namespace, name) = (namespace.clone(), name.clone());
            Arc::new(move |s: &Service| {
                s.metadata.name.as_deref() == Some(name.as_str())
                    && crate::compile::namespace_of(&s.metadata) == namespace
            })
        }
        _ => Arc::new(|_: &Service| false),
    };

    let wc = watcher::Config::default();
    let filter = Arc::new(secrets::SecretFilter::default());
    let trim_secret = {
        let filter = filter.clone();
        Arc::new(move |s: &mut Secret| filter.trim(s))
    };
    let stores = Stores {
        ingresses: spawn_watch!(
            Ingress,
            scoped(&client, &config.namespace),
            wc.clone(),
            "ingresses.networking.k8s.io",
            scope.clone(),
            Interest::ingress,
            Arc::new(|_: &Ingress| true),
            Arc::new(watch::strip::<Ingress>),
            None
        ),
        classes: spawn_watch!(
            IngressClass,
            Api::all(client.clone()),
            wc.clone(),
            "ingressclasses.networking.k8s.io",
            "cluster-wide".to_string(),
            always
        ),
        services: spawn_watch!(
            Service,
            scoped(&client, &config.namespace),
            wc.clone(),
            "services",
            scope.clone(),
            Interest::service,
            publish_service,
            Arc::new(watch::strip::<Service>),
            None
        ),
        slices: spawn_watch!(
            EndpointSlice,
            scoped(&client, &config.namespace),
            wc.clone(),
            "endpointslices.discovery.k8s.io",
            scope.clone(),
            Interest::slice
        ),
        secrets: spawn_watch!(
            Secret,
            scoped(&client, &config.namespace),
            wc.clone().fields("type=kubernetes.io/tls"),
            "secrets",
            scope.clone(),
            Interest::secret,
            Arc::new(|_: &Secret| false),
            trim_secret,
            Some(filter.relist.clone())
        ),
    };

    let (compiled_tx, compiled_rx) = channel::channel(Arc::new(Compiled::default()));
    let (stop_tx, stop_rx) = channel::channel(false);
    let mut election = None;
    if let Some(lease) = config.election.clone() {
        let (leader_tx, leader_rx) = channel::channel(false);
        let task = tokio::spawn(crate::leader::run(client.clone(), lease, leader_tx, stop_rx));
        election = Some(AbortOnDrop(Some(task)));
        let writer = writer::run_writer(client.clone(), config.clone(), leader_rx, compiled_rx);
        tasks.spawn(writer);
    }

    let compiler = compile_loop(
        stores,
        filter,
        interest,
        synced_flags,
        changed,
        config,
        &mut publisher,
        compiled_tx,
    );
    tokio::select! {
        _ = compiler => {}
        _ = shutdown => {}
    }
    tasks.shutdown().await;
    // Release the Lease (when leading) before returning.
    let _ = stop_tx.send(true);
    if let Some(mut election) = election {
        if let Some(task) = election.0.take() {
            let _ = task.await;
        }
    }
}

/// The election task dies with the provider: if `run` is dropped rather
/// than shut down, nothing is released (as when the process is killed)
/// and followers take over when the Lease expires.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

fn scoped<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// After a wake that asks for no compile (an Ingress status moved), the
/// quiet gap before the status writer is handed the stores: the leader's
/// own writes come back one event per Ingress, and one hand-off takes them
/// all.
const TOUCH_QUIET: Duration = Duration::from_millis(50);

#[allow(clippy::too_many_arguments)]
async fn compile_loop<P: Publish>(
    stores: Stores,
    filter: Arc<secrets::SecretFilter>,
    interest: Arc<Interest>,
    synced: Vec<Arc<AtomicBool>>,
    changed: Arc<Wake>,
    config: KubeConfig,
    publisher: &mut P,
    compiled: channel::Sender<Arc<Compiled>>,
) {
    let mut reported = std::collections::HashSet::new();
    let mut last_diagnostics: Vec<Diagnostic> = Vec::new();
    // Kept across compiles: a change recompiles only what it touched.
    let memo = Arc::new(std::sync::Mutex::new(Memo::default()));
    // New ExternalName answers change backends: they compile.
    let answers = Arc::new(Notify::new());
    let names = super::resolve::ExternalNameResolver::start(&config.compile.dns, answers.clone());
    let forward = {
        let changed = changed.clone();
        tokio::spawn(async move {
            loop {
                answers.notified().await;
                changed.compile();
            }
        })
    };
    let _forward = AbortOnDrop(Some(forward));
    let mut want_compile = false;
    loop {
        changed.notified().await;
        let woke = std::time::Instant::now();
        // Debounce: wait for a quiet gap, but never longer than max_delay.
        // A compile takes longer than the gap at scale, and what arrives
        // during one is taken by the next, so the gap is short.
        let hard = tokio::time::Instant::now() + config.max_delay;
        loop {
            want_compile |= changed.take_compile();
            let gap = if want_compile { config.debounce } else { TOUCH_QUIET };
            tokio::select! {
                _ = changed.notified() => {
                    if tokio::time::Instant::now() >= hard { break; }
                }
                _ = tokio::time::sleep(gap) => break,
                _ = tokio::time::sleep_until(hard) => break,
            }
        }
        want_compile |= changed.take_compile();
        if !synced.iter().all(|s| s.load(Ordering::Acquire)) {
            continue;
        }
        let debounced = std::time::Instant::now();
        if want_compile {
            interest.begin();
        }
        let snapshot = stores.snapshot();
        let read = std::time::Instant::now();
        if !want_compile {
            // Only what the compiler ignores changed (an Ingress status, a
            // relist that found nothing new): keep the live table, but let
            // the status writer see the new objects.
            compiled.send_replace(Arc::new(Compiled {
                snapshot,
                diagnostics: last_diagnostics.clone(),
            }));
            continue;
        }
        let wanted = secrets::referenced(&snapshot, &config.compile);
        if filter.update_to(&snapshot, &wanted) {
            // A Secret became wanted whose data was dropped: compile once
            // the relist brought it back (its InitDone wakes this loop).
            filter.relist.notify_one();
            continue;
        }
        want_compile = false;
        config.stats.tls_secrets_kept.store(
            snapshot.secrets.iter().filter(|s| secrets::has_data(&s.object)).count() as u64,
            Ordering::Relaxed,
        );
        let options = names.options(&snapshot, &config.compile);
        // Compiled off this runtime's thread, which also renews the Lease
        // and writes status: a large compile never delays either.
        let memo = memo.clone();
        let prepared = std::time::Instant::now();
        let compiled_off = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let (table, diagnostics) = compile_with(&snapshot, &options, &mut lock(&memo));
            (snapshot, table, diagnostics, started.elapsed())
        });
        let Ok((snapshot, table, diagnostics, compile_time)) = compiled_off.await else {
            tracing::error!("compiling the route table panicked; the last table stays live");
            if interest.update(&stores.snapshot(), &config.compile, &wanted) {
                changed.compile();
            }
            continue;
        };
        config.stats.compiles.fetch_add(1, Ordering::Relaxed);
        let generation = publisher.publish(table);
        // Where the time went since the first change was seen: the quiet
        // gap waited for, reading the stores, the secret filter and
        // ExternalName answers, the compile itself, and in all (with the
        // hand-off and publishing).
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let compile_ms = ms(compile_time);
        tracing::info!(
            generation,
            ingresses = snapshot.ingresses.len(),
            debounce_ms = format_args!("{:.1}", ms(debounced - woke)),
            snapshot_ms = format_args!("{:.1}", ms(read - debounced)),
            prepare_ms = format_args!("{:.1}", ms(prepared - read)),
            compile_ms = format_args!("{compile_ms:.1}"),
            total_ms = format_args!("{:.1}", ms(woke.elapsed())),
            "route table published"
        );
        // After publishing, off the path of the change: what the next
        // events are judged by, and each problem logged once while it lasts.
        if interest.update(&snapshot, &config.compile, &wanted) {
            changed.compile();
        }
        let now: std::collections::HashSet<String> =
            diagnostics.iter().map(ToString::to_string).collect();
        for line in now.difference(&reported) {
            tracing::warn!(diagnostic = %line, "invalid object");
        }
        reported = now;
        if !config.stats.synced.swap(true, Ordering::AcqRel) {
            tracing::info!("caches synced; ready");
        }
        last_diagnostics = diagnostics.clone();
        compiled.send_replace(Arc::new(Compiled { snapshot, diagnostics }));
    }
}

/// The compile memo, or a fresh one if a compile panicked while holding it
/// (what it held may be half updated).
pub(crate) fn lock(memo: &std::sync::Mutex<Memo>) -> std::sync::MutexGuard<'_, Memo> {
    memo.lock().unwrap_or_else(|poisoned| {
        let mut guard = poisoned.into_inner();
        *guard = Memo::default();
        guard
    })
}
