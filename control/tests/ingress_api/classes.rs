//! IngressClass selection in its three forms. Everything not ours is
//! ignored and never routed.

use ringress_control::{compile_yaml, CompileOptions};

use crate::support::*;

const OTHER_CLASS: &str = "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
";

const DEFAULT_CLASS: &str = "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: ringress
  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}
spec: {controller: ringress.io/ingress-controller}
";

fn with_class(class_line: &str) -> String {
    ingress("ing", Some("a.com"), &[("/", "Prefix", "svc-a")])
        .replace("  ingressClassName: ringress\n", class_line)
}

fn served(class: &str, ing: &str, options: &CompileOptions) -> bool {
    let svcs = services();
    let (t, _) = compile_yaml(&docs(&[class, OTHER_CLASS, &svcs, ing]), options);
    t.route("a.com", "/").is_some()
}

/// `spec.ingressClassName` naming an IngressClass whose controller is
/// `ringress.io/ingress-controller`: ours.
#[test]
fn class_name_of_our_ingress_class_is_served() {
    let ing = with_class("  ingressClassName: ringress\n");
    assert!(served(CLASS, &ing, &CompileOptions::default()));
}

/// `spec.ingressClassName` naming another controller's class, or a class
/// that does not exist: not ours.
#[test]
fn class_name_of_other_or_unknown_class_is_ignored() {
    let other = with_class("  ingressClassName: nginx\n");
    assert!(!served(CLASS, &other, &CompileOptions::default()));
    let unknown = with_class("  ingressClassName: nope\n");
    assert!(!served(CLASS, &unknown, &CompileOptions::default()));
}

/// No class name and no legacy annotation: ours only when one of our
/// IngressClasses carries `ingressclass.kubernetes.io/is-default-class: "true"`.
#[test]
fn classless_ingress_is_served_only_with_our_default_class() {
    let classless = with_class("");
    assert!(served(DEFAULT_CLASS, &classless, &CompileOptions::default()));
    assert!(!served(CLASS, &classless, &CompileOptions::default()));
}

/// The legacy annotation `kubernetes.io/ingress.class` equal to
/// `--ingress-class` (default `ringress`): ours; any other value: not,
/// even when our class is the default.
#[test]
fn legacy_annotation_matching_ingress_class_flag_is_served() {
    let annotated = |v: &str| {
        with_class("").replacen(
            "  namespace: default\n",
            &format!("  namespace: default\n  annotations: {{kubernetes.io/ingress.class: {v}}}\n"),
            1,
        )
    };
    assert!(served(CLASS, &annotated("ringress"), &CompileOptions::default()));
    assert!(!served(DEFAULT_CLASS, &annotated("nginx"), &CompileOptions::default()));
    let custom = CompileOptions { ingress_class: "edge".into(), ..CompileOptions::default() };
    assert!(served(CLASS, &annotated("edge"), &custom));
    assert!(!served(CLASS, &annotated("ringress"), &custom));
}

/// An Ingress that is not ours contributes nothing: no routes, no TLS, no
/// default backend, and no diagnostics about its contents.
#[test]
fn foreign_ingress_contributes_nothing() {
    let foreign = default_backend("foreign", "missing-service")
        .replace("ingressClassName: ringress", "ingressClassName: nginx");
    let svcs = services();
    let (t, diags) = compile(&[CLASS, OTHER_CLASS, &svcs, &foreign]);
    assert!(t.route("x.com", "/").is_none());
    assert!(diags.is_empty(), "{diags:#?}");
}
