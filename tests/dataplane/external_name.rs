//! ExternalName Services end to end: a manifests directory, the manifests
//! provider with its resolver asking a DNS server on loopback, the proxy,
//! and real upstreams on two loopback addresses.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::support::dns::DnsServer;
use crate::support::*;
use ringress::worker::IoEngine;
use ringress_control::provider::dir;
use ringress_control::provider::resolve::DnsSettings;
use ringress_control::CompileOptions;

/// An ExternalName Service `ext` for `name`, port 80 with `targetPort`
/// `port`, and an Ingress routing `ext.example` to it.
fn manifests(name: &str, port: u16) -> String {
    let service = format!(
        "apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: default}}
spec:
  type: ExternalName
  externalName: {name}
  ports: [{{name: http, port: 80, targetPort: {port}}}]
"
    );
    let ingress =
        ringress_test_support::ingress("ext", Some("ext.example"), &[("/", "Prefix", "ext")]);
    yaml(&[service, ingress])
}

/// GET `ext.example/` on a new connection until `want` holds for the
/// response (the table changes between requests).
fn until(proxy: SocketAddr, what: &str, want: impl Fn(&Response) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let r = Client::connect(proxy).get("ext.example", "/", "Connection: close\r\n");
        if want(&r) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last: {r:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The name resolves to 127.0.0.1: upstream `a` answers; then to
/// 127.0.0.2: upstream `b` (same port) answers once the 1 s TTL ended;
/// then NXDOMAIN: 503; then 127.0.0.1 again: `a` answers again.
fn an_external_name_follows_its_dns_answers(engine: IoEngine) {
    let a = Upstream::start("a");
    let port = a.addr.port();
    let b = Upstream::start_on("b", SocketAddr::from(([127, 0, 0, 2], port)));
    let dns_server = DnsServer::start();
    dns_server.set("upstream.test", &[Ipv4Addr::LOCALHOST], 1);

    let mut proxy = Proxy::builder(engine).start();
    let publisher = std::mem::take(&mut proxy.publisher);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ext.yaml"), manifests("upstream.test", port)).unwrap();
    let options = CompileOptions {
        dns: DnsSettings {
            name_servers: vec![dns_server.addr],
            min_ttl: Duration::from_millis(50),
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_millis(200),
            ..DnsSettings::default()
        },
        ..CompileOptions::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let path = dir.path().to_path_buf();
    let control = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(dir::run(path, options, publisher, async {
            let _ = stopped.await;
        }))
        .expect("manifests provider");
    });

    let from =
        |name: &'static str| move |r: &Response| r.status == 200 && r.text() == format!("{name}\n");
    until(proxy.addr, "upstream a", from("a"));
    dns_server.set("upstream.test", &[Ipv4Addr::new(127, 0, 0, 2)], 1);
    until(proxy.addr, "upstream b", from("b"));
    assert!(b.requests.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    dns_server.remove("upstream.test");
    until(proxy.addr, "503", |r| r.status == 503);
    dns_server.set("upstream.test", &[Ipv4Addr::LOCALHOST], 1);
    until(proxy.addr, "upstream a again", from("a"));

    drop(stop);
    control.join().unwrap();
}

ringress_test_support::engines!(an_external_name_follows_its_dns_answers);
