//! `ExternalName` Services: a DNS name (or an IP address) instead of
//! EndpointSlices. The compiler stays pure: the provider's resolver
//! (`provider::resolve`) looks the names up and hands the answers in as
//! [`ExternalNames`]; here they become endpoints, through the same
//! [`EndpointGuard`] as any other endpoint.
//!
//! The port, as ingress-nginx computes it (`externalNamePorts`): the
//! Service port the Ingress names (by number or by name) gives its
//! `targetPort` when that is a number, else its `port`; the API server
//! defaults `targetPort` to `port`, so in a cluster this is the port an
//! in-cluster client dials through the Service's CNAME unless `targetPort`
//! says otherwise. An Ingress port number that the Service does not list
//! (an ExternalName Service often lists none) is used as it is. A port
//! name the Service does not list has no number: 503.
//!
//! The name is looked up as an absolute name (no search domains), as the
//! cluster DNS's CNAME for the Service points at it.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::table::ServicePortRef;

/// What a DNS name resolved to, as the resolver last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Answer {
    /// The addresses of the name (A records, or AAAA when it has none).
    Addresses(Vec<IpAddr>),
    /// The name does not resolve (or never did yet), and why.
    Unresolvable(String),
}

/// The resolver's answers for the ExternalName DNS names (keyed by the
/// name in lowercase, without a trailing dot): the compiler's input for
/// ExternalName Services.
/// Empty by default: every such name then answers 503 ("not resolved
/// yet"), until a provider's resolver fills it in.
#[derive(Debug, Clone, Default)]
pub struct ExternalNames {
    answers: Arc<BTreeMap<Box<str>, Answer>>,
    digest: u64,
}

impl ExternalNames {
    pub fn new(answers: BTreeMap<Box<str>, Answer>) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        answers.hash(&mut h);
        Self { answers: Arc::new(answers), digest: h.finish() }
    }

    pub fn get(&self, name: &str) -> Option<&Answer> {
        self.answers.get(name)
    }

    /// A hash of every answer: equal digests, same tables.
    pub fn digest(&self) -> u64 {
        self.digest
    }
}

/// Where an ExternalName Service points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Ip(IpAddr),
    /// A valid DNS name, lowercase, without the trailing dot.
    Dns(Box<str>),
}

/// The target of `service` when it is an ExternalName Service:
/// `None` for other types, `Some(Err(why))` when `spec.externalName` is
/// neither an IP address nor a DNS name.
pub(crate) fn target(service: &Service) -> Option<Result<Target, String>> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() != Some("ExternalName") {
        return None;
    }
    let name = spec.external_name.as_deref().unwrap_or("").trim();
    if name.is_empty() {
        return Some(Err("spec.externalName is empty".into()));
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Some(Ok(Target::Ip(ip)));
    }
    Some(dns_name(name).map(Target::Dns).ok_or_else(|| {
        format!("spec.externalName \"{name}\" is not a DNS name (RFC 1123) or an IP address")
    }))
}

/// `name` as a DNS name key (lowercase, no trailing dot) when it is an
/// RFC 1123 subdomain: at most 253 characters, labels of 1-63 letters,
/// digits and inner hyphens.
pub(crate) fn dns_name(name: &str) -> Option<Box<str>> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (!name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok))
        .then(|| name.into_boxed_str())
}

/// The port to connect to (see the module docs), or `None` when the
/// Ingress names a port the Service does not list.
pub(crate) fn port(service: &Service, want: &ServicePortRef) -> Option<u16> {
    let ports = service.spec.as_ref().and_then(|s| s.ports.as_deref()).unwrap_or_default();
    let listed = ports.iter().find(|p| match want {
        ServicePortRef::Number(n) => p.port == i32::from(*n),
        ServicePortRef::Name(name) => p.name.as_deref() == Some(&**name),
    });
    match (listed, want) {
        (Some(p), _) => {
            let target = match &p.target_port {
                Some(IntOrString::Int(t)) => u16::try_from(*t).ok().filter(|&t| t > 0),
                _ => None,
            };
            target.or_else(|| u16::try_from(p.port).ok().filter(|&p| p > 0))
        }
        (None, ServicePortRef::Number(n)) => Some(*n),
        (None, ServicePortRef::Name(_)) => None,
    }
}

/// The addresses of `target` at `port`, or why there are none.
pub(crate) fn addresses(
    target: &Target,
    port: u16,
    names: &ExternalNames,
) -> Result<Vec<SocketAddr>, String> {
    match target {
        Target::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
        Target::Dns(name) => match names.get(name) {
            Some(Answer::Addresses(ips)) if !ips.is_empty() => {
                Ok(ips.iter().map(|&ip| SocketAddr::new(ip, port)).collect())
            }
            Some(Answer::Addresses(_)) => Err(format!("{name} has no addresses")),
            Some(Answer::Unresolvable(why)) => Err(format!("{name} does not resolve: {why}")),
            None => Err(format!("{name} is not resolved yet")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: &str) -> Service {
        serde_yaml::from_str(yaml).unwrap()
    }

    /// RFC 1123 subdomains only; case and a trailing dot do not matter.
    #[test]
    fn dns_names_are_rfc_1123_subdomains() {
        assert_eq!(dns_name("API.Example.com.").as_deref(), Some("api.example.com"));
        assert_eq!(dns_name("a-b.c1").as_deref(), Some("a-b.c1"));
        for bad in ["", ".", "a..b", "-a.b", "a-.b", "a_b.c", "a b", &"x".repeat(64)] {
            assert_eq!(dns_name(bad), None, "{bad:?}");
        }
    }

    /// The port rule: a listed port gives its numeric targetPort, else its
    /// port; an unlisted number is used as it is; an unlisted name has none.
    #[test]
    fn the_port_is_the_target_port_else_the_port_else_the_ingress_number() {
        let s = service(
            "
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: db.example.com
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: alt, port: 81}
  - {name: named, port: 82, targetPort: web}
",
        );
        let num = ServicePortRef::Number;
        let name = |n: &str| ServicePortRef::Name(n.into());
        assert_eq!(port(&s, &num(80)), Some(8080));
        assert_eq!(port(&s, &name("http")), Some(8080));
        assert_eq!(port(&s, &num(81)), Some(81));
        assert_eq!(port(&s, &name("named")), Some(82));
        assert_eq!(port(&s, &num(9000)), Some(9000));
        assert_eq!(port(&s, &name("nope")), None);
        let bare = service("spec: {type: ExternalName, externalName: db.example.com}");
        assert_eq!(port(&bare, &num(443)), Some(443));
    }

    #[test]
    fn targets() {
        let t = |name: &str| {
            target(&service(&format!("spec: {{type: ExternalName, externalName: '{name}'}}")))
        };
        assert_eq!(t("10.1.2.3"), Some(Ok(Target::Ip("10.1.2.3".parse().unwrap()))));
        assert_eq!(t("fd00::1"), Some(Ok(Target::Ip("fd00::1".parse().unwrap()))));
        assert_eq!(t("Db.Example.com."), Some(Ok(Target::Dns("db.example.com".into()))));
        assert!(matches!(t("bad_name"), Some(Err(e)) if e.contains("bad_name")));
        assert!(matches!(t(""), Some(Err(e)) if e.contains("empty")));
        assert_eq!(target(&service("spec: {type: ClusterIP}")), None);
    }
}

#[cfg(test)]
mod compile_tests {
    use super::*;
    use crate::compile::{EndpointGuard, Severity};
    use crate::CompileOptions;

    fn yaml(external_name: &str, port: &str) -> String {
        format!(
            "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: ringress}}
spec: {{controller: ringress.io/ingress-controller}}
---
apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: default}}
spec:
  type: ExternalName
  externalName: {external_name}
  ports: [{{name: web, port: 80, targetPort: 8080}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: ext, namespace: default}}
spec:
  ingressClassName: ringress
  rules:
  - host: ext.example.com
    http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: ext, port: {port}}}}}}}]
"
        )
    }

    fn with(answers: &[(&str, Answer)]) -> CompileOptions {
        let map = answers.iter().map(|(n, a)| (Box::from(*n), a.clone())).collect();
        CompileOptions { external_names: ExternalNames::new(map), ..Default::default() }
    }

    fn endpoints(t: &crate::RouteTable) -> Vec<String> {
        let route = t.route("ext.example.com", "/").expect("the route");
        route.backend.endpoints.iter().map(|e| e.addr.to_string()).collect()
    }

    fn ips(list: &[&str]) -> Answer {
        Answer::Addresses(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    /// An ExternalName Service routes to what its name resolved to, at
    /// the named Service port's targetPort (by name or by number); a port
    /// number the Service does not list is used as it is.
    #[test]
    fn an_external_name_routes_to_its_resolved_addresses() {
        let options = with(&[("db.example.com", ips(&["10.0.0.2", "10.0.0.1"]))]);
        for port in ["{name: web}", "{number: 80}"] {
            let (t, d) = crate::compile_yaml(&yaml("db.example.com", port), &options);
            assert!(d.is_empty(), "{d:#?}");
            assert_eq!(endpoints(&t), ["10.0.0.1:8080", "10.0.0.2:8080"], "{port}");
        }
        let (t, _) = crate::compile_yaml(&yaml("DB.example.com.", "{number: 9000}"), &options);
        assert_eq!(endpoints(&t), ["10.0.0.1:9000", "10.0.0.2:9000"]);
    }

    /// An IP address as `externalName` needs no lookup.
    #[test]
    fn an_ip_external_name_is_used_as_it_is() {
        let (t, d) = crate::compile_yaml(&yaml("192.0.2.7", "{number: 80}"), &with(&[]));
        assert!(d.is_empty(), "{d:#?}");
        assert_eq!(endpoints(&t), ["192.0.2.7:8080"]);
    }

    /// Not resolved yet, unresolvable, or an invalid name: the route stays
    /// and answers 503, with a warning naming the Service, the name and
    /// the error.
    #[test]
    fn an_unresolvable_name_answers_503_with_a_warning() {
        let cases = [
            (
                yaml("db.example.com", "{number: 80}"),
                with(&[]),
                "db.example.com is not resolved yet",
            ),
            (
                yaml("db.example.com", "{number: 80}"),
                with(&[("db.example.com", Answer::Unresolvable("no such name (NXDOMAIN)".into()))]),
                "db.example.com does not resolve: no such name (NXDOMAIN)",
            ),
            (yaml("bad_name", "{number: 80}"), with(&[]), "\"bad_name\" is not a DNS name"),
            (
                yaml("db.example.com", "{name: nope}"),
                with(&[("db.example.com", ips(&["10.0.0.1"]))]),
                "has no port \"nope\"",
            ),
        ];
        for (yaml, options, why) in cases {
            let (t, d) = crate::compile_yaml(&yaml, &options);
            assert!(endpoints(&t).is_empty());
            assert_eq!(d.len(), 1, "{d:#?}");
            assert_eq!(d[0].severity, Severity::Warning);
            let reason = &d[0].reason;
            assert!(reason.starts_with("Service default/ext: ExternalName"), "{reason}");
            assert!(reason.contains(why), "{reason}");
            assert!(reason.ends_with("requests answer 503"), "{reason}");
        }
    }

    /// The endpoint guard applies to resolved addresses (and IP literals)
    /// as to any endpoint: loopback with `--kubernetes`, the proxy's own
    /// listeners always.
    #[test]
    fn the_guard_refuses_resolved_addresses() {
        let mut options = with(&[("db.example.com", ips(&["127.0.0.1", "10.0.0.1"]))]);
        options.endpoint_guard = EndpointGuard { refuse_host_local: true, ..Default::default() };
        let (t, d) = crate::compile_yaml(&yaml("db.example.com", "{number: 80}"), &options);
        assert_eq!(endpoints(&t), ["10.0.0.1:8080"]);
        assert!(d[0].reason.contains("127.0.0.1:8080 (loopback)"), "{}", d[0].reason);

        let (t, d) = crate::compile_yaml(&yaml("127.0.0.1", "{number: 80}"), &options);
        assert!(endpoints(&t).is_empty());
        assert!(d[0].reason.contains("no endpoint is left; requests answer 503"), "{d:#?}");

        options.endpoint_guard = EndpointGuard {
            listeners: vec!["10.0.0.1:8080".parse().unwrap()],
            ..Default::default()
        };
        let (t, d) = crate::compile_yaml(&yaml("db.example.com", "{number: 80}"), &options);
        assert_eq!(endpoints(&t), ["127.0.0.1:8080"]);
        assert!(d[0].reason.contains("one of ringress's own listeners"), "{}", d[0].reason);
    }
}
