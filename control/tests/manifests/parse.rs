//! Reading manifests: what parses, and how what does not is reported.

use std::path::Path;

use ringress_control::provider::dir::load_dir;
use ringress_control::{compile, compile_yaml, CompileOptions, Severity};

use crate::site;

/// A YAML syntax error costs only its own document; it is reported with
/// the file, the document index and the line.
#[test]
fn malformed_yaml_document_is_reported_and_the_rest_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}---\nkind: Service\nmetadata: {{name: [unclosed\n",
        site("a.com", "web", "10.0.0.1")
    );
    std::fs::write(dir.path().join("site.yaml"), text).unwrap();
    let (snapshot, diags) = load_dir(dir.path()).unwrap();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert_eq!(d.severity, Severity::Error);
    let origin = d.origin.as_ref().unwrap();
    assert_eq!(&*origin.file, dir.path().join("site.yaml").as_path());
    assert_eq!(origin.document, 4);
    assert!(d.reason.contains("YAML syntax error at line 3"), "{}", d.reason);
    let (table, _) = compile(&snapshot, &CompileOptions::default());
    assert!(table.route("a.com", "/").is_some());
}

/// An object that does not decode into its Kubernetes type is reported
/// with kind, namespace/name and the field that is wrong, and skipped.
#[test]
fn invalid_object_reports_kind_name_and_field() {
    let bad = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: broken, namespace: shop}
spec:
  rules:
  - host: a.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: eighty}}}
";
    let (table, diags) = compile_yaml(
        &format!("{}---{bad}", site("ok.com", "web", "10.0.0.1")),
        &CompileOptions::default(),
    );
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert_eq!(
        (d.kind.as_str(), d.namespace.as_deref(), d.name.as_deref()),
        ("Ingress", Some("shop"), Some("broken"))
    );
    assert_eq!(d.field, "spec.rules[0].http.paths[0].backend.service.port.number");
    assert_eq!(d.origin.as_ref().unwrap().document, 4);
    assert!(table.route("ok.com", "/").is_some(), "the rest still compiles");
    let text = d.to_string();
    assert!(text.starts_with("error: document 4: Ingress shop/broken: spec.rules[0]"), "{text}");
}

/// Required fields: `metadata.name`, `kind`; a known kind with an
/// unsupported apiVersion is reported, not guessed at.
#[test]
fn missing_name_kind_and_old_api_versions_are_errors() {
    let yaml = "
apiVersion: v1
kind: Service
metadata: {namespace: default}
---
apiVersion: v1
metadata: {name: what}
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: old}
";
    let (_, diags) = compile_yaml(yaml, &CompileOptions::default());
    let fields: Vec<_> = diags.iter().map(|d| (d.field.as_str(), d.severity)).collect();
    assert_eq!(
        fields,
        [
            ("metadata.name", Severity::Error),
            ("kind", Severity::Error),
            ("apiVersion", Severity::Error)
        ]
    );
    assert!(diags[2].reason.contains("use networking.k8s.io/v1"), "{}", diags[2].reason);
}

/// Other kinds and Secrets not of type kubernetes.io/tls are ignored
/// without a diagnostic; empty documents and comments are fine.
#[test]
fn other_kinds_are_ignored() {
    let yaml = "
# a comment only
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 1}
---
apiVersion: v1
kind: Secret
metadata: {name: opaque}
type: Opaque
data: {password: aHVudGVyMg==}
---
";
    let (_, diags) = compile_yaml(yaml, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:#?}");
}

/// `.json` files hold one or more JSON documents; `kind: List` (as
/// `kubectl get -o yaml` writes) is unpacked.
#[test]
fn json_documents_and_lists_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let class = r#"{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"ringress"},"spec":{"controller":"ringress.io/ingress-controller"}}"#;
    let ing = r#"{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"j"},"spec":{"ingressClassName":"ringress","defaultBackend":{"service":{"name":"web","port":{"number":80}}}}}"#;
    std::fs::write(dir.path().join("a.json"), format!("{class}\n{ing}\n")).unwrap();
    let list = "
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spec: {ports: [{port: 80}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
  addressType: IPv4
  ports: [{port: 80}]
  endpoints: [{addresses: [10.0.0.9]}]
";
    std::fs::write(dir.path().join("b.yml"), list).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
    let (snapshot, diags) = load_dir(dir.path()).unwrap();
    assert!(diags.is_empty(), "{diags:#?}");
    let (table, diags) = compile(&snapshot, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:#?}");
    let route = table.route("x", "/").unwrap();
    assert_eq!(route.backend.endpoints[0].addr, "10.0.0.9:80".parse().unwrap());
}

/// The same object defined twice is an error on the second definition;
/// the first stays.
#[test]
fn duplicate_objects_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1.yaml"), site("a.com", "web", "10.0.0.1")).unwrap();
    std::fs::write(dir.path().join("2.yaml"), site("b.com", "web", "10.0.0.2")).unwrap();
    let (snapshot, diags) = load_dir(dir.path()).unwrap();
    assert_eq!(diags.len(), 4, "{diags:#?}");
    assert!(diags.iter().all(|d| d.reason.contains("defined twice")));
    assert!(diags.iter().all(|d| d.origin.as_ref().unwrap().file.ends_with("2.yaml")));
    assert_eq!(snapshot.ingresses.len(), 1);
}

/// A directory that does not exist is an error of the loader itself.
#[test]
fn missing_directory_is_an_error() {
    let err = load_dir(Path::new("/nonexistent/manifests")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/manifests"), "{err}");
}
