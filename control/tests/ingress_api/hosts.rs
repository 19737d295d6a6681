//! Hosts: exact, wildcard (the "Hostname wildcards" table of the Kubernetes
//! Ingress documentation, one test per row), host-less rules, and the
//! fall-through order.

use ringress_control::Severity;

use crate::support::*;

fn wildcard(request_host: &str) -> Option<String> {
    let ing = ingress("wild", Some("*.foo.com"), &[("/", "Prefix", "svc-a")]);
    routed(&[&ing], request_host, "/")
}

/// Row: `*.foo.com`, Host `bar.foo.com`: matches based on shared suffix.
#[test]
fn row_wildcard_matches_one_label() {
    assert_eq!(wildcard("bar.foo.com"), some("svc-a"));
}

/// Row: `*.foo.com`, Host `baz.bar.foo.com`: no match, wildcard only covers a single DNS label.
#[test]
fn row_wildcard_does_not_match_two_labels() {
    assert_eq!(wildcard("baz.bar.foo.com"), None);
}

/// Row: `*.foo.com`, Host `foo.com`: no match, wildcard only covers a single DNS label.
#[test]
fn row_wildcard_does_not_match_bare_suffix() {
    assert_eq!(wildcard("foo.com"), None);
}

/// Hosts compare ASCII case-insensitively and any `:port` is ignored.
#[test]
fn host_is_case_insensitive_and_port_is_ignored() {
    let ing = ingress("ing", Some("Foo.Example.com"), &[("/", "Prefix", "svc-a")]);
    for host in
        ["foo.example.com", "FOO.EXAMPLE.COM:8080", "foo.example.com:443", "foo.example.com."]
    {
        assert_eq!(routed(&[&ing], host, "/"), some("svc-a"), "{host}");
    }
    assert_eq!(wildcard("BAR.Foo.Com:8443"), some("svc-a"));
}

/// "Precise matches must take precedence over wildcard matches."
#[test]
fn exact_host_beats_wildcard() {
    let exact = ingress("exact", Some("bar.foo.com"), &[("/", "Prefix", "svc-a")]);
    let wild = ingress("wild", Some("*.foo.com"), &[("/", "Prefix", "svc-b")]);
    assert_eq!(routed(&[&wild, &exact], "bar.foo.com", "/x"), some("svc-a"));
    assert_eq!(routed(&[&wild, &exact], "baz.foo.com", "/x"), some("svc-b"));
}

/// "If no host is specified, the rule applies to all inbound HTTP traffic":
/// any name, an IPv4 or IPv6 literal, or no Host at all.
#[test]
fn rule_without_host_matches_every_host() {
    let any = ingress("any", None, &[("/", "Prefix", "svc-c")]);
    for host in ["foo.com", "10.1.2.3:8080", "[::1]:8080", "::1", "", "x".repeat(300).as_str()] {
        assert_eq!(routed(&[&any], host, "/p"), some("svc-c"), "{host:?}");
    }
}

/// Fall-through: a host that matches but has no matching path passes the
/// request on to the wildcard host, then the host-less rules, then the
/// default backend (documented in docs/configuration.md).
#[test]
fn host_without_matching_path_falls_through_each_level() {
    let exact = ingress("exact", Some("a.foo.com"), &[("/exact", "Prefix", "svc-a")]);
    let wild = ingress("wild", Some("*.foo.com"), &[("/wild", "Prefix", "svc-b")]);
    let any = ingress("any", None, &[("/any", "Prefix", "svc-c")]);
    let def = default_backend("def", "svc-d");
    let svcs = services();
    let t = table(&[CLASS, &svcs, &exact, &wild, &any, &def]);
    assert_eq!(service_for(&t, "a.foo.com", "/exact"), some("svc-a"));
    assert_eq!(service_for(&t, "a.foo.com", "/wild"), some("svc-b"));
    assert_eq!(service_for(&t, "a.foo.com", "/any"), some("svc-c"));
    let route = t.route("a.foo.com", "/none").expect("default backend");
    assert!(route.is_default);
    assert_eq!(&*route.backend.key.service, "svc-d");
}

/// With no rule matching and no defaultBackend anywhere, the answer is 404.
#[test]
fn nothing_matching_and_no_default_backend_is_404() {
    let exact = ingress("exact", Some("a.foo.com"), &[("/exact", "Prefix", "svc-a")]);
    assert_eq!(routed(&[&exact], "a.foo.com", "/other"), None);
    assert_eq!(routed(&[&exact], "b.foo.com", "/exact"), None);
}

/// A host that is not a DNS name (an IP address, a misplaced `*`) is an
/// error on that rule; the Ingress's other rules still compile.
#[test]
fn invalid_host_is_reported_and_other_rules_compile() {
    let bad = ingress("bad", Some("10.0.0.1"), &[("/", "Prefix", "svc-a")]);
    let worse = ingress("worse", Some("a.*.com"), &[("/", "Prefix", "svc-a")]);
    let good = ingress("good", Some("ok.com"), &[("/", "Prefix", "svc-b")]);
    let svcs = services();
    let (t, diags) = compile(&[CLASS, &svcs, &bad, &worse, &good]);
    let errors: Vec<_> = diags.iter().filter(|d| d.severity == Severity::Error).collect();
    assert_eq!(errors.len(), 2, "{diags:#?}");
    assert!(errors.iter().all(|d| d.field == "spec.rules[0].host" && d.kind == "Ingress"));
    assert_eq!(errors[0].name.as_deref(), Some("bad"));
    assert_eq!(service_for(&t, "ok.com", "/"), some("svc-b"));
    assert_eq!(service_for(&t, "10.0.0.1", "/"), None);
}

/// `--default-backend-service NS/NAME` serves what no rule matches, at the
/// Service's first port, on unknown hosts and on known hosts' unmatched
/// paths (an owned host included: the operator's catch-all is not another
/// tenant's); an Ingress's `spec.defaultBackend` wins over it; a Service
/// that does not exist is a warning and a 503 backend, never a crash.
#[test]
fn default_backend_service_flag_serves_the_unmatched() {
    use ringress_control::table::ServicePortRef;
    use ringress_control::{compile_yaml, CompileOptions};
    let flag = |ns: &str, name: &str| CompileOptions {
        default_backend_service: Some((ns.into(), name.into())),
        ..CompileOptions::default()
    };
    let exact = ingress("exact", Some("a.foo.com"), &[("/exact", "Prefix", "svc-a")]);
    let svcs = services();
    let yaml = ringress_test_support::manifests::docs(&[CLASS, &svcs, &exact]);
    let (t, diags) = compile_yaml(&yaml, &flag("default", "svc-e"));
    assert!(diags.is_empty(), "{diags:#?}");
    for (host, path) in [("unknown.example", "/"), ("a.foo.com", "/other")] {
        let route = t.route(host, path).expect("the flag's backend");
        assert!(route.is_default);
        assert_eq!(&*route.backend.key.service, "svc-e");
        assert_eq!(route.backend.key.port, ServicePortRef::Number(80));
        assert_eq!(route.backend.endpoints.len(), 1);
    }
    assert_eq!(service_for(&t, "a.foo.com", "/exact"), some("svc-a"));

    let def = default_backend("def", "svc-d");
    let yaml = ringress_test_support::manifests::docs(&[CLASS, &svcs, &exact, &def]);
    let (t, _) = compile_yaml(&yaml, &flag("default", "svc-e"));
    assert_eq!(&*t.route("unknown.example", "/").expect("default").backend.key.service, "svc-d");

    let yaml = ringress_test_support::manifests::docs(&[CLASS, &svcs, &exact]);
    let (t, diags) = compile_yaml(&yaml, &flag("ops", "missing"));
    let route = t.route("unknown.example", "/").expect("a 503 backend");
    assert!(route.backend.endpoints.is_empty());
    let d = diags.iter().find(|d| d.field == "--default-backend-service").expect("a warning");
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.reason.contains("ops/missing"), "{d}");
}
