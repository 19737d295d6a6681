//! What the compiler reads of a snapshot, reduced to one number, so that
//! changes it ignores (Ingress status, resourceVersions, relists that found
//! nothing new) do not publish an identical table under a new generation.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use kube::Resource;
use serde::Serialize;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::compile::{namespace_of, Classes, CompileOptions, SERVICE_NAME_LABEL};
use crate::snapshot::{Snapshot, Sourced};
use crate::table::FastMap;

type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// The fingerprints of the objects seen on the previous pass, by identity:
/// the stores hand out the same `Arc` for an object until it changes, so
/// only new or changed objects are serialized and hashed, and a pass over
/// 30,000 unchanged objects is a pointer lookup each.
#[derive(Default)]
pub(super) struct Fingerprinter {
    ingresses: Hashes<Ingress>,
    classes: Hashes<IngressClass>,
    services: Hashes<Service>,
    slices: Hashes<EndpointSlice>,
    secrets: Hashes<Secret>,
}

/// One kind's hashes, keyed by the object's address. The `Arc` is held so
/// that the address cannot be reused by another object while it is a key.
struct Hashes<K> {
    seen: FastMap<usize, (Arc<K>, u64)>,
    next: FastMap<usize, (Arc<K>, u64)>,
}

impl<K> Default for Hashes<K> {
    fn default() -> Self {
        Self { seen: FastMap::default(), next: FastMap::default() }
    }
}

impl<K: Resource + Serialize + Clone> Hashes<K> {
    /// Order-independent sum over `objects` (the stores hand objects out in
    /// hash-map order), and their count.
    fn add<'a>(
        &mut self,
        mut sum: u64,
        kind: u8,
        objects: impl Iterator<Item = &'a Sourced<K>>,
        ignore: impl Fn(&mut K),
    ) -> u64
    where
        K: 'a,
    {
        let mut count = 0u64;
        for object in objects {
            count += 1;
            let key = Arc::as_ptr(&object.object) as usize;
            let hash = match self.seen.get(&key) {
                Some((_, hash)) => *hash,
                None => hash_of::<K>(kind, &object.object, &ignore),
            };
            self.next.insert(key, (object.object.clone(), hash));
            sum = sum.wrapping_add(hash);
        }
        sum.wrapping_add(count)
    }

    /// End a pass: what this pass saw is what the next one reuses (both
    /// maps keep their capacity, so a pass allocates nothing).
    fn finish(&mut self) {
        std::mem::swap(&mut self.seen, &mut self.next);
        self.next.clear();
    }
}

fn hash_of<K: Resource + Serialize + Clone>(kind: u8, object: &K, ignore: impl Fn(&mut K)) -> u64 {
    let mut object = object.clone();
    ignore(&mut object);
    let meta = object.meta_mut();
    meta.resource_version = None;
    meta.generation = None;
    let mut h = DefaultHasher::new();
    kind.hash(&mut h);
    // Serialization of k8s-openapi types cannot fail (maps have string keys).
    serde_json::to_vec(&object).unwrap_or_default().hash(&mut h);
    h.finish()
}

impl Fingerprinter {
    /// Only what the compiler reads counts: the IngressClasses, the
    /// Ingresses of our classes, and the Services, EndpointSlices and TLS
    /// Secrets they name, so a change to anything else (another team's
    /// Service, an unreferenced Secret, an Ingress of another controller)
    /// recompiles nothing.
    /// `secrets`: the Secrets the compiler will read
    /// ([`super::secrets::referenced`], which the caller has at hand).
    pub(super) fn of(
        &mut self,
        snapshot: &Snapshot,
        options: &CompileOptions,
        secrets: &std::collections::HashSet<super::secrets::SecretKey>,
    ) -> u64 {
        let classes = Classes::new(snapshot, options);
        let served: Vec<&Sourced<Ingress>> =
            snapshot.ingresses.iter().filter(|i| classes.is_ours(&i.object)).collect();
        let services: FastSet<(&str, &str)> =
            served.iter().flat_map(|i| backend_services(&i.object)).collect();
        let named = |meta: &ObjectMeta, set: &FastSet<(&str, &str)>| {
            meta.name.as_deref().is_some_and(|n| set.contains(&(namespace_of(meta), n)))
        };
        let slice_of = |meta: &ObjectMeta| {
            let service = meta.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL));
            service.is_some_and(|s| services.contains(&(namespace_of(meta), s.as_str())))
        };
        let secrets: FastSet<(&str, &str)> =
            secrets.iter().map(|(ns, n)| (ns.as_str(), n.as_str())).collect();
        let mut sum = 0u64;
        sum = self.ingresses.add(sum, 1, served.iter().copied(), |i| i.status = None);
        sum = self.classes.add(sum, 2, snapshot.ingress_classes.iter(), |_| {});
        let referenced = snapshot.services.iter().filter(|s| named(&s.object.metadata, &services));
        sum = self.services.add(sum, 3, referenced, |_| {});
        let referenced = snapshot.endpoint_slices.iter().filter(|s| slice_of(&s.object.metadata));
        sum = self.slices.add(sum, 4, referenced, |_| {});
        let referenced = snapshot.secrets.iter().filter(|s| named(&s.object.metadata, &secrets));
        sum = self.secrets.add(sum, 5, referenced, |_| {});
        self.ingresses.finish();
        self.classes.finish();
        self.services.finish();
        self.slices.finish();
        self.secrets.finish();
        sum
    }
}

/// The `(namespace, name)` of every Service an Ingress's backends name.
fn backend_services(ingress: &Ingress) -> impl Iterator<Item = (&str, &str)> {
    let ns = namespace_of(&ingress.metadata);
    let spec = ingress.spec.as_ref();
    let rules = spec.and_then(|s| s.rules.as_ref()).into_iter().flatten();
    let paths =
        rules.filter_map(|r| r.http.as_ref()).flat_map(|h| h.paths.iter().map(|p| &p.backend));
    spec.and_then(|s| s.default_backend.as_ref())
        .into_iter()
        .chain(paths)
        .filter_map(|b| b.service.as_ref())
        .map(move |s| (ns, s.name.as_str()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::networking::v1::{
        HTTPIngressPath, HTTPIngressRuleValue, IngressBackend, IngressClassSpec, IngressRule,
        IngressServiceBackend, IngressSpec, IngressStatus, IngressTLS,
    };

    use super::*;

    /// A fresh fingerprint: nothing reused from an earlier pass.
    fn of(snapshot: &Snapshot, options: &CompileOptions) -> u64 {
        let secrets = super::super::secrets::referenced(snapshot, options);
        Fingerprinter::default().of(snapshot, options, &secrets)
    }

    fn meta(name: &str, rv: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("web".into()),
            resource_version: Some(rv.into()),
            ..Default::default()
        }
    }

    fn class(name: &str) -> Sourced<IngressClass> {
        Sourced::new(IngressClass {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(IngressClassSpec {
                controller: Some(crate::CONTROLLER_NAME.into()),
                ..Default::default()
            }),
        })
    }

    /// An Ingress of `class` routing to Service `service`, TLS from `secret`.
    fn ingress(name: &str, rv: &str, class: &str, service: &str) -> Sourced<Ingress> {
        let backend = IngressBackend {
            service: Some(IngressServiceBackend { name: service.into(), port: None }),
            resource: None,
        };
        Sourced::new(Ingress {
            metadata: meta(name, rv),
            spec: Some(IngressSpec {
                ingress_class_name: Some(class.into()),
                rules: Some(vec![IngressRule {
                    host: Some("a.example".into()),
                    http: Some(HTTPIngressRuleValue {
                        paths: vec![HTTPIngressPath {
                            path: Some("/".into()),
                            path_type: "Prefix".into(),
                            backend,
                        }],
                    }),
                }]),
                tls: Some(vec![IngressTLS {
                    hosts: None,
                    secret_name: Some(format!("{service}-tls")),
                }]),
                ..Default::default()
            }),
            status: None,
        })
    }

    fn service(name: &str, rv: &str) -> Sourced<Service> {
        Sourced::new(Service { metadata: meta(name, rv), ..Default::default() })
    }

    fn slice(name: &str, service: &str) -> Sourced<EndpointSlice> {
        let mut m = meta(name, "1");
        m.labels = Some(BTreeMap::from([(SERVICE_NAME_LABEL.to_string(), service.to_string())]));
        Sourced::new(EndpointSlice {
            metadata: m,
            address_type: "IPv4".into(),
            ..Default::default()
        })
    }

    fn secret(name: &str, byte: u8) -> Sourced<Secret> {
        let data = BTreeMap::from([("tls.crt".to_string(), k8s_openapi::ByteString(vec![byte]))]);
        Sourced::new(Secret { metadata: meta(name, "1"), data: Some(data), ..Default::default() })
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            ingress_classes: vec![class("ours")],
            ingresses: vec![ingress("a", "1", "ours", "site"), ingress("b", "2", "ours", "site")],
            services: vec![service("site", "1")],
            endpoint_slices: vec![slice("site-1", "site")],
            secrets: vec![secret("site-tls", 1)],
        }
    }

    #[test]
    fn status_order_and_resource_versions_do_not_count_but_specs_do() {
        let options = CompileOptions::default();
        let a = snapshot();
        let mut b = snapshot();
        b.ingresses.reverse();
        Arc::make_mut(&mut b.ingresses[0].object).metadata.resource_version = Some("7".into());
        Arc::make_mut(&mut b.ingresses[0].object).status = Some(IngressStatus::default());
        assert_eq!(of(&a, &options), of(&b, &options));
        Arc::make_mut(&mut b.ingresses[1].object).spec.as_mut().unwrap().rules.as_mut().unwrap()
            [0]
        .host = Some("b.example".into());
        assert_ne!(of(&a, &options), of(&b, &options));
        let mut c = snapshot();
        c.ingresses.pop();
        assert_ne!(of(&a, &options), of(&c, &options));
    }

    /// Objects no Ingress of ours names, and Ingresses of other
    /// controllers, change nothing the compiler reads; the referenced
    /// Service, EndpointSlice and Secret do.
    #[test]
    fn only_what_our_ingresses_reference_counts() {
        let options = CompileOptions::default();
        let base = of(&snapshot(), &options);
        let mut s = snapshot();
        s.services.push(service("other", "1"));
        s.endpoint_slices.push(slice("other-1", "other"));
        s.secrets.push(secret("other-tls", 9));
        s.ingresses.push(ingress("theirs", "1", "nginx", "other"));
        assert_eq!(of(&s, &options), base, "unreferenced objects");
        Arc::make_mut(&mut s.services[1].object).metadata.labels =
            Some(BTreeMap::from([("x".into(), "y".into())]));
        assert_eq!(of(&s, &options), base, "an unreferenced Service changed");

        let mut s = snapshot();
        Arc::make_mut(&mut s.services[0].object).metadata.labels =
            Some(BTreeMap::from([("x".into(), "y".into())]));
        assert_ne!(of(&s, &options), base, "the referenced Service changed");
        let mut s = snapshot();
        s.endpoint_slices.push(slice("site-2", "site"));
        assert_ne!(of(&s, &options), base, "a slice of the referenced Service");
        let mut s = snapshot();
        s.secrets[0] = secret("site-tls", 2);
        assert_ne!(of(&s, &options), base, "the referenced Secret changed");
        let mut s = snapshot();
        Arc::make_mut(&mut s.ingresses[0].object).spec.as_mut().unwrap().ingress_class_name =
            Some("nginx".into());
        assert_ne!(of(&s, &options), base, "an Ingress left our classes");
    }
}
