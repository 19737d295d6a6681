//! A compile through a [`Memo`] gives exactly what a fresh compile gives,
//! whatever changed since the memo's last compile, and reuses what was
//! made from unchanged objects.

use std::net::SocketAddr;
use std::sync::Arc;

use ringress_control::manifest::parse_str;
use ringress_control::{compile, compile_with, CompileOptions, Memo, RouteTable, Snapshot};

use crate::support::*;

const SECURE_CRT: &str = include_str!("../../testdata/tls/secure.crt");
const SECURE_KEY: &str = include_str!("../../testdata/tls/secure.key");

fn parsed(parts: &[&str]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let diagnostics = parse_str(&docs(parts), None, &mut snapshot);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    snapshot
}

/// Everything a table holds, in one order (its maps iterate in a random
/// one): hosts with their routes and fallbacks, the default route,
/// backends, certificates with their names and fingerprints.
fn canonical(table: &RouteTable) -> String {
    let mut hosts: Vec<String> =
        table.virtual_hosts().iter().map(|v| format!("{} {:?}", v.host(), v.routes())).collect();
    hosts.sort();
    let certs: Vec<String> = table
        .certificates()
        .map(|c| format!("{} {:?} {:?}", c.source, c.names, c.fingerprint))
        .collect();
    format!(
        "{hosts:#?}\n{:?}\n{:#?}\n{certs:#?}\n{:?}",
        table.default_route(),
        table.backends().collect::<Vec<_>>(),
        table.default_certificate().map(|c| c.fingerprint),
    )
}

/// Compile through `memo` and fresh; both must agree in every detail.
fn both(snapshot: &Snapshot, options: &CompileOptions, memo: &mut Memo) -> RouteTable {
    let (fresh, fresh_diags) = compile(snapshot, options);
    let (memoized, memo_diags) = compile_with(snapshot, options, memo);
    assert_eq!(canonical(&memoized), canonical(&fresh));
    for host in ["a.example", "secure.example", "other.example"] {
        assert_eq!(
            memoized.certificate(host).map(|c| c.fingerprint),
            fresh.certificate(host).map(|c| c.fingerprint)
        );
    }
    assert_eq!(memo_diags, fresh_diags);
    memoized
}

fn backend(table: &RouteTable, service: &str) -> Arc<ringress_control::table::Backend> {
    let b = table.backends().find(|b| &*b.key.service == service);
    b.unwrap_or_else(|| panic!("backend {service}")).clone()
}

/// Replace `service`'s EndpointSlice with a new object holding `to`.
fn move_endpoints(snapshot: &mut Snapshot, service: &str, to: SocketAddr) {
    let moved = parsed(&[&self::service(service, &[to])]);
    let name = &moved.endpoint_slices[0].object.metadata.name;
    let k = snapshot.endpoint_slices.iter().position(|s| s.object.metadata.name == *name);
    snapshot.endpoint_slices[k.expect("the Service's slice")] = moved.endpoint_slices[0].clone();
}

fn ep(last: u8) -> SocketAddr {
    SocketAddr::from(([10, 1, 0, last], 8080))
}

#[test]
fn a_memoized_compile_equals_a_fresh_one_through_every_kind_of_change() {
    let a = service("svc-a", &[ep(1)]);
    let web = service("web", &[ep(2), ep(3)]);
    let secret = tls_secret("site-tls", SECURE_CRT, SECURE_KEY);
    let plain = ingress("plain", Some("a.example"), &[("/", "Prefix", "svc-a")]);
    let secure = tls_ingress("secure", "secure.example", "site-tls", &[]);
    let options = CompileOptions::default();
    let mut memo = Memo::default();

    let s0 = parsed(&[CLASS, &a, &web, &secret, &plain, &secure]);
    let t0 = both(&s0, &options, &mut memo);

    // Again, unchanged: every backend is the one made last time.
    let t1 = both(&s0, &options, &mut memo);
    assert!(Arc::ptr_eq(&backend(&t0, "svc-a"), &backend(&t1, "svc-a")));
    assert!(Arc::ptr_eq(&backend(&t0, "web"), &backend(&t1, "web")));
    let key = |t: &RouteTable| t.certificate("secure.example").expect("a certificate").key.clone();
    assert!(Arc::ptr_eq(&key(&t0), &key(&t1)), "the key is parsed once");

    // svc-a's endpoints change (a new slice object): only its backend is
    // made again.
    let mut s2 = s0.clone();
    move_endpoints(&mut s2, "svc-a", ep(9));
    let t2 = both(&s2, &options, &mut memo);
    assert!(!Arc::ptr_eq(&backend(&t1, "svc-a"), &backend(&t2, "svc-a")));
    assert!(Arc::ptr_eq(&backend(&t1, "web"), &backend(&t2, "web")));
    assert_eq!(backend(&t2, "svc-a").endpoints[0].addr, ep(9));

    // An equal object that is a new one (a relist) gives the same table.
    let relisted = parsed(&[CLASS, &a, &web, &secret, &plain, &secure]);
    both(&relisted, &options, &mut memo);

    // The Secret breaks, then comes back; the Service goes away.
    let broken = tls_secret("site-tls", SECURE_CRT, "not a key");
    both(&parsed(&[CLASS, &a, &web, &broken, &plain, &secure]), &options, &mut memo);
    both(&s0, &options, &mut memo);
    both(&parsed(&[CLASS, &web, &secret, &plain, &secure]), &options, &mut memo);

    // Other options: the guard now refuses what was an endpoint.
    let mut guarded = options.clone();
    guarded.endpoint_guard.listeners = vec![ep(2)];
    let t3 = both(&s0, &guarded, &mut memo);
    assert_eq!(backend(&t3, "web").endpoints.len(), 1);
    both(&s0, &options, &mut memo);
}

/// The virtual host of `host` in `table`.
fn vhost<'t>(table: &'t RouteTable, host: &str) -> &'t ringress_control::table::VirtualHost {
    let found = table.virtual_hosts().into_iter().find(|v| v.host().to_string() == host);
    found.unwrap_or_else(|| panic!("no virtual host {host}"))
}

fn same_host(a: &RouteTable, b: &RouteTable, host: &str) -> bool {
    std::ptr::eq(vhost(a, host), vhost(b, host))
}

/// After a change, only the hosts it touched are compiled again: the
/// others are the very virtual hosts of the previous table. What touches a
/// host: its own Ingresses, the backends its paths resolve to, its owner,
/// and whether TLS covers it.
#[test]
fn a_change_recompiles_only_the_hosts_it_touches() {
    use ringress_test_support::fixtures;
    let a = service("svc-a", &[ep(1)]);
    let b = service("svc-b", &[ep(2)]);
    let web = service("web", &[ep(3)]);
    let secret = tls_secret("site-tls", SECURE_CRT, SECURE_KEY);
    let ing_a = ingress("ing-a", Some("a.example"), &[("/", "Prefix", "svc-a")]);
    let ing_b = ingress("ing-b", Some("b.example"), &[("/", "Prefix", "svc-b")]);
    let options = CompileOptions::default();
    let mut memo = Memo::default();

    let t0 = both(&parsed(&[CLASS, &a, &b, &web, &ing_a, &ing_b]), &options, &mut memo);
    // Nothing changed: every host is reused (the same objects, parsed once).
    let s0 = parsed(&[CLASS, &a, &b, &web, &ing_a, &ing_b]);
    let t1 = both(&s0, &options, &mut memo);
    assert!(!same_host(&t0, &t1, "a.example"), "new objects: compiled again");
    let t2 = both(&s0, &options, &mut memo);
    assert!(same_host(&t1, &t2, "a.example") && same_host(&t1, &t2, "b.example"));

    // ing-b gets another path: b.example is compiled again, a.example not.
    let mut s3 = s0.clone();
    let ing_b2 =
        ingress("ing-b", Some("b.example"), &[("/", "Prefix", "svc-b"), ("/x", "Exact", "web")]);
    let i = s3.ingresses.iter().position(|i| i.object.metadata.name.as_deref() == Some("ing-b"));
    s3.ingresses[i.expect("ing-b")] = parsed(&[&ing_b2]).ingresses[0].clone();
    let t3 = both(&s3, &options, &mut memo);
    assert!(same_host(&t2, &t3, "a.example"));
    assert!(!same_host(&t2, &t3, "b.example"));
    assert_eq!(service_for(&t3, "b.example", "/x").as_deref(), Some("web"));

    // svc-a's endpoints change: a.example's route must carry the new
    // backend, so it is compiled again; b.example is not.
    let mut s4 = s3.clone();
    move_endpoints(&mut s4, "svc-a", ep(9));
    let t4 = both(&s4, &options, &mut memo);
    assert!(!same_host(&t3, &t4, "a.example"));
    assert!(same_host(&t3, &t4, "b.example"));
    let route = t4.route("a.example", "/").expect("a route");
    assert_eq!(route.backend.endpoints[0].addr, ep(9));

    // TLS now covers a.example (another Ingress lists it): its routes
    // redirect to https, so it is compiled again.
    let mut s5 = s4.clone();
    let extra = parsed(&[&secret, &tls_ingress("z-tls", "a.example", "site-tls", &[])]);
    s5.ingresses.extend(extra.ingresses);
    s5.secrets.extend(extra.secrets);
    let t5 = both(&s5, &options, &mut memo);
    assert!(same_host(&t4, &t5, "b.example"));
    assert!(t5.route("a.example", "/").expect("a route").redirect_to_https);
    assert!(!t4.route("a.example", "/").expect("a route").redirect_to_https);

    // An older Ingress of another namespace takes b.example (no
    // creationTimestamp on either: namespace "aaa" sorts first): ing-b's
    // rule is refused now.
    let mut s6 = s5.clone();
    let older = fixtures::ingress_rule(
        "aaa",
        "older",
        "ringress",
        Some("b.example"),
        &[("/old", "Prefix", "svc-b")],
    );
    s6.ingresses.extend(parsed(&[&doc(&older)]).ingresses);
    let (t6, diags) = compile_with(&s6, &options, &mut memo);
    assert!(!same_host(&t5, &t6, "b.example"));
    assert!(t6.route("b.example", "/x").is_none_or(|r| r.path.as_ref() != "/x"));
    assert!(diags.iter().any(|d| d.reason.contains("belongs to namespace aaa")), "{diags:#?}");
    both(&s6, &options, &mut memo);
    // And away again: the same answer as before it came.
    let t7 = both(&s5, &options, &mut memo);
    assert_eq!(canonical(&t7), canonical(&t5));
}
