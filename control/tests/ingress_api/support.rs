//! Manifest builders for the Ingress API tests: real Kubernetes YAML,
//! compiled through `compile_yaml` exactly as a manifests directory would be.

use ringress_control::table::Route;
use ringress_control::{compile_yaml, CompileOptions, Diagnostic, RouteTable, Severity};

/// Our IngressClass, `ringress`, controller `ringress.io/ingress-controller`.
pub const CLASS: &str = "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: ringress
spec:
  controller: ringress.io/ingress-controller
";

/// A Service `name` in `default` with one TCP port 80 named `http`, and one
/// EndpointSlice with a ready endpoint `ip`:8080.
pub fn service(name: &str, ip: &str) -> String {
    format!(
        "
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: default
spec:
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-abc12
  namespace: default
  labels:
    kubernetes.io/service-name: {name}
addressType: IPv4
ports:
- name: http
  port: 8080
endpoints:
- addresses: [\"{ip}\"]
"
    )
}

/// Services `svc-a` … `svc-e` with endpoints 10.0.0.1 … 10.0.0.5.
pub fn services() -> String {
    ["a", "b", "c", "d", "e"]
        .iter()
        .enumerate()
        .map(|(i, s)| service(&format!("svc-{s}"), &format!("10.0.0.{}", i + 1)))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// One path of a rule: (path, pathType, service).
pub type PathSpec<'a> = (&'a str, &'a str, &'a str);

/// An Ingress of class `ringress` with one rule for `host` (None: no host).
pub fn ingress(name: &str, host: Option<&str>, paths: &[PathSpec<'_>]) -> String {
    let mut y = format!(
        "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: default
spec:
  ingressClassName: ringress
  rules:
  - "
    );
    if let Some(h) = host {
        y.push_str(&format!("host: \"{h}\"\n    "));
    }
    y.push_str("http:\n      paths:\n");
    for (path, path_type, svc) in paths {
        y.push_str(&format!(
            "      - path: \"{path}\"
        pathType: {path_type}
        backend:
          service:
            name: {svc}
            port:
              number: 80
"
        ));
    }
    y
}

/// An Ingress of class `ringress` with only a `defaultBackend`.
pub fn default_backend(name: &str, svc: &str) -> String {
    format!(
        "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: default
spec:
  ingressClassName: ringress
  defaultBackend:
    service:
      name: {svc}
      port:
        number: 80
"
    )
}

/// Join documents into one multi-document YAML stream.
pub fn docs(parts: &[&str]) -> String {
    parts.join("\n---\n")
}

/// Compile; fail the test on any error diagnostic.
pub fn table(parts: &[&str]) -> RouteTable {
    let (table, diags) = compile(parts);
    let errors: Vec<_> = diags.iter().filter(|d| d.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
    table
}

pub fn compile(parts: &[&str]) -> (RouteTable, Vec<Diagnostic>) {
    compile_yaml(&docs(parts), &CompileOptions::default())
}

/// The Service a request is routed to, or None for 404.
pub fn service_for(table: &RouteTable, host: &str, path: &str) -> Option<String> {
    table.route(host, path).map(|r: &Route| r.backend.key.service.to_string())
}

/// Compile the standard services plus `ingresses`, then route.
pub fn routed(ingresses: &[&str], host: &str, path: &str) -> Option<String> {
    let svcs = services();
    let mut parts = vec![CLASS, svcs.as_str()];
    parts.extend_from_slice(ingresses);
    service_for(&table(&parts), host, path)
}

pub fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}
