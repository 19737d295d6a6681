//! Kubernetes objects for tests, on the real k8s-openapi types. The
//! `kube_*` tests write them to the test API server; [`crate::manifests`]
//! renders the same objects as YAML for the tests that compile manifests.
//!
//! Conventions: class `ringress`; Service ports are 80, named `http`;
//! Ingress backends name port 80.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use k8s_openapi::api::core::v1::{Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressClass, IngressClassSpec,
    IngressRule, IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

/// The IngressClass name every fixture uses.
pub const CLASS_NAME: &str = "ringress";

pub fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        ..ObjectMeta::default()
    }
}

/// Our IngressClass: `ringress`, controller `ringress.io/ingress-controller`.
pub fn ingress_class() -> IngressClass {
    IngressClass {
        metadata: meta(None, CLASS_NAME),
        spec: Some(IngressClassSpec {
            controller: Some(ringress_control::CONTROLLER_NAME.into()),
            ..Default::default()
        }),
    }
}

/// A backend naming `service` port 80.
pub fn backend(service: &str) -> IngressBackend {
    IngressBackend {
        service: Some(IngressServiceBackend {
            name: service.into(),
            port: Some(ServiceBackendPort { number: Some(80), name: None }),
        }),
        resource: None,
    }
}

/// One path of a rule: (path, pathType, service).
pub type PathSpec<'a> = (&'a str, &'a str, &'a str);

/// An Ingress of `class` with one rule for `host` (None: any host) and
/// its `paths`.
pub fn ingress_rule(
    ns: &str,
    name: &str,
    class: &str,
    host: Option<&str>,
    paths: &[PathSpec<'_>],
) -> Ingress {
    let paths = paths
        .iter()
        .map(|(path, path_type, service)| HTTPIngressPath {
            path: Some(path.to_string()),
            path_type: path_type.to_string(),
            backend: backend(service),
        })
        .collect();
    Ingress {
        metadata: meta(Some(ns), name),
        spec: Some(IngressSpec {
            ingress_class_name: Some(class.into()),
            rules: Some(vec![IngressRule {
                host: host.map(Into::into),
                http: Some(HTTPIngressRuleValue { paths }),
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// An Ingress of class `class` routing `host` + `path` (Prefix) to
/// `service:80`.
pub fn ingress(
    ns: &str,
    name: &str,
    class: &str,
    host: &str,
    path: &str,
    service: &str,
) -> Ingress {
    ingress_rule(ns, name, class, Some(host), &[(path, "Prefix", service)])
}

/// An Ingress of our class with only a `defaultBackend`.
pub fn default_backend(ns: &str, name: &str, service: &str) -> Ingress {
    Ingress {
        metadata: meta(Some(ns), name),
        spec: Some(IngressSpec {
            ingress_class_name: Some(CLASS_NAME.into()),
            default_backend: Some(backend(service)),
            ..Default::default()
        }),
        status: None,
    }
}

/// `ingress`, listing `hosts` under `spec.tls` with `secret`.
pub fn with_tls(mut ingress: Ingress, hosts: &[&str], secret: &str) -> Ingress {
    let spec = ingress.spec.get_or_insert_with(Default::default);
    spec.tls.get_or_insert_with(Vec::new).push(IngressTLS {
        hosts: Some(hosts.iter().map(|h| h.to_string()).collect()),
        secret_name: Some(secret.into()),
    });
    ingress
}

/// `ingress` with these annotations added.
pub fn with_annotations(mut ingress: Ingress, annotations: &[(&str, &str)]) -> Ingress {
    let map = ingress.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in annotations {
        map.insert(k.to_string(), v.to_string());
    }
    ingress
}

/// A Service with port 80 named `http`.
pub fn service(ns: &str, name: &str) -> Service {
    Service {
        metadata: meta(Some(ns), name),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// An EndpointSlice `name` of `service`: port `http` = `port`, the
/// `addresses` ready.
pub fn named_slice(
    ns: &str,
    name: &str,
    service: &str,
    addresses: &[&str],
    port: u16,
) -> EndpointSlice {
    let mut m = meta(Some(ns), name);
    m.labels =
        Some(BTreeMap::from([("kubernetes.io/service-name".to_string(), service.to_string())]));
    let ipv6 = addresses.first().is_some_and(|a| a.contains(':'));
    EndpointSlice {
        metadata: m,
        address_type: if ipv6 { "IPv6" } else { "IPv4" }.into(),
        endpoints: Some(
            addresses
                .iter()
                .map(|a| Endpoint {
                    addresses: vec![a.to_string()],
                    conditions: Some(EndpointConditions {
                        ready: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
        ),
        ports: Some(vec![EndpointPort {
            name: Some("http".into()),
            port: Some(i32::from(port)),
            ..Default::default()
        }]),
    }
}

/// The EndpointSlice `SERVICE-abcde` of `service`.
pub fn slice(ns: &str, service: &str, addresses: &[&str], port: u16) -> EndpointSlice {
    named_slice(ns, &format!("{service}-abcde"), service, addresses, port)
}

/// One EndpointSlice per endpoint (`SERVICE-0`, `SERVICE-1` …), so that
/// endpoints can listen on different ports, as test upstreams do.
pub fn slices_for(ns: &str, service: &str, endpoints: &[SocketAddr]) -> Vec<EndpointSlice> {
    endpoints
        .iter()
        .enumerate()
        .map(|(i, a)| {
            named_slice(ns, &format!("{service}-{i}"), service, &[&a.ip().to_string()], a.port())
        })
        .collect()
}

/// A `kubernetes.io/tls` Secret holding this PEM certificate chain and key.
pub fn tls_secret_of(ns: &str, name: &str, cert_pem: &str, key_pem: &str) -> Secret {
    Secret {
        metadata: meta(Some(ns), name),
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_string(), ByteString(cert_pem.as_bytes().to_vec())),
            ("tls.key".to_string(), ByteString(key_pem.as_bytes().to_vec())),
        ])),
        ..Default::default()
    }
}

/// A `kubernetes.io/tls` Secret with a fresh self-signed certificate for
/// `host`.
pub fn tls_secret(ns: &str, name: &str, host: &str) -> Secret {
    let certified = rcgen::generate_simple_self_signed(vec![host.to_string()]).expect("rcgen");
    tls_secret_of(ns, name, &certified.cert.pem(), &certified.key_pair.serialize_pem())
}
