//! Backend resolution, as kube-proxy does it: the Ingress names a Service
//! port by number or name; that Service port's `name` selects, in every
//! EndpointSlice labelled `kubernetes.io/service-name` for the Service, the
//! slice port with the same name (an unnamed port matches an unnamed slice
//! port); the slice port's number is the endpoint port. Endpoints with
//! `conditions.ready == false` are left out (absent means ready), unless
//! no endpoint is ready: then those serving while terminating are used, so
//! a one-replica rollout is not a 503. One address family per Service
//! (the primary of `spec.ipFamilies`, IPv4 when unset; the other family
//! only when the primary has no usable endpoint), so that a dual-stack pod
//! counts once.
//!
//! An `ExternalName` Service has no EndpointSlices: its endpoints are the
//! addresses its DNS name resolved to (see `external_name` for the port
//! rule), refused by the same guard.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::IngressServiceBackend;

use super::endpoints::EndpointGuard;
use super::external_name::{self, ExternalNames};
use super::namespace_of;
use crate::snapshot::Snapshot;
use crate::table::{Backend, BackendKey, Endpoint, FastMap, ServicePortRef};

pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A backend that resolved, possibly to nothing (503), with why.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub backend: Arc<Backend>,
    /// Why the backend has no endpoints (or lost some), for a Warning.
    pub problem: Option<String>,
}

pub(crate) struct Resolver<'a> {
    guard: &'a EndpointGuard,
    names: &'a ExternalNames,
    services: FastMap<(&'a str, &'a str), &'a Arc<Service>>,
    slices: FastMap<(&'a str, &'a str), smallvec::SmallVec<[&'a Arc<EndpointSlice>; 1]>>,
    /// Every backend resolved by this compile, in first-use order (what
    /// this compile resolved, by key, is `memo.next`).
    order: Vec<Arc<Backend>>,
    memo: &'a mut BackendMemo,
}

/// Backends resolved by an earlier compile, reused while the Service and
/// EndpointSlices they were resolved from are the very same objects (the
/// providers hand out the same `Arc` until an object changes), the
/// ExternalName answers are the same, and so is the endpoint guard. A
/// compile after a change resolves only the backends it touched.
#[derive(Default)]
pub(crate) struct BackendMemo {
    guard: EndpointGuard,
    names: u64,
    seen: FastMap<BackendKey, Memoized>,
    next: FastMap<BackendKey, Memoized>,
}

struct Memoized {
    /// The inputs, held so that their addresses stay theirs.
    service: Option<Arc<Service>>,
    slices: Vec<Arc<EndpointSlice>>,
    resolved: Resolved,
}

impl BackendMemo {
    /// Start a compile: forget everything if the guard or the answers
    /// changed.
    fn begin(&mut self, guard: &EndpointGuard, names: &ExternalNames) {
        if self.guard != *guard || self.names != names.digest() {
            self.seen.clear();
            self.guard = guard.clone();
            self.names = names.digest();
        }
        self.next.clear();
    }

    /// End a compile: keep only what this one used.
    fn finish(&mut self) {
        std::mem::swap(&mut self.seen, &mut self.next);
        self.next.clear();
    }
}

fn same_objects<K>(a: &[Arc<K>], b: &[&Arc<K>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(
        snapshot: &'a Snapshot,
        guard: &'a EndpointGuard,
        names: &'a ExternalNames,
        memo: &'a mut BackendMemo,
    ) -> Self {
        memo.begin(guard, names);
        let n = snapshot.services.len();
        let mut services = FastMap::with_capacity_and_hasher(n, Default::default());
        for s in &snapshot.services {
            if let Some(name) = s.object.metadata.name.as_deref() {
                services.entry((namespace_of(&s.object.metadata), name)).or_insert(&s.object);
            }
        }
        let mut slices: FastMap<_, smallvec::SmallVec<_>> =
            FastMap::with_capacity_and_hasher(n, Default::default());
        for s in &snapshot.endpoint_slices {
            let meta = &s.object.metadata;
            if let Some(svc) = meta.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)) {
                slices.entry((namespace_of(meta), svc.as_str())).or_default().push(&s.object);
            }
        }
        // Each Service's slices in one order (by address), so that the same
        // set compares equal whatever order a store lists them in.
        for list in slices.values_mut() {
            list.sort_by_key(|s| Arc::as_ptr(*s) as usize);
        }
        let order = Vec::with_capacity(memo.seen.len());
        Self { guard, names, services, slices, order, memo }
    }

    /// The first port of Service `namespace/name` (`None`: no such
    /// Service, or it lists no port).
    pub(crate) fn first_port(&self, namespace: &str, name: &str) -> Option<u16> {
        let service = self.services.get(&(namespace, name))?;
        let port = service.spec.as_ref()?.ports.as_ref()?.first()?.port;
        u16::try_from(port).ok().filter(|&p| p > 0)
    }

    /// Resolve an Ingress service backend in `namespace`. `Err((field, reason))`
    /// when the reference itself is invalid (the path is skipped); the
    /// field is relative to the `service` object.
    pub(crate) fn resolve(
        &mut self,
        namespace: &str,
        svc: &IngressServiceBackend,
        cluster_ip: bool,
    ) -> Result<Resolved, (&'static str, String)> {
        let port = match svc.port.as_ref().map(|p| (p.number, p.name.as_deref())) {
            Some((Some(n), None)) => match u16::try_from(n) {
                Ok(n) if n > 0 => ServicePortRef::Number(n),
                _ => return Err(("port.number", format!("{n} is not a port number (1-65535)"))),
            },
            Some((None, Some(name))) if !name.is_empty() => ServicePortRef::Name(name.into()),
            Some((Some(_), Some(_))) => {
                return Err(("port", "set either number or name, not both".to_string()))
            }
            _ => return Err(("port", "a port number or name is required".to_string())),
        };
        if svc.name.is_empty() {
            return Err(("name", "a Service name is required".to_string()));
        }
        let key = BackendKey {
            namespace: namespace.into(),
            service: svc.name.as_str().into(),
            port,
            cluster_ip,
        };
        Ok(self.resolve_key(std::borrow::Cow::Owned(key)))
    }

    /// Resolve a backend by its key (one resolved before: the memo's check
    /// of an unchanged host, which copies no key when the memo has it).
    pub(crate) fn resolve_key(&mut self, key: std::borrow::Cow<'_, BackendKey>) -> Resolved {
        if let Some(m) = self.memo.next.get(&*key) {
            return m.resolved.clone();
        }
        let service = self.services.get(&(&*key.namespace, &*key.service)).copied();
        let slices = self.slices.get(&(&*key.namespace, &*key.service));
        let slices = slices.map(|s| s.as_slice()).unwrap_or_default();
        let reused = self.memo.seen.remove_entry(&*key).filter(|(_, m)| {
            let same_service = match (&m.service, service) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            same_service && same_objects(&m.slices, slices)
        });
        let (key, memoized) = match reused {
            Some(kept) => kept,
            None => {
                let service = service.cloned();
                let slices = slices.iter().map(|s| Arc::clone(s)).collect();
                let key = key.into_owned();
                let (endpoints, problem) = self.endpoints(&key);
                let backend = Arc::new(Backend { key: key.clone(), endpoints: endpoints.into() });
                (key, Memoized { service, slices, resolved: Resolved { backend, problem } })
            }
        };
        let resolved = memoized.resolved.clone();
        self.memo.next.insert(key, memoized);
        self.order.push(resolved.backend.clone());
        resolved
    }

    fn endpoints(&self, key: &BackendKey) -> (Vec<Endpoint>, Option<String>) {
        let id = format!("Service {}/{}", key.namespace, key.service);
        let Some(service) = self.services.get(&(&*key.namespace, &*key.service)) else {
            return (Vec::new(), Some(format!("{id} not found; requests answer 503")));
        };
        if let Some(target) = external_name::target(service) {
            return self.external(&id, service, target, &key.port);
        }
        let spec = service.spec.as_ref();
        let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
        let Some(service_port) = find_service_port(ports, &key.port) else {
            return (
                Vec::new(),
                Some(format!("{id} has no port {}; requests answer 503", port_text(&key.port))),
            );
        };
        if key.cluster_ip {
            return self.cluster_ip(&id, service, service_port);
        }
        let port_name = service_port.name.as_deref().unwrap_or("");

        // Candidates by address family, ready first; serving-but-terminating
        // ones are kept aside for when no endpoint is ready (as kube-proxy).
        let mut ready: [Vec<SocketAddr>; 2] = Default::default();
        let mut terminating: [Vec<SocketAddr>; 2] = Default::default();
        let mut skipped_fqdn = false;
        let slices = self.slices.get(&(&*key.namespace, &*key.service));
        for slice in slices.into_iter().flatten() {
            let slice_port = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref().unwrap_or("") == port_name)
                .and_then(|p| p.port)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&p| p > 0);
            let Some(slice_port) = slice_port else { continue };
            for ep in slice.endpoints.iter().flatten() {
                let c = ep.conditions.as_ref();
                // Absent `ready` means ready; absent `serving` is `ready`.
                let is_ready = c.and_then(|c| c.ready) != Some(false);
                let serving = c.and_then(|c| c.serving).unwrap_or(is_ready);
                let is_terminating = c.and_then(|c| c.terminating) == Some(true);
                let into = if is_ready {
                    &mut ready
                } else if serving && is_terminating {
                    &mut terminating
                } else {
                    continue;
                };
                for addr in &ep.addresses {
                    match addr.parse::<IpAddr>() {
                        Ok(ip) => {
                            into[usize::from(ip.is_ipv6())].push(SocketAddr::new(ip, slice_port))
                        }
                        Err(_) => skipped_fqdn = true,
                    }
                }
            }
        }
        // One address family per Service, so a dual-stack pod counts once:
        // the Service's primary family (`spec.ipFamilies[0]`, IPv4 when
        // unset) if it has a usable endpoint, else the other.
        let primary = match spec.and_then(|s| s.ip_families.as_ref()).and_then(|f| f.first()) {
            Some(f) if f == "IPv6" => 1,
            _ => 0,
        };
        let family = [primary, 1 - primary]
            .into_iter()
            .find(|&f| !ready[f].is_empty() || !terminating[f].is_empty())
            .unwrap_or(primary);
        let none_ready = ready[family].is_empty();
        let chosen =
            std::mem::take(if none_ready { &mut terminating[family] } else { &mut ready[family] });
        let only_terminating = none_ready && !chosen.is_empty();
        let (endpoints, refused) = self.admit(chosen);
        let problem = if !refused.is_empty() {
            Some(refusal(&id, &refused, endpoints.is_empty()))
        } else if endpoints.is_empty() {
            Some(format!(
                "{id} port {} has no ready endpoints; requests answer 503",
                port_text(&key.port)
            ))
        } else if only_terminating {
            Some(format!(
                "{id} port {} has no ready endpoint; serving but terminating endpoints are used",
                port_text(&key.port)
            ))
        } else if skipped_fqdn {
            Some(format!("{id}: FQDN endpoint addresses are not supported and were skipped"))
        } else {
            None
        };
        (endpoints, problem)
    }

    /// `service-upstream`: the Service's ClusterIP and port, through the
    /// guard (kube-proxy balances behind it).
    fn cluster_ip(
        &self,
        id: &str,
        service: &Service,
        port: &ServicePort,
    ) -> (Vec<Endpoint>, Option<String>) {
        let ip = service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()).unwrap_or("");
        let Ok(ip) = ip.parse::<IpAddr>() else {
            let why = if ip.is_empty() || ip == "None" {
                "has no ClusterIP (headless)".to_string()
            } else {
                format!("has a ClusterIP that is not an address ({ip:?})")
            };
            return (Vec::new(), Some(format!("{id} {why}; service-upstream requests answer 503")));
        };
        let Some(number) = u16::try_from(port.port).ok().filter(|&p| p > 0) else {
            return (Vec::new(), Some(format!("{id}: port {} is not a port number", port.port)));
        };
        let (endpoints, refused) = self.admit(vec![SocketAddr::new(ip, number)]);
        let problem = (!refused.is_empty()).then(|| refusal(id, &refused, endpoints.is_empty()));
        (endpoints, problem)
    }

    /// An ExternalName Service's endpoints: its resolved addresses at the
    /// port `external_name::port` gives, through the guard.
    fn external(
        &self,
        id: &str,
        service: &Service,
        target: Result<external_name::Target, String>,
        port: &ServicePortRef,
    ) -> (Vec<Endpoint>, Option<String>) {
        let answer_503 =
            |why: String| (Vec::new(), Some(format!("{id}: {why}; requests answer 503")));
        let target = match target {
            Ok(target) => target,
            Err(why) => return answer_503(format!("ExternalName {why}")),
        };
        let Some(number) = external_name::port(service, port) else {
            return answer_503(format!("ExternalName has no port {}", port_text(port)));
        };
        match external_name::addresses(&target, number, self.names) {
            Err(why) => answer_503(format!("ExternalName {why}")),
            Ok(addrs) => {
                let (endpoints, refused) = self.admit(addrs);
                let problem =
                    (!refused.is_empty()).then(|| refusal(id, &refused, endpoints.is_empty()));
                (endpoints, problem)
            }
        }
    }

    /// The addresses the guard lets through (sorted, deduplicated), and
    /// those it refuses with why.
    fn admit(&self, addrs: Vec<SocketAddr>) -> (Vec<Endpoint>, Vec<(SocketAddr, &'static str)>) {
        let mut endpoints = Vec::new();
        let mut refused = Vec::new();
        for addr in addrs {
            match self.guard.refusal(addr) {
                Some(why) => refused.push((addr, why)),
                None => endpoints.push(Endpoint { addr }),
            }
        }
        endpoints.sort_by_key(|e| e.addr);
        endpoints.dedup();
        refused.sort();
        refused.dedup();
        (endpoints, refused)
    }

    /// Every backend resolved, in first-use order.
    pub(crate) fn into_backends(self) -> Vec<Arc<Backend>> {
        self.memo.finish();
        self.order
    }
}

fn find_service_port<'p>(
    ports: &'p [ServicePort],
    want: &ServicePortRef,
) -> Option<&'p ServicePort> {
    let protocol_ok = |p: &ServicePort| p.protocol.as_deref().unwrap_or("TCP") == "TCP";
    match want {
        ServicePortRef::Number(n) => {
            ports.iter().find(|p| p.port == i32::from(*n) && protocol_ok(p))
        }
        ServicePortRef::Name(name) => {
            ports.iter().find(|p| p.name.as_deref() == Some(&**name) && protocol_ok(p))
        }
    }
}

/// The warning for endpoints the guard refused.
fn refusal(id: &str, refused: &[(SocketAddr, &'static str)], none_left: bool) -> String {
    let list: Vec<String> = refused.iter().map(|(addr, why)| format!("{addr} ({why})")).collect();
    let outcome = if none_left {
        "no endpoint is left; requests answer 503"
    } else {
        "the other endpoints serve"
    };
    format!("{id}: endpoints refused: {}; {outcome}", list.join(", "))
}

fn port_text(port: &ServicePortRef) -> String {
    match port {
        ServicePortRef::Number(n) => n.to_string(),
        ServicePortRef::Name(n) => format!("\"{n}\""),
    }
}
