//! The binary as deployed: `ringress run --kubernetes --kubeconfig …`
//! against the fake API server routes a real request, writes Ingress
//! status as the elected leader, and releases its Lease on SIGTERM; slow
//! clients flooding its admin and health listeners delay neither a probe
//! nor a Lease renewal.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[allow(unused_imports)] // the shared builder re-exports more than this test uses
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::networking::v1::Ingress;
use ringress_test_apiserver::ApiServer;
use ringress_test_support::fixtures::{ingress, ingress_class, service, slice};
use ringress_test_support::process::{spawn, start_addrs};
use ringress_test_support::trickle::{status_within, Trickle};
use ringress_test_support::DEADLINE;
use ringress_test_support::{Client, Upstream};

fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn run_kubernetes_serves_writes_status_and_releases_the_lease() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let upstream = Upstream::start("a");
    let server = rt.block_on(ApiServer::start()).expect("fake API server");
    server.apply(&ingress_class());
    server.apply(&service("web", "site"));
    server.apply(&slice("web", "site", &["127.0.0.1"], upstream.addr.port()));
    server.apply(&ingress("web", "site", "ringress", "site.example", "/", "site"));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig, "cli").unwrap();

    let (mut child, lines) = spawn(
        Command::new(env!("CARGO_BIN_EXE_ringress"))
            .args(["run", "--kubernetes", "--allow-host-local-endpoints", "--kubeconfig"])
            .arg(&kubeconfig)
            .args([
                "--http=127.0.0.1:0",
                "--https=127.0.0.1:0",
                "--admin=127.0.0.1:0",
                "--health=127.0.0.1:0",
            ])
            .args(["--workers=1", "--io-engine=epoll", "--no-pin", "--drain-timeout=2s"])
            .args(["--publish-address=192.0.2.9", "--lease-duration=3s"])
            .args(["--election-namespace=ringress", "--pod-name=ringress-0"])
            .env("RUST_LOG", "info"),
    );
    let [http] = start_addrs(&lines, ["http"]);

    // Served once the caches synced: a real request reaches the upstream.
    let mut response = None;
    until("a routed request", || {
        let r = Client::connect(http).get("site.example", "/", "");
        let ok = r.status == 200;
        response = Some(r);
        ok
    });
    assert_eq!(response.unwrap().header("x-upstream"), Some("a"));

    // The only replica leads and writes the status.
    let status = || {
        server
            .get::<Ingress>("web", "site")
            .and_then(|i| i.status?.load_balancer?.ingress)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| i.ip)
            .collect::<Vec<_>>()
    };
    until("status written", || status() == ["192.0.2.9"]);
    let holder =
        || server.get::<Lease>("ringress", "ringress-leader").and_then(|l| l.spec?.holder_identity);
    assert_eq!(holder().as_deref(), Some("ringress-0"));

    // SIGTERM: drain, release the Lease, exit 0.
    let killed = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status();
    assert!(killed.unwrap().success());
    let mut exit = None;
    until("exit after SIGTERM", || {
        exit = child.0.try_wait().unwrap();
        exit.is_some()
    });
    assert!(exit.unwrap().success(), "exit status {exit:?}");
    assert_eq!(holder(), None, "the Lease was released");
    drop(rt);
}

/// 2,000 connections trickling one byte a second at each of the admin
/// and health listeners: `/healthz` still answers within 1 s, and the
/// leader keeps renewing its Lease (the renewals run on the control
/// thread, the admin server on its own): `renewTime` advances again and
/// again, the holder stays, and the Lease is never found expired.
#[test]
fn a_flood_of_slow_admin_clients_delays_no_lease_renewal() {
    ringress::serve::raise_open_files_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = rt.block_on(ApiServer::start()).expect("fake API server");
    server.apply(&ingress_class());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig, "cli").unwrap();
    let lease_duration = Duration::from_secs(6);
    let (_child, lines) = spawn(
        Command::new(env!("CARGO_BIN_EXE_ringress"))
            .args(["run", "--kubernetes", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["--http=127.0.0.1:0", "--https=127.0.0.1:0"])
            .args(["--admin=127.0.0.1:0", "--health=127.0.0.1:0"])
            .args(["--workers=1", "--io-engine=epoll", "--no-pin", "--drain-timeout=2s"])
            .arg(format!("--lease-duration={}s", lease_duration.as_secs()))
            .args(["--election-namespace=ringress", "--pod-name=ringress-0"]),
    );
    let [admin, health] = start_addrs(&lines, ["admin", "health"]);
    let lease = || server.get::<Lease>("ringress", "ringress-leader").and_then(|l| l.spec);
    let renewed = || lease().and_then(|s| s.renew_time).map(|t| t.0);
    until("the Lease acquired", || renewed().is_some());

    let mut floods = [Trickle::open(health, 2000), Trickle::open(admin, 2000)];
    let mut renewals = vec![renewed().unwrap()];
    // Renewals come every third of the Lease duration: wait for four
    // more, trickling all along.
    let deadline = Instant::now() + lease_duration * 3;
    while renewals.len() < 5 {
        assert!(Instant::now() < deadline, "renewals during the flood: {renewals:?}");
        let next = Instant::now() + Duration::from_secs(1);
        for flood in &mut floods {
            flood.tick();
        }
        while Instant::now() < next {
            let status = status_within(health, "/healthz", Duration::from_secs(1));
            assert_eq!(status, Some(200), "/healthz within 1 s during the flood");
            let spec = lease().expect("the Lease");
            assert_eq!(spec.holder_identity.as_deref(), Some("ringress-0"));
            let last = spec.renew_time.expect("renewTime").0;
            let age = k8s_openapi::jiff::Timestamp::now().duration_since(last);
            assert!(
                age < k8s_openapi::jiff::SignedDuration::try_from(lease_duration).unwrap(),
                "the Lease expired during the flood: renewed {age:?} ago; renewals {renewals:?}"
            );
            if renewals.last() != Some(&last) {
                renewals.push(last);
            }
        }
    }
    drop(rt);
}
