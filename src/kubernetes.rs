//! `ringress run --kubernetes`: the flags of the Kubernetes provider and
//! how they become a [`KubeConfig`]. The provider itself lives in
//! `ringress_control::provider::kube`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ringress_control::leader::LeaseConfig;
use ringress_control::provider::kube::{self as provider, ConnectError, KubeConfig};
use ringress_control::status::PublishTarget;
use ringress_control::{CompileOptions, Publisher};

use crate::cli::parse_duration;

#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Watch a Kubernetes cluster instead of a manifests directory
    /// (in-cluster service account, or --kubeconfig).
    #[arg(long)]
    pub kubernetes: bool,
    /// Kubeconfig file to reach the cluster with (its current context).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch one namespace only [default: all namespaces].
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Copy this Service's load-balancer addresses into the status of
    /// every Ingress served.
    #[arg(long, value_name = "NS/NAME", conflicts_with = "publish_address")]
    pub publish_service: Option<String>,
    /// Address (IP or hostname) to write into the status of every Ingress
    /// served; repeat for several.
    #[arg(long, value_name = "ADDR")]
    pub publish_address: Vec<String>,
    /// Namespace of the leader-election Lease (the controller's own).
    #[arg(long, value_name = "NS", env = "POD_NAMESPACE")]
    pub election_namespace: Option<String>,
    /// Holder identity in the Lease; unique per replica.
    #[arg(long, value_name = "NAME", env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// A leader that stops renewing is replaced after this long.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
}

impl KubeArgs {
    /// Kubernetes-only flags given without `--kubernetes` are a mistake
    /// worth stopping for (clap counts the flag's implicit `false` as
    /// present, so `requires` cannot say it).
    pub fn check_unused(&self) -> Result<(), String> {
        let given = [
            ("--kubeconfig", self.kubeconfig.is_some()),
            ("--namespace", self.namespace.is_some()),
            ("--publish-service", self.publish_service.is_some()),
            ("--publish-address", !self.publish_address.is_empty()),
        ];
        match given.iter().find(|(_, set)| *set) {
            Some((flag, _)) if !self.kubernetes => Err(format!("{flag} needs --kubernetes")),
            _ => Ok(()),
        }
    }

    /// The provider configuration these flags describe.
    pub fn config(&self, compile: CompileOptions) -> Result<KubeConfig, String> {
        let publish = match (&self.publish_service, self.publish_address.is_empty()) {
            (Some(s), _) => Some(PublishTarget::service(s).map_err(|e| e.to_string())?),
            (None, false) => Some(PublishTarget::Addresses(self.publish_address.clone())),
            (None, true) => None,
        };
        if self.lease_duration < Duration::from_secs(1) {
            return Err("--lease-duration: at least 1s".into());
        }
        let election = match (&self.election_namespace, &self.pod_name) {
            (Some(ns), Some(name)) => Some(LeaseConfig::new(ns, name, self.lease_duration)),
            _ => {
                tracing::warn!(
                    "POD_NAMESPACE/POD_NAME (or --election-namespace/--pod-name) not set: \
                     no leader election, so no Ingress status and no Events are written"
                );
                None
            }
        };
        Ok(KubeConfig {
            namespace: self.namespace.clone(),
            compile,
            publish,
            election,
            ..KubeConfig::default()
        })
    }
}

/// Connect to the cluster (fails fast: before any listener starts).
pub async fn connect(args: &KubeArgs) -> Result<kube::Client, ConnectError> {
    provider::connect(args.kubeconfig.as_deref()).await
}

/// Keep the table in step with the cluster until `stop`.
pub async fn provide(
    client: kube::Client,
    config: KubeConfig,
    publisher: Publisher,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    provider::run(client, config, publisher, shutdown).await;
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, RunArgs};

    fn run_args(args: &[&str]) -> Result<Box<RunArgs>, clap::Error> {
        let mut all = vec!["ringress", "run"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all)?.command {
            Command::Run(args) => Ok(args),
            other => panic!("parsed {other:?}"),
        }
    }

    /// `--kubernetes` replaces `--manifests`; one of them is required.
    #[test]
    fn kubernetes_or_manifests_but_not_both() {
        let args = run_args(&["--kubernetes"]).unwrap();
        assert!(args.kube.kubernetes && args.manifests.is_none());
        assert!(run_args(&[]).is_err());
        assert!(run_args(&["--kubernetes", "--manifests", "m"]).is_err());
        let args = run_args(&["--manifests", "m", "--namespace", "web"]).unwrap();
        assert_eq!(args.kube.check_unused().unwrap_err(), "--namespace needs --kubernetes");
        assert!(run_args(&["--manifests", "m"]).unwrap().kube.check_unused().is_ok());
    }

    /// The flags map onto the provider's configuration.
    #[test]
    fn flags_become_the_provider_config() {
        let args = run_args(&[
            "--kubernetes",
            "--namespace=web",
            "--publish-service=ingress/ringress",
            "--election-namespace=ingress",
            "--pod-name=ringress-0",
            "--lease-duration=6s",
        ])
        .unwrap();
        let config = args.kube.config(CompileOptions::default()).unwrap();
        assert_eq!(config.namespace.as_deref(), Some("web"));
        assert_eq!(
            config.publish,
            Some(PublishTarget::Service { namespace: "ingress".into(), name: "ringress".into() })
        );
        let lease = config.election.unwrap();
        assert_eq!((lease.namespace.as_str(), lease.identity.as_str()), ("ingress", "ringress-0"));
        assert_eq!(lease.renew_period, Duration::from_secs(2));

        let args = run_args(&[
            "--kubernetes",
            "--publish-address=192.0.2.1",
            "--publish-address=lb.example",
        ]);
        let config = args.unwrap().kube.config(CompileOptions::default()).unwrap();
        assert_eq!(
            config.publish,
            Some(PublishTarget::Addresses(vec!["192.0.2.1".into(), "lb.example".into()]))
        );
        let args = run_args(&["--kubernetes", "--publish-service=no-slash"]).unwrap();
        assert!(args
            .kube
            .config(CompileOptions::default())
            .unwrap_err()
            .contains("NAMESPACE/NAME"));
        assert!(
            run_args(&["--kubernetes", "--publish-service=a/b", "--publish-address=x"]).is_err()
        );
    }
}
