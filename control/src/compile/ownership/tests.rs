//! Host ownership, rule by rule: each test's doc comment is the rule.

use std::collections::BTreeMap;

use crate::compile::{HostSharing, Severity};
use crate::{compile_yaml, CompileOptions, Diagnostic, RouteTable};

/// A Service `svc` in `ns` with one ready endpoint `ip`:8080.
fn service(ns: &str, svc: &str, ip: &str) -> String {
    format!(
        "
apiVersion: v1
kind: Service
metadata: {{name: {svc}, namespace: {ns}}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {svc}-x
  namespace: {ns}
  labels: {{kubernetes.io/service-name: {svc}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{{addresses: [\"{ip}\"]}}]
"
    )
}

/// An Ingress in `ns`, created at `created` (an hour of 2024-01-01),
/// routing `rules` (host or "" for a host-less rule, path, pathType) to
/// the Service `svc` of its namespace, listing `tls` hosts under
/// `spec.tls` (Secret `tls` of its namespace) and carrying `annotations`.
struct Ing<'a> {
    ns: &'a str,
    name: &'a str,
    hour: u32,
    svc: &'a str,
    rules: Vec<(&'a str, &'a str, &'a str)>,
    tls: Vec<&'a str>,
    default_backend: bool,
    annotations: BTreeMap<&'a str, &'a str>,
}

impl<'a> Ing<'a> {
    fn new(ns: &'a str, name: &'a str, hour: u32, svc: &'a str) -> Self {
        Self {
            ns,
            name,
            hour,
            svc,
            rules: Vec::new(),
            tls: Vec::new(),
            default_backend: false,
            annotations: BTreeMap::new(),
        }
    }
    fn rule(mut self, host: &'a str, path: &'a str, path_type: &'a str) -> Self {
        self.rules.push((host, path, path_type));
        self
    }
    fn tls(mut self, host: &'a str) -> Self {
        self.tls.push(host);
        self
    }
    fn default_backend(mut self) -> Self {
        self.default_backend = true;
        self
    }
    fn annotate(mut self, key: &'a str, value: &'a str) -> Self {
        self.annotations.insert(key, value);
        self
    }
    fn yaml(&self) -> String {
        let backend = format!("{{service: {{name: {}, port: {{number: 80}}}}}}", self.svc);
        let annotations: Vec<String> =
            self.annotations.iter().map(|(k, v)| format!("\"{k}\": \"{v}\"")).collect();
        let mut y = format!(
            "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {}
  namespace: {}
  creationTimestamp: \"2024-01-01T{:02}:00:00Z\"
  annotations: {{{}}}
spec:
  ingressClassName: ringress
",
            self.name,
            self.ns,
            self.hour,
            annotations.join(", ")
        );
        if self.default_backend {
            y.push_str(&format!("  defaultBackend: {backend}\n"));
        }
        if !self.tls.is_empty() {
            let hosts: Vec<String> = self.tls.iter().map(|h| format!("\"{h}\"")).collect();
            y.push_str(&format!(
                "  tls:\n  - hosts: [{}]\n    secretName: tls\n",
                hosts.join(", ")
            ));
        }
        if !self.rules.is_empty() {
            y.push_str("  rules:\n");
            for (host, path, path_type) in &self.rules {
                if !host.is_empty() {
                    y.push_str(&format!("  - host: \"{host}\"\n    http:\n"));
                } else {
                    y.push_str("  - http:\n");
                }
                y.push_str(&format!(
                    "      paths:\n      - {{path: \"{path}\", pathType: {path_type}, backend: {backend}}}\n"
                ));
            }
        }
        y
    }
}

const CLASS: &str = "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: ringress}
spec: {controller: ringress.io/ingress-controller}
";

fn pem_block(pem: &str) -> String {
    pem.lines().map(|l| format!("    {l}\n")).collect()
}

/// A `kubernetes.io/tls` Secret `tls` in `ns` (`secure.example.com` and
/// `*.secure.example.com`, or `other.example.com`).
fn tls_secret(ns: &str, which: &str) -> String {
    let (crt, key) = match which {
        "secure" => (
            include_str!("../../../testdata/tls/secure.crt"),
            include_str!("../../../testdata/tls/secure.key"),
        ),
        _ => (
            include_str!("../../../testdata/tls/other.crt"),
            include_str!("../../../testdata/tls/other.key"),
        ),
    };
    format!(
        "
apiVersion: v1
kind: Secret
metadata: {{name: tls, namespace: {ns}}}
type: kubernetes.io/tls
stringData:
  tls.crt: |
{}  tls.key: |
{}",
        pem_block(crt),
        pem_block(key)
    )
}

/// The usual world: namespaces `team-a` and `team-b`, each with a
/// Service `svc-a` / `svc-b`, plus `extra` documents and the Ingresses.
fn compile_with(
    sharing: HostSharing,
    extra: &[String],
    ingresses: &[Ing<'_>],
) -> (RouteTable, Vec<Diagnostic>) {
    let mut docs = vec![
        CLASS.to_string(),
        service("team-a", "svc-a", "10.0.0.1"),
        service("team-b", "svc-b", "10.0.0.2"),
        service("team-c", "svc-c", "10.0.0.3"),
    ];
    docs.extend(extra.iter().cloned());
    docs.extend(ingresses.iter().map(Ing::yaml));
    let options = CompileOptions { host_sharing: sharing, ..CompileOptions::default() };
    let (table, diagnostics) = compile_yaml(&docs.join("\n---\n"), &options);
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
    (table, diagnostics)
}

fn compile(ingresses: &[Ing<'_>]) -> (RouteTable, Vec<Diagnostic>) {
    compile_with(HostSharing::Namespace, &[], ingresses)
}

/// The Service a request is routed to; `None` is 404.
fn service_for(table: &RouteTable, host: &str, path: &str) -> Option<String> {
    table.route(host, path).map(|r| r.backend.key.service.to_string())
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// The warnings about Ingress `ns/name`.
fn warnings<'d>(diagnostics: &'d [Diagnostic], ns: &str, name: &str) -> Vec<&'d Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| {
            d.severity == Severity::Warning
                && d.namespace.as_deref() == Some(ns)
                && d.name.as_deref() == Some(name)
        })
        .collect()
}

/// Another namespace's longer Prefix path on an owned host is refused:
/// the owner's `/` keeps `/login`, and the refusal names the owner.
#[test]
fn a_longer_prefix_from_another_namespace_is_refused() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/", "Prefix");
    let thief =
        Ing::new("team-b", "steal", 2, "svc-b").rule("shop.example.com", "/login", "Prefix");
    let (t, d) = compile(&[owner, thief]);
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-a"));
    let w = warnings(&d, "team-b", "steal");
    assert_eq!(w.len(), 1, "{d:#?}");
    assert_eq!(w[0].field, "spec.rules[0].host");
    assert!(w[0].reason.contains("namespace team-a"), "{}", w[0].reason);
    assert!(w[0].reason.contains("team-a/shop"), "{}", w[0].reason);
}

/// An Exact path (`/.well-known/acme-challenge`) from another namespace on
/// an owned host is refused too.
#[test]
fn an_exact_path_from_another_namespace_is_refused() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/", "Prefix");
    let thief = Ing::new("team-b", "acme", 2, "svc-b").rule(
        "shop.example.com",
        "/.well-known/acme-challenge",
        "Exact",
    );
    let (t, d) = compile(&[owner, thief]);
    assert_eq!(service_for(&t, "shop.example.com", "/.well-known/acme-challenge"), some("svc-a"));
    assert_eq!(warnings(&d, "team-b", "acme").len(), 1, "{d:#?}");
}

/// The refused Ingress's other hosts still work.
#[test]
fn the_refused_ingress_keeps_its_other_hosts() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/", "Prefix");
    let thief = Ing::new("team-b", "mixed", 2, "svc-b")
        .rule("shop.example.com", "/login", "Prefix")
        .rule("blog.example.com", "/", "Prefix");
    let (t, _) = compile(&[owner, thief]);
    assert_eq!(service_for(&t, "blog.example.com", "/"), some("svc-b"));
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-a"));
}

/// A TLS entry from another namespace for an owned host does not choose
/// its certificate: SNI keeps the owner's Secret.
#[test]
fn a_tls_entry_from_another_namespace_does_not_take_the_certificate() {
    let owner = Ing::new("team-a", "secure", 1, "svc-a")
        .rule("secure.example.com", "/", "Prefix")
        .tls("secure.example.com");
    // Older on the clock than nothing: team-b lists the host later.
    let thief = Ing::new("team-b", "cert", 2, "svc-b")
        .rule("blog.example.com", "/", "Prefix")
        .tls("secure.example.com");
    let extra = [tls_secret("team-a", "secure"), tls_secret("team-b", "other")];
    let (t, d) = compile_with(HostSharing::Namespace, &extra, &[owner, thief]);
    let cert = t.certificate("secure.example.com").expect("a certificate");
    assert_eq!(&*cert.source, "team-a/tls");
    let w = warnings(&d, "team-b", "cert");
    assert_eq!(w.len(), 1, "{d:#?}");
    assert_eq!(w[0].field, "spec.tls[0].hosts[0]");
}

/// A host named only under another namespace's `spec.tls` does not make
/// the owner's plain-HTTP routes redirect to https — by exact name or by
/// a wildcard that covers it.
#[test]
fn a_tls_entry_from_another_namespace_does_not_turn_on_the_redirect() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("a.secure.example.com", "/", "Prefix");
    let exact = Ing::new("team-b", "exact", 2, "svc-b")
        .rule("blog.example.com", "/", "Prefix")
        .tls("a.secure.example.com");
    let wildcard = Ing::new("team-c", "wild", 3, "svc-c")
        .rule("*.secure.example.com", "/", "Prefix")
        .tls("*.secure.example.com");
    let extra = [tls_secret("team-b", "secure"), tls_secret("team-c", "secure")];
    let (t, _) = compile_with(HostSharing::Namespace, &extra, &[owner, exact, wildcard]);
    let route = t.route("a.secure.example.com", "/").expect("the owner's route");
    assert_eq!(&*route.backend.key.service, "svc-a");
    assert!(!route.redirect_to_https);
    // The wildcard's own host still redirects.
    assert!(t.route("b.secure.example.com", "/").expect("wildcard route").redirect_to_https);
}

/// The owner may share the host: `ringress.io/share-host-with` listing a
/// namespace lets its rules in.
#[test]
fn the_owner_can_share_a_host_with_a_namespace() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a")
        .rule("shop.example.com", "/", "Prefix")
        .annotate("ringress.io/share-host-with", "team-c, team-b");
    let guest =
        Ing::new("team-b", "login", 2, "svc-b").rule("shop.example.com", "/login", "Prefix");
    let other = Ing::new("team-c", "c", 3, "svc-c").rule("shop.example.com", "/c", "Prefix");
    let (t, d) = compile(&[owner, guest, other]);
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-b"));
    assert_eq!(service_for(&t, "shop.example.com", "/c"), some("svc-c"));
    assert!(d.is_empty(), "{d:#?}");
}

/// `"*"` shares the host with every namespace.
#[test]
fn the_owner_can_share_a_host_with_every_namespace() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a")
        .rule("shop.example.com", "/", "Prefix")
        .annotate("ringress.io/share-host-with", "*");
    let guest =
        Ing::new("team-b", "login", 2, "svc-b").rule("shop.example.com", "/login", "Prefix");
    let (t, d) = compile(&[owner, guest]);
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-b"));
    assert!(d.is_empty(), "{d:#?}");
}

/// Only the owner can share: the annotation on another namespace's
/// Ingress is reported and changes nothing.
#[test]
fn a_share_annotation_from_a_non_owner_is_ignored() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/", "Prefix");
    let thief = Ing::new("team-b", "steal", 2, "svc-b")
        .rule("shop.example.com", "/login", "Prefix")
        .annotate("ringress.io/share-host-with", "*");
    let (t, d) = compile(&[owner, thief]);
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-a"));
    let w = warnings(&d, "team-b", "steal");
    assert_eq!(w.len(), 2, "{d:#?}");
    assert!(w.iter().any(|d| d.field == "metadata.annotations[ringress.io/share-host-with]"));
}

/// A malformed entry in the annotation is reported; the good ones count.
#[test]
fn a_malformed_share_entry_is_reported() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a")
        .rule("shop.example.com", "/", "Prefix")
        .annotate("ringress.io/share-host-with", "Team_B,team-b");
    let guest =
        Ing::new("team-b", "login", 2, "svc-b").rule("shop.example.com", "/login", "Prefix");
    let (t, d) = compile(&[owner, guest]);
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-b"));
    let w = warnings(&d, "team-a", "shop");
    assert_eq!(w.len(), 1, "{d:#?}");
    assert!(w[0].reason.contains("Team_B"), "{}", w[0].reason);
}

/// `--host-sharing=any` merges every namespace's rules, as ingress-nginx.
#[test]
fn host_sharing_any_merges_every_namespace() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/", "Prefix");
    let other =
        Ing::new("team-b", "login", 2, "svc-b").rule("shop.example.com", "/login", "Prefix");
    let any = Ing::new("team-c", "any", 3, "svc-c").rule("", "/other", "Prefix");
    let (t, d) = compile_with(HostSharing::Any, &[], &[owner, other, any]);
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-b"));
    assert!(d.is_empty(), "{d:#?}");
}

/// When the owner's Ingress goes, the host passes to the next oldest
/// Ingress naming it, whose rules are then served.
#[test]
fn ownership_passes_to_the_next_oldest_when_the_owner_goes() {
    let owner = || Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/", "Prefix");
    let b = || Ing::new("team-b", "b", 2, "svc-b").rule("shop.example.com", "/login", "Prefix");
    let c = || Ing::new("team-c", "c", 3, "svc-c").rule("shop.example.com", "/c", "Prefix");
    let (t, _) = compile(&[owner(), b(), c()]);
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-a"));
    let (t, d) = compile(&[b(), c()]);
    assert_eq!(service_for(&t, "shop.example.com", "/login"), some("svc-b"));
    assert_eq!(service_for(&t, "shop.example.com", "/c"), None);
    let w = warnings(&d, "team-c", "c");
    assert!(w[0].reason.contains("namespace team-b"), "{}", w[0].reason);
}

/// A request for an owned host that its rules do not match is not
/// answered by another namespace's host-less rule or default backend:
/// 404. The owner's own host-less rule and default backend still answer.
#[test]
fn an_owned_host_does_not_fall_through_to_other_namespaces() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/app", "Prefix");
    let any = Ing::new("team-b", "any", 2, "svc-b").rule("", "/", "Prefix").default_backend();
    let (t, _) = compile(&[owner, any]);
    assert_eq!(service_for(&t, "shop.example.com", "/app"), some("svc-a"));
    assert_eq!(service_for(&t, "shop.example.com", "/other"), None);
    // Other hosts still reach them.
    assert_eq!(service_for(&t, "unowned.example.com", "/other"), some("svc-b"));

    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/app", "Prefix");
    let own_any = Ing::new("team-a", "any", 2, "svc-a").rule("", "/own", "Prefix");
    let default = Ing::new("team-a", "default", 3, "svc-a").default_backend();
    let foreign = Ing::new("team-b", "any", 4, "svc-b").rule("", "/", "Prefix");
    let (t, _) = compile(&[owner, own_any, default, foreign]);
    assert_eq!(service_for(&t, "shop.example.com", "/own"), some("svc-a"));
    assert_eq!(service_for(&t, "shop.example.com", "/other"), some("svc-a"));
    assert!(t.route("shop.example.com", "/other").is_some_and(|r| r.is_default));
}

/// Nor by another namespace's wildcard rule; a delegate's wildcard rule
/// may answer.
#[test]
fn an_owned_host_does_not_fall_through_to_another_namespaces_wildcard() {
    let owner = Ing::new("team-a", "shop", 1, "svc-a").rule("shop.example.com", "/app", "Prefix");
    let wild = Ing::new("team-b", "wild", 2, "svc-b").rule("*.example.com", "/", "Prefix");
    let (t, _) = compile(&[owner, wild]);
    assert_eq!(service_for(&t, "shop.example.com", "/other"), None);
    assert_eq!(service_for(&t, "blog.example.com", "/other"), some("svc-b"));

    let owner = Ing::new("team-a", "shop", 1, "svc-a")
        .rule("shop.example.com", "/app", "Prefix")
        .annotate("ringress.io/share-host-with", "team-b");
    let wild = Ing::new("team-b", "wild", 2, "svc-b").rule("*.example.com", "/", "Prefix");
    let (t, _) = compile(&[owner, wild]);
    assert_eq!(service_for(&t, "shop.example.com", "/other"), some("svc-b"));
}

/// A wildcard host belongs to a namespace too: its unmatched requests do
/// not reach another namespace's host-less rules.
#[test]
fn an_owned_wildcard_does_not_fall_through_to_other_namespaces() {
    let wild = Ing::new("team-a", "wild", 1, "svc-a").rule("*.example.com", "/app", "Prefix");
    let any = Ing::new("team-b", "any", 2, "svc-b").rule("", "/", "Prefix");
    let (t, _) = compile(&[wild, any]);
    assert_eq!(service_for(&t, "x.example.com", "/app"), some("svc-a"));
    assert_eq!(service_for(&t, "x.example.com", "/other"), None);
    assert_eq!(service_for(&t, "x.other.org", "/other"), some("svc-b"));
}

/// A host named only under `spec.tls` belongs to its namespace as well:
/// its requests reach only that namespace's host-less rules.
#[test]
fn a_host_named_only_under_tls_is_owned() {
    let owner = Ing::new("team-a", "tls-only", 1, "svc-a")
        .rule("", "/own", "Prefix")
        .tls("secure.example.com");
    let foreign = Ing::new("team-b", "any", 2, "svc-b").rule("", "/", "Prefix");
    let extra = [tls_secret("team-a", "secure")];
    let (t, _) = compile_with(HostSharing::Namespace, &extra, &[owner, foreign]);
    assert_eq!(service_for(&t, "secure.example.com", "/own"), some("svc-a"));
    assert_eq!(service_for(&t, "secure.example.com", "/other"), None);
    assert_eq!(service_for(&t, "plain.example.com", "/other"), some("svc-b"));
}
