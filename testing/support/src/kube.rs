//! For the `kube_*` tests: the test API server reached through a
//! kubeconfig file, and the Kubernetes provider started on it (the objects
//! come from [`crate::fixtures`]).

use std::sync::Arc;
use std::time::Duration;

use ringress_control::provider::kube::{run, KubeConfig, KubeStats};
use ringress_control::{Publisher, TableHandle};
use ringress_test_apiserver::ApiServer;
use tokio::sync::oneshot;

pub use crate::DEADLINE;

/// A kube client for `server`, built the way the binary builds one from
/// `--kubeconfig`: read the file, then build the config from it.
pub async fn client(server: &ApiServer, token: &str) -> kube::Client {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, token).expect("write kubeconfig");
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("kubeconfig to config");
    kube::Client::try_from(config).expect("client")
}

/// Test timings: short debounce and back-off.
pub fn fast_config() -> KubeConfig {
    KubeConfig {
        debounce: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        status_resync: Duration::from_millis(500),
        ..KubeConfig::default()
    }
}

/// A running provider.
pub struct Controller {
    pub handle: TableHandle,
    pub stats: Arc<KubeStats>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Controller {
    pub async fn start(server: &ApiServer, token: &str, config: KubeConfig) -> Self {
        let client = client(server, token).await;
        let publisher = Publisher::new();
        let handle = publisher.handle();
        let stats = config.stats.clone();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(client, config, publisher, async {
            let _ = stopped.await;
        }));
        Self { handle, stats, stop: Some(stop), task }
    }

    /// Shut down cleanly (a leader releases its Lease) and wait for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, &mut self.task).await.expect("controller stops").unwrap();
    }

    /// Die without any cleanup, as a killed process would.
    pub fn kill(self) {
        self.task.abort();
    }

    /// Wait until the live table satisfies `check`.
    pub async fn until(&self, what: &str, check: impl Fn(&ringress_control::RouteTable) -> bool) {
        let handle = self.handle.clone();
        eventually(what, move || check(&handle.load())).await;
    }
}

/// Poll `check` until it holds, failing the test after [`DEADLINE`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The endpoints the table routes `host` + `path` to, as strings.
pub fn endpoints(table: &ringress_control::RouteTable, host: &str, path: &str) -> Vec<String> {
    table
        .route(host, path)
        .map(|r| r.backend.endpoints.iter().map(|e| e.addr.to_string()).collect())
        .unwrap_or_default()
}
