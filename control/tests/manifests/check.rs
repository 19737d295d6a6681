//! `check::run`: the readable report of a manifests directory.

use std::path::PathBuf;

use ringress_control::check;
use ringress_control::CompileOptions;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/manifests")
}

/// The bundled examples compile without errors or warnings, and the report
/// shows every kind of host, paths with types, resolved endpoints, the
/// default backend and the TLS host with its Secret.
#[test]
fn check_describes_the_bundled_examples() {
    let out = check::run(&examples(), &CompileOptions::default());
    assert_eq!((out.errors, out.warnings), (0, 0), "{}", out.text);
    let text = &out.text;
    for line in [
        "  demo.example.com (exact)",
        "    / Prefix -> default/web:80  [127.0.0.1:9001, 127.0.0.1:9002]  (Ingress default/demo)",
        "    /api Prefix -> default/api:http  [127.0.0.1:9003]  (Ingress default/demo)",
        "    /healthz Exact -> default/api:8080  [127.0.0.1:9003]  (Ingress default/demo)",
        "  *.apps.example.com (wildcard, one label)",
        "    / Prefix -> default/api:8080  [127.0.0.1:9003]  [http -> https]  (Ingress default/secure)",
        "    default/fallback:80  [127.0.0.1:9003]  (Ingress default/fallback)",
        "    secure.example.com  <- Secret default/secure-tls  (sha256 ",
        "diagnostics: 0 error(s), 0 warning(s)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

/// Errors and warnings are listed with file, document, object and field,
/// errors first, and counted.
#[test]
fn check_lists_diagnostics_with_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: lost, namespace: default}
spec:
  ingressClassName: ringress
  rules:
  - host: lost.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: nowhere, port: {number: 80}}}}
      - {path: nope, pathType: Prefix, backend: {service: {name: nowhere, port: {number: 80}}}}
";
    std::fs::write(
        dir.path().join("site.yaml"),
        format!("{}---{bad}", crate::site("a.com", "web", "10.0.0.1")),
    )
    .unwrap();
    let out = check::run(dir.path(), &CompileOptions::default());
    assert_eq!((out.errors, out.warnings), (1, 1), "{}", out.text);
    let file = dir.path().join("site.yaml");
    let error = format!(
        "  error: {}:33 (document 4): Ingress default/lost: spec.rules[0].http.paths[1].path: \"nope\" must start with '/'",
        file.display()
    );
    assert!(out.text.contains(&error), "missing {error:?} in:\n{}", out.text);
    assert!(
        out.text.contains("/ Prefix -> default/nowhere:80  no ready endpoints -> 503"),
        "{}",
        out.text
    );
    assert!(out.text.contains("Service default/nowhere not found"), "{}", out.text);
}

/// Each Ingress's effective annotation policy is printed on its routes and
/// in the annotations section, with every ignored or invalid annotation.
#[test]
fn check_shows_annotation_policy_and_ignored_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let annotated = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: moved
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/permanent-redirect: https://new.example/
    nginx.ingress.kubernetes.io/permanent-redirect-code: '999'
    nginx.ingress.kubernetes.io/limit-rps: '5'
spec:
  ingressClassName: ringress
  rules:
  - host: old.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
";
    std::fs::write(
        dir.path().join("site.yaml"),
        format!("{}---{annotated}", crate::site("a.com", "web", "10.0.0.1")),
    )
    .unwrap();
    let out = check::run(dir.path(), &CompileOptions::default());
    assert_eq!((out.errors, out.warnings), (1, 1), "{}", out.text);
    for line in [
        "[redirect: 301 https://new.example/, upstream not contacted]  (Ingress default/moved)",
        "    Ingress default/moved: policy [redirect: 301 https://new.example/, upstream not contacted]",
        "      invalid: nginx.ingress.kubernetes.io/permanent-redirect-code: \"999\" is not one of",
        "      ignored: nginx.ingress.kubernetes.io/limit-rps: not implemented by ringress; ignored",
    ] {
        assert!(out.text.contains(line), "missing {line:?} in:\n{}", out.text);
    }
}

/// An unreadable directory is one error.
#[test]
fn check_reports_a_missing_directory() {
    let out =
        check::run(std::path::Path::new("/nonexistent/manifests"), &CompileOptions::default());
    assert_eq!(out.errors, 1);
    assert!(
        out.text.starts_with("error: manifests directory /nonexistent/manifests"),
        "{}",
        out.text
    );
}
