//! End to end: objects written to the (fake) Kubernetes API server reach
//! the live table through the Kubernetes provider, and real requests
//! through the data plane reach real loopback upstreams; changes re-route
//! them; a deleted Ingress answers 404. Under both I/O engines.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[allow(unused_imports)] // the shared builder re-exports more than this test uses
use std::sync::Arc;

use k8s_openapi::api::networking::v1::Ingress;
use ringress::metrics::Metrics;
use ringress::worker::{self, IoEngine, Plain, Settings, WorkerOptions};
use ringress_test_apiserver::ApiServer;
use ringress_test_support::fixtures::{ingress, ingress_class, service, slice};
use ringress_test_support::kube::{endpoints, fast_config, Controller};
use ringress_test_support::{engines, Client, Upstream};

fn kubernetes_objects_route_real_requests(engine: IoEngine) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let server = rt.block_on(ApiServer::start()).expect("fake API server");
    server.apply(&ingress_class());
    server.apply(&service("web", "site"));
    server.apply(&slice("web", "site", &["127.0.0.1"], a.addr.port()));
    server.apply(&ingress("web", "site", "ringress", "site.example", "/", "site"));
    let controller = rt.block_on(Controller::start(&server, "t", fast_config()));

    let options = WorkerOptions {
        workers: 1,
        engine,
        pin: false,
        settings: Settings::default(),
        http: "127.0.0.1:0".parse().unwrap(),
        on_thread_start: None,
    };
    let metrics = Arc::new(Metrics::new(1));
    let workers = worker::start::<Plain>(options, controller.handle.clone(), metrics, None)
        .expect("start workers");

    let a_addr = a.addr.to_string();
    rt.block_on(
        controller.until("routes to a", |t| endpoints(t, "site.example", "/") == [a_addr.as_str()]),
    );
    let response = Client::connect(workers.http_addr()).get("site.example", "/x", "");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-upstream"), Some("a"));

    // The EndpointSlice moves to upstream b: the next request goes there.
    server.apply(&slice("web", "site", &["127.0.0.1"], b.addr.port()));
    let b_addr = b.addr.to_string();
    rt.block_on(
        controller.until("routes to b", |t| endpoints(t, "site.example", "/") == [b_addr.as_str()]),
    );
    let response = Client::connect(workers.http_addr()).get("site.example", "/x", "");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-upstream"), Some("b"));

    // The Ingress is deleted: 404.
    server.delete::<Ingress>("web", "site");
    rt.block_on(controller.until("route gone", |t| t.route("site.example", "/x").is_none()));
    let response = Client::connect(workers.http_addr()).get("site.example", "/x", "");
    assert_eq!(response.status, 404);

    workers.stop();
    workers.join();
    rt.block_on(controller.stop());
}

engines!(kubernetes_objects_route_real_requests);
