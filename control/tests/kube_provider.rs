//! The Kubernetes provider against the fake API server: every kind's
//! add, modify and delete reaches the live table; relists after 410 and
//! dropped watches keep the last good table live; nothing is published
//! before every kind has been listed once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use ringress_test_apiserver::ApiServer;
use ringress_test_support::fixtures::*;
use ringress_test_support::kube::*;

async fn cluster_with_one_site() -> ApiServer {
    let server = ApiServer::start().await.unwrap();
    server.apply(&ingress_class());
    server.apply(&service("web", "site"));
    server.apply(&slice("web", "site", &["10.0.0.1"], 8080));
    server.apply(&ingress("web", "site", "ringress", "site.example", "/", "site"));
    server
}

#[tokio::test]
async fn add_modify_delete_of_every_kind_reach_the_live_table() {
    let server = cluster_with_one_site().await;
    let c = Controller::start(&server, "t", fast_config()).await;
    c.until("first table", |t| endpoints(t, "site.example", "/") == ["10.0.0.1:8080"]).await;
    assert!(c.stats.is_synced());
    let mut generation = c.handle.load().generation();
    let mut grew = |c: &Controller| {
        let g = c.handle.load().generation();
        assert!(g > generation, "generation {g} did not grow past {generation}");
        generation = g;
    };

    // EndpointSlice: modify, then delete.
    server.apply(&slice("web", "site", &["10.0.0.1", "10.0.0.2"], 8080));
    c.until("second endpoint", |t| endpoints(t, "site.example", "/").len() == 2).await;
    grew(&c);
    server.delete::<EndpointSlice>("web", "site-abcde");
    c.until("no endpoints", |t| {
        t.route("site.example", "/").is_some_and(|r| r.backend.endpoints.is_empty())
    })
    .await;
    grew(&c);
    server.apply(&slice("web", "site", &["10.0.0.3"], 9090));
    c.until("endpoint back", |t| endpoints(t, "site.example", "/") == ["10.0.0.3:9090"]).await;

    // Ingress: add a second one, modify its path, delete it.
    server.apply(&ingress("web", "api", "ringress", "api.example", "/v1", "site"));
    c.until("api added", |t| t.route("api.example", "/v1/users").is_some()).await;
    grew(&c);
    server.apply(&ingress("web", "api", "ringress", "api.example", "/v2", "site"));
    c.until("api modified", |t| {
        t.route("api.example", "/v2").is_some() && t.route("api.example", "/v1").is_none()
    })
    .await;
    server.delete::<Ingress>("web", "api");
    c.until("api deleted", |t| t.route("api.example", "/v2").is_none()).await;
    grew(&c);

    // Secret (TLS): add, then delete.
    server.apply(&tls_secret("web", "site-tls", "site.example"));
    server.apply(&with_tls(
        ingress("web", "site", "ringress", "site.example", "/", "site"),
        &["site.example"],
        "site-tls",
    ));
    c.until("certificate", |t| t.certificate("site.example").is_some()).await;
    grew(&c);
    server.delete::<Secret>("web", "site-tls");
    c.until("certificate gone", |t| t.certificate("site.example").is_none()).await;

    // Service: delete, then add back.
    server.delete::<Service>("web", "site");
    c.until("service gone", |t| {
        t.route("site.example", "/").is_none_or(|r| r.backend.endpoints.is_empty())
    })
    .await;
    server.apply(&service("web", "site"));
    c.until("service back", |t| endpoints(t, "site.example", "/") == ["10.0.0.3:9090"]).await;
    grew(&c);

    // IngressClass: without it the Ingress is not ours.
    server.delete::<IngressClass>("", "ringress");
    c.until("class gone", |t| t.route("site.example", "/").is_none()).await;
    server.apply(&ingress_class());
    c.until("class back", |t| t.route("site.example", "/").is_some()).await;
    grew(&c);
    c.stop().await;
}

#[tokio::test]
async fn nothing_is_published_until_every_kind_is_listed() {
    let server = cluster_with_one_site().await;
    server.forbid("endpointslices");
    let c = Controller::start(&server, "t", fast_config()).await;
    eventually("a refused list", || c.stats.forbidden.load(Ordering::Relaxed) >= 2).await;
    // Four kinds are listed, the fifth refused: no table, not ready.
    assert!(!c.handle.is_live());
    assert!(!c.stats.is_synced());
    assert_eq!(c.handle.load().generation(), 0);
    server.allow("endpointslices");
    c.until("table after the grant", |t| endpoints(t, "site.example", "/") == ["10.0.0.1:8080"])
        .await;
    assert!(c.stats.is_synced());
    c.stop().await;
}

/// Samples the live table as fast as it can and remembers whether the
/// route was ever missing.
fn watch_for_gaps(
    c: &Controller,
) -> (Arc<AtomicBool>, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let handle = c.handle.clone();
    let missed = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(AtomicU64::new(0));
    let (m, s) = (missed.clone(), samples.clone());
    let task = tokio::spawn(async move {
        loop {
            if handle.load().route("site.example", "/").is_none() {
                m.store(true, Ordering::Relaxed);
            }
            s.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    });
    (missed, samples, task)
}

#[tokio::test]
async fn expiry_and_dropped_watches_relist_with_the_table_kept_live() {
    let server = cluster_with_one_site().await;
    let c = Controller::start(&server, "t", fast_config()).await;
    c.until("first table", |t| endpoints(t, "site.example", "/") == ["10.0.0.1:8080"]).await;
    let (missed, samples, sampler) = watch_for_gaps(&c);
    let relists = c.stats.relists.load(Ordering::Relaxed);

    // 410 on every watch, and the first relist of Ingresses fails twice.
    server.fail_next(Some("GET"), "/ingresses", 500, 2);
    server.expire();
    eventually("every kind relisted", || c.stats.relists.load(Ordering::Relaxed) >= relists + 5)
        .await;
    server.apply(&slice("web", "site", &["10.0.0.9"], 8080));
    c.until("change after relist", |t| endpoints(t, "site.example", "/") == ["10.0.0.9:8080"])
        .await;

    // A dropped connection: watches resume and see the next change.
    // (kube reads an aborted chunked body as the end of the watch or as an
    // error, depending on where the cut falls; either way it re-watches.)
    let watches = |server: &ApiServer| {
        server.requests().iter().filter(|r| r.uri.contains("watch=true")).count()
    };
    let before = watches(&server);
    server.drop_watches();
    eventually("every kind re-watched", || watches(&server) >= before + 5).await;
    server.apply(&slice("web", "site", &["10.0.0.10"], 8080));
    c.until("change after drop", |t| endpoints(t, "site.example", "/") == ["10.0.0.10:8080"]).await;

    sampler.abort();
    assert!(samples.load(Ordering::Relaxed) > 0);
    assert!(!missed.load(Ordering::Relaxed), "the route vanished during a relist");
    assert!(server.requests().iter().any(|r| r.uri.contains("/ingresses") && r.status == 500));
    c.stop().await;
}

#[tokio::test]
async fn one_namespace_is_watched_when_asked() {
    let server = cluster_with_one_site().await;
    server.apply(&service("other", "site"));
    server.apply(&slice("other", "site", &["10.1.0.1"], 8080));
    server.apply(&ingress("other", "site", "ringress", "other.example", "/", "site"));
    let config = ringress_control::provider::kube::KubeConfig {
        namespace: Some("web".into()),
        ..fast_config()
    };
    let c = Controller::start(&server, "t", config).await;
    c.until("web served", |t| endpoints(t, "site.example", "/") == ["10.0.0.1:8080"]).await;
    assert!(c.handle.load().route("other.example", "/").is_none());
    let requests = server.requests();
    assert!(requests
        .iter()
        .any(|r| r.uri.starts_with("/apis/networking.k8s.io/v1/namespaces/web/ingresses?")));
    assert!(!requests.iter().any(|r| r.uri.starts_with("/apis/networking.k8s.io/v1/ingresses?")));
    // TLS Secrets only, by field selector.
    assert!(requests.iter().any(|r| r.uri.starts_with("/api/v1/namespaces/web/secrets?")
        && r.uri.contains("fieldSelector=type%3Dkubernetes.io%2Ftls")));
    // IngressClasses are cluster-scoped and always listed cluster-wide.
    assert!(requests
        .iter()
        .any(|r| r.uri.starts_with("/apis/networking.k8s.io/v1/ingressclasses?")));
    c.stop().await;
}

/// Only the TLS Secrets a served Ingress names keep their data: another
/// Secret in the namespace is stored without it (the gauge counts one),
/// an unreferenced Secret arriving later is dropped too, and once an
/// Ingress names the second Secret the watch relists and its certificate
/// is served.
#[tokio::test]
async fn only_tls_secrets_named_by_our_ingresses_are_kept() {
    let server = cluster_with_one_site().await;
    server.apply(&tls_secret("web", "site-tls", "site.example"));
    server.apply(&tls_secret("web", "api-tls", "api.example"));
    server.apply(&with_tls(
        ingress("web", "site", "ringress", "site.example", "/", "site"),
        &["site.example"],
        "site-tls",
    ));
    let c = Controller::start(&server, "t", fast_config()).await;
    c.until("site certificate", |t| t.certificate("site.example").is_some()).await;
    let kept = || c.stats.tls_secrets_kept.load(Ordering::Relaxed);
    assert_eq!(kept(), 1, "only site-tls keeps its data");
    assert!(c.handle.load().certificate("api.example").is_none());

    server.apply(&tls_secret("web", "unused-tls", "unused.example"));
    server.apply(&ingress("web", "other", "ringress", "other.example", "/", "site"));
    c.until("other routed", |t| t.route("other.example", "/").is_some()).await;
    assert_eq!(kept(), 1, "an unreferenced Secret arriving later is dropped");

    let relists = c.stats.relists.load(Ordering::Relaxed);
    server.apply(&with_tls(
        ingress("web", "api", "ringress", "api.example", "/", "site"),
        &["api.example"],
        "api-tls",
    ));
    c.until("api certificate after the relist", |t| t.certificate("api.example").is_some()).await;
    assert_eq!(kept(), 2);
    assert!(c.stats.relists.load(Ordering::Relaxed) > relists, "the Secrets were listed again");
    assert!(c.stats.render().contains("ringress_kube_tls_secrets_kept 2"));
    c.stop().await;
}

/// Issue "a control plane that scales": a relist that finds every object
/// as it was (the API server compacted its history) compiles nothing and
/// publishes nothing, and a change to a Service no Ingress of ours names
/// compiles nothing either; the next real change is one compile.
#[tokio::test]
async fn a_relist_that_finds_nothing_new_and_unreferenced_services_compile_nothing() {
    let server = cluster_with_one_site().await;
    let c = Controller::start(&server, "t", fast_config()).await;
    c.until("first table", |t| endpoints(t, "site.example", "/") == ["10.0.0.1:8080"]).await;
    let compiles = c.stats.compiles.load(Ordering::Relaxed);
    let generation = c.handle.load().generation();
    let relists = c.stats.relists.load(Ordering::Relaxed);
    let watches = |server: &ApiServer| {
        server.requests().iter().filter(|r| r.uri.contains("watch=true")).count()
    };
    let before = watches(&server);
    server.expire();
    // A kind watches again only once its list is complete and applied.
    eventually("every kind relisted and watching", || {
        c.stats.relists.load(Ordering::Relaxed) >= relists + 5 && watches(&server) >= before + 5
    })
    .await;
    assert_eq!(c.stats.compiles.load(Ordering::Relaxed), compiles, "the relist found nothing new");
    assert_eq!(c.handle.load().generation(), generation);

    server.apply(&service("web", "unrelated"));
    server.apply(&slice("web", "unrelated", &["10.9.9.9"], 8080));
    server.apply(&slice("web", "site", &["10.0.0.7"], 8080));
    c.until("the referenced change", |t| endpoints(t, "site.example", "/") == ["10.0.0.7:8080"])
        .await;
    assert_eq!(c.stats.compiles.load(Ordering::Relaxed), compiles + 1);
    c.stop().await;
}
