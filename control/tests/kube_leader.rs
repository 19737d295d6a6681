//! Leader election on a Lease, Ingress status written by the leader only,
//! Events for invalid Ingresses, and failover between two controllers.

use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::api::networking::v1::Ingress;
use ringress_control::leader::{LeaseConfig, DEFAULT_LEASE_NAME};
use ringress_control::provider::kube::KubeConfig;
use ringress_control::status::PublishTarget;
use ringress_test_apiserver::ApiServer;
use ringress_test_support::fixtures::*;
use ringress_test_support::kube::*;

const NS: &str = "ringress";

fn holder(server: &ApiServer) -> Option<String> {
    server
        .get::<Lease>(NS, DEFAULT_LEASE_NAME)
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

fn status_ips(server: &ApiServer, ns: &str, name: &str) -> Vec<String> {
    server
        .get::<Ingress>(ns, name)
        .and_then(|i| i.status)
        .and_then(|s| s.load_balancer)
        .and_then(|lb| lb.ingress)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.ip.or(i.hostname))
        .collect()
}

/// Status PATCHes and Event POSTs, by token.
fn writes_by(server: &ApiServer, token: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.user.as_deref() == Some(token))
        .filter(|r| (r.method == "PATCH" && r.uri.contains("/status")) || r.uri.contains("/events"))
        .count()
}

fn replica(identity: &str, publish: PublishTarget) -> KubeConfig {
    KubeConfig {
        publish: Some(publish),
        election: Some(LeaseConfig::new(NS, identity, Duration::from_secs(3))),
        ..fast_config()
    }
}

async fn cluster() -> ApiServer {
    let server = ApiServer::start().await.unwrap();
    server.apply(&ingress_class());
    server.apply(&service("web", "site"));
    server.apply(&slice("web", "site", &["10.0.0.1"], 8080));
    server.apply(&ingress("web", "site", "ringress", "site.example", "/", "site"));
    server.apply(&ingress("web", "theirs", "nginx", "theirs.example", "/", "site"));
    server
}

#[tokio::test]
async fn only_the_leader_writes_status_and_a_clean_stop_hands_over_at_once() {
    let server = cluster().await;
    let addresses = PublishTarget::Addresses(vec!["203.0.113.7".into(), "lb.example".into()]);
    let a = Controller::start(&server, "alpha", replica("alpha", addresses.clone())).await;
    eventually("alpha leads", || holder(&server).as_deref() == Some("alpha")).await;
    let b = Controller::start(&server, "beta", replica("beta", addresses.clone())).await;
    eventually("status written", || {
        status_ips(&server, "web", "site") == ["203.0.113.7", "lb.example"]
    })
    .await;
    b.until("beta synced", |t| t.route("site.example", "/").is_some()).await;

    // /metrics shows who leads.
    eventually("alpha reports leading", || a.stats.render().contains("ringress_kube_leader 1\n"))
        .await;
    assert!(b.stats.render().contains("ringress_kube_leader 0\n"));
    assert!(a.stats.render().contains("ringress_kube_synced 1\n"));

    // Both serve; only the leader wrote; the other class is never touched.
    assert!(writes_by(&server, "alpha") >= 1);
    assert_eq!(writes_by(&server, "beta"), 0);
    assert!(status_ips(&server, "web", "theirs").is_empty());
    assert!(!server.requests().iter().any(|r| r.uri.contains("/ingresses/theirs")));

    // Writes happen only when status differs: nothing more for the same state.
    let patches = writes_by(&server, "alpha");
    let passes = a.stats.status_passes.load(Ordering::Relaxed);
    server.apply(&slice("web", "site", &["10.0.0.2"], 8080));
    a.until("new endpoint", |t| endpoints(t, "site.example", "/") == ["10.0.0.2:8080"]).await;
    b.until("new endpoint", |t| endpoints(t, "site.example", "/") == ["10.0.0.2:8080"]).await;
    eventually("a status pass", || a.stats.status_passes.load(Ordering::Relaxed) > passes).await;
    assert_eq!(writes_by(&server, "alpha"), patches);
    assert_eq!(b.stats.status_passes.load(Ordering::Relaxed), 0, "the follower never passes");

    // A clean stop releases the Lease; beta takes over well before the
    // 3 s lease would have expired, and writes status for a new Ingress.
    a.stop().await;
    assert_eq!(holder(&server), None, "alpha released the lease");
    eventually("beta leads", || holder(&server).as_deref() == Some("beta")).await;
    server.apply(&ingress("web", "new", "ringress", "new.example", "/", "site"));
    eventually("beta writes status", || !status_ips(&server, "web", "new").is_empty()).await;
    assert!(writes_by(&server, "beta") >= 1);
    let lease = server.get::<Lease>(NS, DEFAULT_LEASE_NAME).unwrap().spec.unwrap();
    // Created by alpha (0), taken by beta after the release (1).
    assert_eq!(lease.lease_transitions, Some(1));
    b.stop().await;
}

/// Replica alpha started first and leading, beta synced and following,
/// both publishing 203.0.113.7.
async fn alpha_leads_beta_follows(server: &ApiServer) -> (Controller, Controller) {
    let addresses = PublishTarget::Addresses(vec!["203.0.113.7".into()]);
    let a = Controller::start(server, "alpha", replica("alpha", addresses.clone())).await;
    eventually("alpha leads", || holder(server).as_deref() == Some("alpha")).await;
    let b = Controller::start(server, "beta", replica("beta", addresses)).await;
    b.until("beta synced", |t| t.route("site.example", "/").is_some()).await;
    (a, b)
}

#[tokio::test]
async fn a_killed_leader_is_replaced_when_its_lease_expires() {
    let server = cluster().await;
    let (a, b) = alpha_leads_beta_follows(&server).await;
    a.kill();
    // A killed process releases nothing: alpha's record stays until it
    // expires (3 s after beta last saw it change), then beta wins.
    assert_eq!(holder(&server).as_deref(), Some("alpha"));
    eventually("beta leads", || holder(&server).as_deref() == Some("beta")).await;
    server.apply(&ingress("web", "new", "ringress", "new.example", "/", "site"));
    eventually("beta writes status", || status_ips(&server, "web", "new") == ["203.0.113.7"]).await;
    b.stop().await;
}

#[tokio::test]
async fn status_follows_the_published_service() {
    use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, ServiceStatus};
    let server = cluster().await;
    let mut published = service(NS, "ringress");
    server.apply(&published);
    let target = PublishTarget::Service { namespace: NS.into(), name: "ringress".into() };
    let c = Controller::start(&server, "alpha", replica("alpha", target)).await;
    eventually("alpha leads", || holder(&server).as_deref() == Some("alpha")).await;
    published.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(vec![LoadBalancerIngress {
                ip: Some("198.51.100.4".into()),
                ..Default::default()
            }]),
        }),
        ..Default::default()
    });
    server.apply(&published);
    eventually("status from the Service", || {
        status_ips(&server, "web", "site") == ["198.51.100.4"]
    })
    .await;
    c.stop().await;
}

#[tokio::test]
async fn an_invalid_ingress_gets_one_event_while_the_problem_lasts() {
    let server = cluster().await;
    server.apply(&ingress("web", "broken", "ringress", "broken.example", "/", "missing"));
    let addresses = PublishTarget::Addresses(vec!["203.0.113.7".into()]);
    let c = Controller::start(&server, "alpha", replica("alpha", addresses)).await;
    let about_broken = |server: &ApiServer| -> Vec<Event> {
        server
            .list::<Event>()
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("broken"))
            .collect()
    };
    eventually("an Event", || !about_broken(&server).is_empty()).await;
    let events = about_broken(&server);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.involved_object.kind.as_deref(), Some("Ingress"));
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert!(event.message.as_deref().unwrap_or("").contains("missing"), "{event:?}");
    // More compiles with the same problem: still one Event.
    let compiles = c.stats.compiles.load(std::sync::atomic::Ordering::Relaxed);
    server.apply(&slice("web", "site", &["10.0.0.5"], 8080));
    c.until("recompiled", |t| endpoints(t, "site.example", "/") == ["10.0.0.5:8080"]).await;
    assert!(c.stats.compiles.load(std::sync::atomic::Ordering::Relaxed) > compiles);
    eventually("status pass after the compile", || {
        server.requests().iter().filter(|r| r.uri.contains("/ingresses/broken/status")).count() >= 1
    })
    .await;
    assert_eq!(about_broken(&server).len(), 1);
    c.stop().await;
}

#[tokio::test]
async fn a_failed_status_write_is_retried_and_does_not_stop_the_others() {
    let server = cluster().await;
    server.apply(&ingress("web", "second", "ringress", "second.example", "/", "site"));
    server.fail_next(Some("PATCH"), "/ingresses/site/status", 500, 1);
    let addresses = PublishTarget::Addresses(vec!["203.0.113.7".into()]);
    let c = Controller::start(&server, "alpha", replica("alpha", addresses)).await;
    eventually("both written", || {
        status_ips(&server, "web", "site") == ["203.0.113.7"]
            && status_ips(&server, "web", "second") == ["203.0.113.7"]
    })
    .await;
    assert!(c.stats.status_errors.load(Ordering::Relaxed) >= 1);
    let failed = server
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.uri.contains("/ingresses/site/status"))
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(failed.first(), Some(&500));
    assert_eq!(failed.last(), Some(&200));
    c.stop().await;
}

#[tokio::test]
async fn writing_status_does_not_republish_the_table() {
    let server = cluster().await;
    let addresses = PublishTarget::Addresses(vec!["203.0.113.7".into()]);
    let c = Controller::start(&server, "alpha", replica("alpha", addresses)).await;
    c.until("first table", |t| t.route("site.example", "/").is_some()).await;
    let generation = c.handle.load().generation();
    eventually("status written", || status_ips(&server, "web", "site") == ["203.0.113.7"]).await;
    // The write comes back as a MODIFIED Ingress; the writer's next pass
    // sees it and finds nothing to do.
    let passes = c.stats.status_passes.load(Ordering::Relaxed);
    // (`> passes + 1`: the writing pass itself may not be counted yet.)
    eventually("a later pass", || c.stats.status_passes.load(Ordering::Relaxed) > passes + 1).await;
    assert_eq!(c.handle.load().generation(), generation, "only status changed");
    assert_eq!(c.stats.compiles.load(Ordering::Relaxed), 1);
    let patches = server.requests().iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(patches, 1, "one status write for one served Ingress");
    c.stop().await;
}

/// Issue "several installs side by side": an internal and an external
/// install on one API server, each with its own `--controller-class`,
/// IngressClass and `--election-id`. Each serves only the Ingresses of
/// its class, holds its own Lease, writes its address into its own
/// Ingresses' status only, and once the statuses are right neither writes
/// again (no ping-pong) over several resync periods.
#[tokio::test]
async fn two_installs_each_serve_their_class_and_hold_their_own_lease() {
    let server = ApiServer::start().await.unwrap();
    for (class, controller) in
        [("internal", "example.com/internal"), ("external", "example.com/external")]
    {
        let mut c = ingress_class();
        c.metadata.name = Some(class.into());
        c.spec.as_mut().unwrap().controller = Some(controller.into());
        server.apply(&c);
    }
    server.apply(&service("web", "site"));
    server.apply(&slice("web", "site", &["10.0.0.1"], 8080));
    server.apply(&ingress("web", "inside", "internal", "inside.example", "/", "site"));
    server.apply(&ingress("web", "outside", "external", "outside.example", "/", "site"));
    let install = |controller: &str, lease: &str, address: &str| {
        let mut config = replica("pod-0", PublishTarget::Addresses(vec![address.into()]));
        config.compile.controller_class = controller.into();
        config.election.as_mut().unwrap().name = lease.into();
        config
    };
    let internal = Controller::start(
        &server,
        "internal",
        install("example.com/internal", "internal-leader", "10.1.1.1"),
    )
    .await;
    let external = Controller::start(
        &server,
        "external",
        install("example.com/external", "external-leader", "203.0.113.9"),
    )
    .await;
    internal.until("internal serves inside", |t| t.route("inside.example", "/").is_some()).await;
    external.until("external serves outside", |t| t.route("outside.example", "/").is_some()).await;
    assert!(internal.handle.load().route("outside.example", "/").is_none());
    assert!(external.handle.load().route("inside.example", "/").is_none());

    let lease_holder = |name: &str| {
        server.get::<Lease>(NS, name).and_then(|l| l.spec).and_then(|s| s.holder_identity)
    };
    eventually("each install holds its own Lease", || {
        lease_holder("internal-leader").as_deref() == Some("pod-0")
            && lease_holder("external-leader").as_deref() == Some("pod-0")
    })
    .await;
    eventually("each status names its own install", || {
        status_ips(&server, "web", "inside") == ["10.1.1.1"]
            && status_ips(&server, "web", "outside") == ["203.0.113.9"]
    })
    .await;
    let before = (writes_by(&server, "internal"), writes_by(&server, "external"));
    // Three more status passes of each install (resync: 500 ms).
    let passes = |c: &Controller| c.stats.status_passes.load(Ordering::SeqCst);
    let (i0, e0) = (passes(&internal), passes(&external));
    eventually("three status passes each", || {
        passes(&internal) >= i0 + 3 && passes(&external) >= e0 + 3
    })
    .await;
    assert_eq!(
        (writes_by(&server, "internal"), writes_by(&server, "external")),
        before,
        "no status written once it is right"
    );
    assert_eq!(status_ips(&server, "web", "inside"), ["10.1.1.1"]);
    assert_eq!(status_ips(&server, "web", "outside"), ["203.0.113.9"]);

    // `inside` moves to the external class: the internal install takes its
    // address out of the status, the external one puts its own in.
    server.apply(&ingress("web", "inside", "external", "inside.example", "/", "site"));
    eventually("inside carries only the external address", || {
        status_ips(&server, "web", "inside") == ["203.0.113.9"]
    })
    .await;
    internal
        .until("internal no longer serves inside", |t| t.route("inside.example", "/").is_none())
        .await;
    let before = (writes_by(&server, "internal"), writes_by(&server, "external"));
    let (i0, e0) = (passes(&internal), passes(&external));
    eventually("three more status passes each", || {
        passes(&internal) >= i0 + 3 && passes(&external) >= e0 + 3
    })
    .await;
    assert_eq!(
        (writes_by(&server, "internal"), writes_by(&server, "external")),
        before,
        "the move settles without ping-pong"
    );
    internal.stop().await;
    external.stop().await;
}

/// Issue "leader election as client-go does it": the leader's API server
/// hangs its renewals (no answer, connection open). It stops leading, and
/// stops writing status, within its renew deadline (2 s of a 3 s Lease),
/// before its Lease can expire for the other replica; the other replica
/// then takes over. At no moment do both lead, and the old leader writes
/// nothing after it stepped down, even once its requests are answered.
#[tokio::test]
async fn a_leader_whose_renewals_hang_steps_down_before_its_lease_expires() {
    let server = cluster().await;
    let (a, b) = alpha_leads_beta_follows(&server).await;
    eventually("alpha writes status", || status_ips(&server, "web", "site") == ["203.0.113.7"])
        .await;
    let leads = |c: &Controller| c.stats.leader.load(Ordering::SeqCst);
    assert!(leads(&a) && !leads(&b));

    // Every request alpha makes from now on hangs: its renewals, and any
    // status write it would start.
    server.hang("alpha", "/");
    let hung_at = tokio::time::Instant::now();
    let mut both = false;
    let mut stepped_down_after = None;
    let deadline = hung_at + DEADLINE;
    while !leads(&b) {
        assert!(tokio::time::Instant::now() < deadline, "beta never took over");
        both |= leads(&a) && leads(&b);
        if stepped_down_after.is_none() && !leads(&a) {
            stepped_down_after = Some(hung_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!both, "two leaders at once");
    let stepped_down_after = stepped_down_after.expect("alpha stepped down before beta led");
    eprintln!("alpha stepped down {stepped_down_after:?} after its renewals started to hang");
    assert!(!leads(&a));
    eventually("beta holds the Lease", || holder(&server).as_deref() == Some("beta")).await;

    // alpha's hung requests are answered now: none of them, and nothing
    // after, is a status write.
    let alpha_writes = writes_by(&server, "alpha");
    server.unhang();
    server.apply(&ingress("web", "new", "ringress", "new.example", "/", "site"));
    eventually("beta writes the new status", || {
        status_ips(&server, "web", "new") == ["203.0.113.7"]
    })
    .await;
    a.until("alpha sees the new Ingress", |t| t.route("new.example", "/").is_some()).await;
    assert_eq!(writes_by(&server, "alpha"), alpha_writes, "alpha wrote after stepping down");
    assert!(!leads(&a));
    a.stop().await;
    b.stop().await;
}
