//! The [`crate::fixtures`] objects as the YAML a manifests directory holds,
//! compiled through `compile_yaml` exactly as such a directory would be.
//! Every builder here renders typed objects; namespace `default`.

use std::net::SocketAddr;

use ringress_control::table::Route;
use ringress_control::{compile_yaml, CompileOptions, Diagnostic, RouteTable, Severity};
use serde::Serialize;

use crate::fixtures::{self, PathSpec, CLASS_NAME};

/// Our IngressClass as YAML (the same object as
/// [`fixtures::ingress_class`]; a test below keeps the two equal).
pub const CLASS: &str = "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: ringress
spec:
  controller: ringress.io/ingress-controller
";

/// One object as a YAML document (with its `apiVersion` and `kind`).
pub fn doc<T: Serialize>(object: &T) -> String {
    serde_yaml::to_string(object).expect("a k8s-openapi object serialises")
}

/// Join documents into one multi-document YAML stream.
pub fn docs(parts: &[&str]) -> String {
    parts.join("\n---\n")
}

/// Join manifests into one YAML stream, with our IngressClass first.
pub fn yaml(parts: &[String]) -> String {
    let mut all = vec![CLASS.to_string()];
    all.extend(parts.iter().cloned());
    all.join("\n---\n")
}

/// Service `name` (port 80 named `http`) with one EndpointSlice per
/// endpoint, so endpoints can listen on different loopback ports.
pub fn service(name: &str, endpoints: &[SocketAddr]) -> String {
    let mut out = vec![doc(&fixtures::service("default", name))];
    out.extend(fixtures::slices_for("default", name, endpoints).iter().map(doc));
    out.join("---\n")
}

/// An Ingress of our class with one rule: `host` (None: any host) and its
/// `paths`.
pub fn ingress(name: &str, host: Option<&str>, paths: &[PathSpec<'_>]) -> String {
    doc(&fixtures::ingress_rule("default", name, CLASS_NAME, host, paths))
}

/// [`ingress`] with these annotations.
pub fn annotated_ingress(
    name: &str,
    host: Option<&str>,
    paths: &[PathSpec<'_>],
    annotations: &[(&str, &str)],
) -> String {
    let ingress = fixtures::ingress_rule("default", name, CLASS_NAME, host, paths);
    doc(&fixtures::with_annotations(ingress, annotations))
}

/// An Ingress of our class with only a `defaultBackend`.
pub fn default_backend(name: &str, service: &str) -> String {
    doc(&fixtures::default_backend("default", name, service))
}

/// An Ingress routing every path of `host` to Service `web:80`, listing
/// `host` under `tls` with `secret`, with these annotations.
pub fn tls_ingress(name: &str, host: &str, secret: &str, annotations: &[(&str, &str)]) -> String {
    let ingress = fixtures::ingress("default", name, CLASS_NAME, host, "/", "web");
    doc(&fixtures::with_annotations(fixtures::with_tls(ingress, &[host], secret), annotations))
}

/// A `kubernetes.io/tls` Secret holding this PEM chain and key.
pub fn tls_secret(name: &str, cert_pem: &str, key_pem: &str) -> String {
    doc(&fixtures::tls_secret_of("default", name, cert_pem, key_pem))
}

/// Services `svc-a` … `svc-e`, with endpoints 10.0.0.1:8080 … 10.0.0.5:8080.
pub fn services() -> String {
    ["a", "b", "c", "d", "e"]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let endpoint = SocketAddr::from(([10, 0, 0, i as u8 + 1], 8080));
            service(&format!("svc-{s}"), &[endpoint])
        })
        .collect::<Vec<_>>()
        .join("---\n")
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::IngressClass;

    #[test]
    fn class_yaml_is_the_typed_class() {
        let parsed: IngressClass = serde_yaml::from_str(CLASS).expect("CLASS parses");
        assert_eq!(parsed, fixtures::ingress_class());
    }

    /// The rendered objects compile to the routes they describe.
    #[test]
    fn rendered_manifests_compile_to_their_routes() {
        let up: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let t = table(&[
            CLASS,
            &service("web", &[up]),
            &ingress("a", Some("a.example"), &[("/x", "Exact", "web")]),
            &default_backend("d", "web"),
        ]);
        let route = t.route("a.example", "/x").expect("route");
        assert_eq!(route.backend.endpoints.iter().map(|e| e.addr).collect::<Vec<_>>(), [up]);
        assert_eq!(service_for(&t, "other", "/"), some("web"), "default backend");
    }
}
