//! Backends: a Service port (number or name) resolved, as kube-proxy does,
//! through the Service port's name to the EndpointSlice port of the same
//! name; every slice labelled `kubernetes.io/service-name` merged; only
//! ready endpoints (serving-but-terminating ones when none is ready); one
//! address family per Service.

use std::net::SocketAddr;

use ringress_control::table::RouteTable;
use ringress_control::Severity;

use crate::support::*;

/// Service `web`: port 80 `http` → 8080, port 9000 `metrics` → 9090.
const WEB: &str = "
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: metrics, port: 9000, targetPort: metrics}
";

/// Two slices of `web`; the second has one endpoint not ready, one with
/// no conditions (ready), one serving-but-terminating (not ready), IPv6.
const WEB_SLICES: &str = "
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-v4
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports:
- {name: http, port: 8080, protocol: TCP}
- {name: metrics, port: 9090, protocol: TCP}
endpoints:
- addresses: [10.1.0.1]
  conditions: {ready: true}
- addresses: [10.1.0.2]
  conditions: {ready: false}
- addresses: [10.1.0.3]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-v6
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv6
ports:
- {name: http, port: 8080}
- {name: metrics, port: 9090}
endpoints:
- addresses: [\"fd00::1\"]
  conditions: {ready: true}
- addresses: [\"fd00::2\"]
  conditions: {ready: false, serving: true, terminating: true}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: other-service
  namespace: shop
  labels: {kubernetes.io/service-name: not-web}
addressType: IPv4
ports:
- {name: http, port: 8080}
endpoints:
- addresses: [10.9.9.9]
";

fn web_ingress(port: &str) -> String {
    format!(
        "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: shop}}
spec:
  ingressClassName: ringress
  rules:
  - host: shop.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port: {{{port}}}
"
    )
}

fn endpoints(t: &RouteTable, path: &str) -> Vec<SocketAddr> {
    let route = t.route("shop.com", path).expect("routed");
    route.backend.endpoints.iter().map(|e| e.addr).collect()
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    let mut v: Vec<SocketAddr> = list.iter().map(|a| a.parse().unwrap()).collect();
    v.sort();
    v
}

/// `port.number` names the Service port 80, whose name `http` selects the
/// slice port `http` (8080) in every slice of the Service's family;
/// not-ready endpoints are left out and a missing `ready` counts as ready.
#[test]
fn numbered_port_resolves_through_port_name_and_merges_slices() {
    let ing = web_ingress("number: 80");
    let t = table(&[CLASS, WEB, WEB_SLICES, &ing]);
    assert_eq!(endpoints(&t, "/"), addrs(&["10.1.0.1:8080", "10.1.0.3:8080"]));
}

/// `port.name` selects the Service port by name; the slice port of that
/// name gives the endpoint port (a named targetPort resolved by the
/// EndpointSlice controller).
#[test]
fn named_port_resolves_to_slice_port_of_same_name() {
    let ing = web_ingress("name: metrics");
    let t = table(&[CLASS, WEB, WEB_SLICES, &ing]);
    assert_eq!(endpoints(&t, "/"), addrs(&["10.1.0.1:9090", "10.1.0.3:9090"]));
}

/// "conditions.ready ... Unknown state is interpreted as ready"; `false`
/// excludes the endpoint, terminating endpoints included.
#[test]
fn only_ready_endpoints_are_used() {
    let ing = web_ingress("number: 80");
    let t = table(&[CLASS, WEB, WEB_SLICES, &ing]);
    let got = endpoints(&t, "/");
    assert!(!got.contains(&"10.1.0.2:8080".parse().unwrap()));
    assert!(!got.contains(&"[fd00::2]:8080".parse().unwrap()));
}

/// A Service with a single unnamed port matches the slice's unnamed port.
#[test]
fn unnamed_single_port_matches_unnamed_slice_port() {
    let yaml = "
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, targetPort: 3000}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{port: 3000}]
endpoints: [{addresses: [10.2.0.1]}]
";
    let ing = web_ingress("number: 80");
    let t = table(&[CLASS, yaml, &ing]);
    assert_eq!(endpoints(&t, "/"), addrs(&["10.2.0.1:3000"]));
}

/// A missing Service still yields a route, with no endpoints (the data
/// plane answers 503), and a warning naming the Service.
#[test]
fn missing_service_routes_to_empty_backend_with_warning() {
    let ing = web_ingress("number: 80");
    let (t, diags) = compile(&[CLASS, &ing]);
    assert!(endpoints(&t, "/").is_empty());
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].severity, Severity::Warning);
    assert_eq!(diags[0].field, "spec.rules[0].http.paths[0].backend.service");
    assert!(diags[0].reason.contains("shop/web not found"), "{}", diags[0].reason);
}

/// A Service with no ready endpoint and none serving while terminating
/// yields a route with none, and a warning.
#[test]
fn service_without_ready_endpoints_routes_to_empty_backend() {
    let none_ready = WEB_SLICES.replace("conditions: {ready: true}", "conditions: {ready: false}");
    let none_ready = none_ready.replace("- addresses: [10.1.0.3]\n", "");
    let none_ready =
        none_ready.replace("serving: true, terminating: true", "serving: false, terminating: true");
    let ing = web_ingress("number: 80");
    let (t, diags) = compile(&[CLASS, WEB, &none_ready, &ing]);
    assert!(endpoints(&t, "/").is_empty());
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].reason.contains("no ready endpoints"), "{}", diags[0].reason);
}

/// A port the Service does not have: route with no endpoints, warning.
#[test]
fn unknown_service_port_routes_to_empty_backend() {
    let ing = web_ingress("number: 81");
    let (t, diags) = compile(&[CLASS, WEB, WEB_SLICES, &ing]);
    assert!(endpoints(&t, "/").is_empty());
    assert!(diags[0].reason.contains("has no port 81"), "{}", diags[0].reason);
}

/// An invalid port reference is an error on that path; it is skipped.
#[test]
fn invalid_port_reference_is_an_error() {
    let ing = web_ingress("number: 70000");
    let (t, diags) = compile(&[CLASS, WEB, WEB_SLICES, &ing]);
    assert!(t.route("shop.com", "/").is_none());
    assert_eq!(diags[0].severity, Severity::Error);
    assert_eq!(diags[0].field, "spec.rules[0].http.paths[0].backend.service.port.number");
}

/// Every backend appears once in `backends()`, however many routes use it.
#[test]
fn backends_are_shared_between_routes() {
    let a = ingress("a", Some("a.com"), &[("/", "Prefix", "svc-a"), ("/x", "Exact", "svc-a")]);
    let b = ingress("b", Some("b.com"), &[("/", "Prefix", "svc-a")]);
    let svcs = services();
    let t = table(&[CLASS, &svcs, &a, &b]);
    assert_eq!(t.backends().count(), 1);
    let ra = t.route("a.com", "/x").unwrap();
    let rb = t.route("b.com", "/").unwrap();
    assert!(std::sync::Arc::ptr_eq(&ra.backend, &rb.backend));
}

/// A dual-stack Service's pods appear in an IPv4 and an IPv6 slice: each
/// counts once. The family is `spec.ipFamilies[0]` (IPv4 when unset); the
/// other family serves only when the primary has no usable endpoint.
#[test]
fn one_address_family_per_service() {
    let ing = web_ingress("number: 80");
    let v6_first = WEB.replace("spec:\n", "spec:\n  ipFamilies: [IPv6, IPv4]\n");
    let t = table(&[CLASS, &v6_first, WEB_SLICES, &ing]);
    assert_eq!(endpoints(&t, "/"), addrs(&["[fd00::1]:8080"]));
    // IPv4 primary, but no IPv4 endpoint is ready: the IPv6 ones serve.
    let v4_down = WEB_SLICES
        .replace(
            "- addresses: [10.1.0.1]\n  conditions: {ready: true}",
            "- addresses: [10.1.0.1]\n  conditions: {ready: false}",
        )
        .replace(
            "- addresses: [10.1.0.3]\n",
            "- addresses: [10.1.0.3]\n  conditions: {ready: false}\n",
        );
    let t = table(&[CLASS, WEB, &v4_down, &ing]);
    assert_eq!(endpoints(&t, "/"), addrs(&["[fd00::1]:8080"]));
}

/// kube-proxy's rule: when no endpoint is ready, those still serving while
/// terminating are used (a one-replica rollout is not a 503), with a
/// warning; an endpoint neither ready nor serving never is.
#[test]
fn serving_terminating_endpoints_serve_when_none_is_ready() {
    let slices = "
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-rolling
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports:
- {name: http, port: 8080}
endpoints:
- addresses: [10.1.0.7]
  conditions: {ready: false, serving: true, terminating: true}
- addresses: [10.1.0.8]
  conditions: {ready: false, serving: false, terminating: true}
- addresses: [10.1.0.9]
  conditions: {ready: false}
";
    let ing = web_ingress("number: 80");
    let (t, diags) = compile(&[CLASS, WEB, slices, &ing]);
    assert_eq!(endpoints(&t, "/"), addrs(&["10.1.0.7:8080"]));
    assert!(
        diags.iter().any(|d| d.severity == Severity::Warning
            && d.reason.contains("serving but terminating endpoints are used")),
        "{diags:#?}"
    );
    // A ready endpoint appears: the terminating one is dropped.
    let ready = slices.replace(
        "- addresses: [10.1.0.9]\n  conditions: {ready: false}",
        "- addresses: [10.1.0.9]\n  conditions: {ready: true}",
    );
    let t = table(&[CLASS, WEB, &ready, &ing]);
    assert_eq!(endpoints(&t, "/"), addrs(&["10.1.0.9:8080"]));
}
