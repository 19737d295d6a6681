//! Several Ingresses for one host: rules merged; on a conflict (same host,
//! path and type) the oldest Ingress wins — creationTimestamp, then
//! namespace/name — and the loser gets a diagnostic.

use ringress_control::compile::HostSharing;
use ringress_control::{compile_yaml, CompileOptions, Severity};

use crate::support::*;

fn created(yaml: &str, at: &str) -> String {
    yaml.replacen(
        "  namespace: default\n",
        &format!("  namespace: default\n  creationTimestamp: \"{at}\"\n"),
        1,
    )
}

/// Rules for one host from several Ingresses are merged into one host.
#[test]
fn rules_for_one_host_from_several_ingresses_are_merged() {
    let one = ingress("one", Some("shop.com"), &[("/cart", "Prefix", "svc-a")]);
    let two = ingress("two", Some("shop.com"), &[("/pay", "Prefix", "svc-b")]);
    let svcs = services();
    let t = table(&[CLASS, &svcs, &one, &two]);
    assert_eq!(service_for(&t, "shop.com", "/cart/1"), some("svc-a"));
    assert_eq!(service_for(&t, "shop.com", "/pay"), some("svc-b"));
    let hosts = t.virtual_hosts();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].routes().len(), 2);
}

/// Same host, path and type: the Ingress with the older creationTimestamp
/// wins, whatever its name and wherever it appears in the files.
#[test]
fn conflict_oldest_creation_timestamp_wins() {
    let young = created(
        &ingress("aaa-young", Some("shop.com"), &[("/cart", "Prefix", "svc-a")]),
        "2024-06-01T00:00:00Z",
    );
    let old = created(
        &ingress("zzz-old", Some("shop.com"), &[("/cart/", "Prefix", "svc-b")]),
        "2023-01-01T00:00:00Z",
    );
    let svcs = services();
    let (t, diags) = compile(&[CLASS, &svcs, &young, &old]);
    assert_eq!(service_for(&t, "shop.com", "/cart"), some("svc-b"));
    let loser: Vec<_> = diags.iter().filter(|d| d.name.as_deref() == Some("aaa-young")).collect();
    assert_eq!(loser.len(), 1, "{diags:#?}");
    assert_eq!(loser[0].severity, Severity::Warning);
    assert_eq!(loser[0].field, "spec.rules[0].http.paths[0].path");
    assert!(loser[0].reason.contains("default/zzz-old"), "{}", loser[0].reason);
}

/// At equal creationTimestamp, namespace/name decides.
#[test]
fn conflict_at_equal_age_namespace_then_name_wins() {
    let at = "2024-01-01T00:00:00Z";
    let b = created(&ingress("b", Some("shop.com"), &[("/x", "Exact", "svc-b")]), at);
    let a = created(&ingress("a", Some("shop.com"), &[("/x", "Exact", "svc-a")]), at);
    let other_ns = created(&ingress("zero", Some("shop.com"), &[("/x", "Exact", "svc-c")]), at)
        .replace("namespace: default", "namespace: zeta");
    let svcs = services();
    let losers = |diags: &[ringress_control::Diagnostic], why: &str| -> Vec<String> {
        diags
            .iter()
            .filter(|d| d.reason.contains(why))
            .map(|d| {
                let ns = d.namespace.as_deref().unwrap_or("");
                format!("{ns}/{}", d.name.as_deref().unwrap_or(""))
            })
            .collect()
    };
    // Every namespace merged into one host (`--host-sharing=any`, as
    // ingress-nginx): the path conflict is decided by namespace, then name.
    let any = CompileOptions { host_sharing: HostSharing::Any, ..CompileOptions::default() };
    let (t, diags) = compile_yaml(&docs(&[CLASS, &svcs, &other_ns, &b, &a]), &any);
    assert_eq!(service_for(&t, "shop.com", "/x"), some("svc-a"));
    assert_eq!(losers(&diags, "already routed"), ["default/b", "zeta/zero"]);
    // By default the host belongs to `default` (namespace order at equal
    // age): `zeta` is refused before any path is compared.
    let (t, diags) = compile(&[CLASS, &svcs, &other_ns, &b, &a]);
    assert_eq!(service_for(&t, "shop.com", "/x"), some("svc-a"));
    assert_eq!(losers(&diags, "already routed"), ["default/b"]);
    assert_eq!(losers(&diags, "belongs to namespace default"), ["zeta/zero"]);
}

/// Same host and path but different types do not conflict: both stay, and
/// precedence picks between them.
#[test]
fn same_path_with_different_types_is_not_a_conflict() {
    let p = ingress("p", Some("shop.com"), &[("/x", "Prefix", "svc-a")]);
    let e = ingress("e", Some("shop.com"), &[("/x", "Exact", "svc-b")]);
    let svcs = services();
    let (t, diags) = compile(&[CLASS, &svcs, &p, &e]);
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(service_for(&t, "shop.com", "/x"), some("svc-b"));
    assert_eq!(service_for(&t, "shop.com", "/x/y"), some("svc-a"));
}

/// Only one defaultBackend serves: one from an Ingress without rules is
/// preferred, then the oldest; the others get a diagnostic.
#[test]
fn default_backend_oldest_wins_and_losers_are_reported() {
    let old = created(&default_backend("old", "svc-a"), "2020-01-01T00:00:00Z");
    let new = created(&default_backend("new", "svc-b"), "2021-01-01T00:00:00Z");
    let svcs = services();
    let (t, diags) = compile(&[CLASS, &svcs, &new, &old]);
    let route = t.route("any.host", "/").expect("default backend");
    assert!(route.is_default);
    assert_eq!(&*route.ingress, "default/old");
    assert_eq!(&*route.backend.key.service, "svc-a");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].name.as_deref(), Some("new"));
    assert_eq!(diags[0].field, "spec.defaultBackend");
}
