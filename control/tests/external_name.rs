//! ExternalName Services through both providers, with a real DNS server on
//! loopback: the answers reach the live table, a changed answer is
//! followed once its TTL ends, an unresolvable name answers 503 with a
//! warning (an Event, with the Kubernetes provider) and recovers, and a
//! name server that never answers delays nothing else.

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ringress_control::leader::LeaseConfig;
use ringress_control::provider::dir;
use ringress_control::provider::kube::KubeConfig;
use ringress_control::provider::resolve::DnsSettings;
use ringress_control::status::PublishTarget;
use ringress_control::{CompileOptions, Publisher, RouteTable};
use ringress_test_apiserver::ApiServer;
use ringress_test_support::dns::DnsServer;
use ringress_test_support::fixtures::*;
use ringress_test_support::kube::*;
use ringress_test_support::manifests::{self, doc, CLASS};

/// An ExternalName Service `name` pointing at `external_name`, port 80
/// (targetPort `target_port`).
fn external_service(ns: &str, name: &str, external_name: &str, target_port: i32) -> Service {
    Service {
        metadata: meta(Some(ns), name),
        spec: Some(ServiceSpec {
            type_: Some("ExternalName".into()),
            external_name: Some(external_name.into()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(IntOrString::Int(target_port)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// Test timings: answers kept 50 ms at least, retries from 50 ms.
fn dns(server: std::net::SocketAddr) -> DnsSettings {
    DnsSettings {
        name_servers: vec![server],
        min_ttl: Duration::from_millis(50),
        max_ttl: Duration::from_secs(2),
        retry_initial: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        ..DnsSettings::default()
    }
}

fn warnings_about(server: &ApiServer, name: &str, text: &str) -> Vec<Event> {
    server
        .list::<Event>()
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter(|e| e.message.as_deref().is_some_and(|m| m.contains(text)))
        .collect()
}

/// With the Kubernetes provider: the Ingress routes to what the name
/// resolves to, at the Service port's targetPort; a new answer is live
/// after its TTL; NXDOMAIN leaves the route answering 503 with a Warning
/// Event naming the Service, the name and the error; a name that
/// resolves again is routed again.
#[tokio::test]
async fn the_kubernetes_provider_follows_an_external_names_answers() {
    let dns_server = DnsServer::start();
    dns_server.set("db.test", &[Ipv4Addr::new(10, 9, 0, 1)], 1);
    let server = ApiServer::start().await.unwrap();
    server.apply(&ingress_class());
    server.apply(&external_service("web", "db", "db.test", 5432));
    server.apply(&ingress("web", "db", "ringress", "db.example", "/", "db"));
    let mut config = KubeConfig {
        publish: Some(PublishTarget::Addresses(vec!["203.0.113.7".into()])),
        election: Some(LeaseConfig::new("ringress", "alpha", Duration::from_secs(3))),
        ..fast_config()
    };
    config.compile.dns = dns(dns_server.addr);
    let c = Controller::start(&server, "t", config).await;
    c.until("resolved", |t| endpoints(t, "db.example", "/") == ["10.9.0.1:5432"]).await;

    dns_server.set("db.test", &[Ipv4Addr::new(10, 9, 0, 2), Ipv4Addr::new(10, 9, 0, 3)], 1);
    c.until("new answer", |t| {
        endpoints(t, "db.example", "/") == ["10.9.0.2:5432", "10.9.0.3:5432"]
    })
    .await;

    dns_server.remove("db.test");
    c.until("unresolvable", |t| {
        t.route("db.example", "/").is_some_and(|r| r.backend.endpoints.is_empty())
    })
    .await;
    let why = "Service web/db: ExternalName db.test does not resolve: no such name (NXDOMAIN); \
               requests answer 503";
    eventually("a Warning Event", || !warnings_about(&server, "db", why).is_empty()).await;
    let event = &warnings_about(&server, "db", why)[0];
    assert_eq!(event.type_.as_deref(), Some("Warning"));

    dns_server.set("db.test", &[Ipv4Addr::new(10, 9, 0, 4)], 1);
    c.until("recovered", |t| endpoints(t, "db.example", "/") == ["10.9.0.4:5432"]).await;
    c.stop().await;
}

/// Run the manifests provider on `dir` until the returned sender is
/// dropped; tables land in the returned handle.
fn run_dir(
    dir: &std::path::Path,
    options: CompileOptions,
) -> (ringress_control::TableHandle, tokio::sync::oneshot::Sender<()>) {
    let publisher = Publisher::new();
    let handle = publisher.handle();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let dir = dir.to_path_buf();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        dir::run(dir, options, publisher, shutdown).await.expect("manifests provider");
    });
    (handle, stop)
}

async fn until(
    handle: &ringress_control::TableHandle,
    what: &str,
    check: impl Fn(&RouteTable) -> bool,
) {
    eventually(what, || check(&handle.load())).await;
}

/// With the manifests provider and a name server that never answers (its
/// lookups would outlast the test's deadline): the ExternalName route is
/// published at once, answering 503 until the name resolves, and a change
/// to another manifest is published without waiting for the lookup.
#[tokio::test]
async fn a_silent_name_server_delays_nothing_else() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let web = manifests::service("web", &["10.0.0.1:8080".parse().unwrap()]);
    let files = [
        ("class.yaml", CLASS.to_string()),
        ("ext.yaml", doc(&external_service("default", "db", "db.test", 5432))),
        ("web.yaml", web),
        ("db-ingress.yaml", doc(&ingress("default", "db", "ringress", "db.example", "/", "db"))),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let dns =
        DnsSettings { timeout: Duration::from_secs(120), ..dns(silent.local_addr().unwrap()) };
    let options = CompileOptions { dns, ..CompileOptions::default() };
    let (handle, _stop) = run_dir(dir.path(), options);
    until(&handle, "the 503 route", |t| {
        t.route("db.example", "/").is_some_and(|r| r.backend.endpoints.is_empty())
    })
    .await;
    std::fs::write(
        dir.path().join("web-ingress.yaml"),
        doc(&ingress("default", "web", "ringress", "web.example", "/", "web")),
    )
    .unwrap();
    until(&handle, "the other change", |t| endpoints(t, "web.example", "/") == ["10.0.0.1:8080"])
        .await;
    assert!(endpoints(&handle.load(), "db.example", "/").is_empty());
}

/// With the manifests provider: a name resolved after the first table is
/// published into a new one, and each later answer too.
#[tokio::test]
async fn the_manifests_provider_follows_an_external_names_answers() {
    let dns_server = DnsServer::start();
    dns_server.set("db.test", &[Ipv4Addr::new(10, 9, 0, 1)], 1);
    let dir = tempfile::tempdir().unwrap();
    let objects = [
        CLASS.to_string(),
        doc(&external_service("default", "db", "db.test", 5432)),
        doc(&ingress("default", "db", "ringress", "db.example", "/", "db")),
    ];
    std::fs::write(dir.path().join("all.yaml"), objects.join("\n---\n")).unwrap();
    let options = CompileOptions { dns: dns(dns_server.addr), ..CompileOptions::default() };
    let (handle, _stop) = run_dir(dir.path(), options);
    until(&handle, "resolved", |t| endpoints(t, "db.example", "/") == ["10.9.0.1:5432"]).await;
    dns_server.set("db.test", &[Ipv4Addr::new(10, 9, 0, 2)], 1);
    until(&handle, "new answer", |t| endpoints(t, "db.example", "/") == ["10.9.0.2:5432"]).await;
    dns_server.remove("db.test");
    until(&handle, "unresolvable", |t| endpoints(t, "db.example", "/").is_empty()).await;
    dns_server.set("db.test", &[Ipv4Addr::new(10, 9, 0, 3)], 1);
    until(&handle, "recovered", |t| endpoints(t, "db.example", "/") == ["10.9.0.3:5432"]).await;
    assert!(dns_server.queries("db.test") >= 4);
}
