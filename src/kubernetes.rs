//! The Kubernetes source ([`Source::Kubernetes`](crate::config::Source)):
//! connect before serving, then keep the table in step with the cluster.
//! The same two steps as [`crate::manifests`]; the provider itself lives
//! in `ringress_control::provider::kube`, the flags in [`crate::cli`].

use std::future::Future;

use ringress_control::provider::kube::{self as provider, ConnectError, KubeConfig};
use ringress_control::{CompileOptions, Publisher};

use crate::config::KubeSettings;

/// Connect to the cluster (fails fast: before any worker starts).
pub async fn connect(settings: &KubeSettings) -> Result<kube::Client, ConnectError> {
    provider::connect(settings.kubeconfig.as_deref()).await
}

/// The provider configuration `settings` describe, compiling with `compile`.
pub fn provider_config(settings: &KubeSettings, compile: CompileOptions) -> KubeConfig {
    KubeConfig {
        namespace: settings.namespace.clone(),
        compile,
        publish: settings.publish.clone(),
        election: settings.election.clone(),
        ..KubeConfig::default()
    }
}

/// Keep the table in step with the cluster until `shutdown` resolves.
pub async fn provide(
    client: kube::Client,
    config: KubeConfig,
    publisher: Publisher,
    shutdown: impl Future<Output = ()> + Send,
) {
    provider::run(client, config, publisher, shutdown).await;
}
