//! What [`crate::serve::run`] is told: plain data, no flags. `ringress run`
//! builds it from its flags (`cli::RunArgs::into_config`), `ringress demo`
//! and tests build it directly, starting from [`Config::new`].

use std::path::PathBuf;
use std::time::Duration;

use ringress_control::leader::LeaseConfig;
use ringress_control::status::PublishTarget;
use ringress_control::CompileOptions;

use crate::worker::{engine, IoEngine, Settings};

/// Everything `run` needs besides its listeners and shutdown signal.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where Ingresses, Services, EndpointSlices and Secrets come from.
    pub source: Source,
    /// Worker threads (at least 1); each listener gets one socket per
    /// worker.
    pub workers: usize,
    pub io_engine: IoEngine,
    /// Pin worker `i` to the `i`-th CPU of the affinity mask.
    pub pin: bool,
    /// Timeouts and limits of every worker, the drain timeout among them.
    /// `https_port` left `None` becomes the HTTPS listener's port, so
    /// redirects to https name the port actually served.
    pub settings: Settings,
    /// Ingress class and default certificate the compiler applies.
    pub compile: CompileOptions,
    /// Time allowed for a whole TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// After the shutdown signal, how long the listeners keep accepting
    /// and serving (with `/readyz` at 503) before the drain starts, so
    /// endpoints and load balancers stop sending first.
    pub shutdown_delay: Duration,
}

/// The configuration source: a directory of manifests or a cluster.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per run, built once: size does not matter
pub enum Source {
    /// A directory of YAML manifests, watched for changes.
    Manifests(PathBuf),
    /// A Kubernetes cluster, watched through its API server.
    Kubernetes(KubeSettings),
}

/// How to reach and follow a cluster (`run --kubernetes` and the rest).
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// Kubeconfig file (its current context); `None`: the in-cluster
    /// service account.
    pub kubeconfig: Option<PathBuf>,
    /// Watch one namespace only; `None`: all.
    pub namespace: Option<String>,
    /// Where the addresses written into Ingress status come from.
    pub publish: Option<PublishTarget>,
    /// Leader election; `None` writes no status and no Events.
    pub election: Option<LeaseConfig>,
}

impl Config {
    /// `source` with the defaults `ringress run --help` documents: one
    /// worker per usable CPU, `auto` engine, pinned, default timeouts and
    /// limits, the `ringress` class, a self-signed default certificate.
    pub fn new(source: Source) -> Self {
        Self {
            source,
            workers: engine::default_workers(),
            io_engine: IoEngine::Auto,
            pin: true,
            settings: Settings::default(),
            compile: CompileOptions::default(),
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_delay: Duration::from_secs(5),
        }
    }
}
