//! Shared by the `kube_*` tests: the fake API server reached through a
//! kubeconfig file, a controller started on it, and object builders on
//! the real k8s-openapi types.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressClass, IngressClassSpec,
    IngressRule, IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use ringress_control::provider::kube::{run, KubeConfig, KubeStats};
use ringress_control::{Publisher, TableHandle};
use ringress_test_apiserver::ApiServer;
use tokio::sync::oneshot;

/// Every wait in these tests is bounded by this.
pub const DEADLINE: Duration = Duration::from_secs(10);

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

pub fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        ..ObjectMeta::default()
    }
}

pub fn ingress_class() -> IngressClass {
    IngressClass {
        metadata: meta(None, "ringress"),
        spec: Some(IngressClassSpec {
            controller: Some(ringress_control::CONTROLLER_NAME.into()),
            ..Default::default()
        }),
    }
}

/// An Ingress of class `class` routing `host` + `path` (Prefix) to
/// `service:80`.
pub fn ingress(
    ns: &str,
    name: &str,
    class: &str,
    host: &str,
    path: &str,
    service: &str,
) -> Ingress {
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: service.into(),
            port: Some(ServiceBackendPort { number: Some(80), name: None }),
        }),
        resource: None,
    };
    Ingress {
        metadata: meta(Some(ns), name),
        spec: Some(IngressSpec {
            ingress_class_name: Some(class.into()),
            rules: Some(vec![IngressRule {
                host: Some(host.into()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(path.into()),
                        path_type: "Prefix".into(),
                        backend,
                    }],
                }),
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn with_tls(mut ingress: Ingress, host: &str, secret: &str) -> Ingress {
    let spec = ingress.spec.as_mut().expect("spec");
    spec.tls =
        Some(vec![IngressTLS { hosts: Some(vec![host.into()]), secret_name: Some(secret.into()) }]);
    ingress
}

/// A Service with port 80 named `http`.
pub fn service(ns: &str, name: &str) -> Service {
    Service {
        metadata: meta(Some(ns), name),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// The EndpointSlice of `service`: port `http` = `port`, ready addresses.
pub fn slice(ns: &str, service: &str, addresses: &[&str], port: u16) -> EndpointSlice {
    let mut m = meta(Some(ns), &format!("{service}-abcde"));
    m.labels =
        Some(BTreeMap::from([("kubernetes.io/service-name".to_string(), service.to_string())]));
    EndpointSlice {
        metadata: m,
        address_type: "IPv4".into(),
        endpoints: Some(
            addresses
                .iter()
                .map(|a| Endpoint {
                    addresses: vec![a.to_string()],
                    conditions: Some(EndpointConditions {
                        ready: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
        ),
        ports: Some(vec![EndpointPort {
            name: Some("http".into()),
            port: Some(i32::from(port)),
            ..Default::default()
        }]),
    }
}

/// A `kubernetes.io/tls` Secret with a fresh self-signed certificate for `host`.
pub fn tls_secret(ns: &str, name: &str, host: &str) -> Secret {
    let certified = rcgen::generate_simple_self_signed(vec![host.to_string()]).expect("rcgen");
    Secret {
        metadata: meta(Some(ns), name),
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_string(), ByteString(certified.cert.pem().into_bytes())),
            ("tls.key".to_string(), ByteString(certified.key_pair.serialize_pem().into_bytes())),
        ])),
        ..Default::default()
    }
}

/// The endpoints the table routes `host` + `path` to, as strings.
pub fn endpoints(table: &ringress_control::RouteTable, host: &str, path: &str) -> Vec<String> {
    table
        .route(host, path)
        .map(|r| r.backend.endpoints.iter().map(|e| e.addr.to_string()).collect())
        .unwrap_or_default()
}
