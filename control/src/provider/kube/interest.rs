//! Which watch events can change the table: the IngressClasses, the
//! Ingresses of our classes, and the Services, EndpointSlices and TLS
//! Secrets those Ingresses name. An event about anything else (another
//! team's Service, an unreferenced Secret, an Ingress of another
//! controller) is stored and compiles nothing.
//!
//! The interest is worked out from the snapshot of each compile. Between
//! reading the stores and installing the interest of what was read, an
//! event may be judged by the interest of the compile before; such events
//! are kept and judged again by the new interest, so a Service that an
//! Ingress starts naming in the same instant it changes is never missed.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::secrets::SecretKey;
use crate::compile::{namespace_of, ClassNames, Classes, CompileOptions, SERVICE_NAME_LABEL};
use crate::snapshot::Snapshot;

type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
type Name = (Box<str>, Box<str>);

#[derive(Default)]
pub(super) struct Interest {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Until the first compile, every event counts.
    ready: bool,
    classes: ClassNames,
    /// `(namespace, name)` of every Service our Ingresses name.
    services: FastSet<Name>,
    secrets: FastSet<Name>,
    /// Set while a compile's interest is not yet in place.
    recording: bool,
    missed: Vec<Missed>,
}

/// What an event named: a Service (or an EndpointSlice of it), or a
/// Secret.
#[derive(Clone, Copy)]
enum Which {
    Service,
    Secret,
}

/// An event judged uninteresting while `recording`.
type Missed = (Which, Name);

impl State {
    fn set(&self, which: Which) -> &FastSet<Name> {
        match which {
            Which::Service => &self.services,
            Which::Secret => &self.secrets,
        }
    }
}

fn name_in(meta: &ObjectMeta, name: Option<&str>) -> Name {
    (namespace_of(meta).into(), name.unwrap_or_default().into())
}

impl Interest {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The compile loop is about to read the stores.
    pub(super) fn begin(&self) {
        let mut state = self.lock();
        state.recording = true;
        state.missed.clear();
    }

    /// Install the interest of `snapshot` (the one just compiled; `secrets`
    /// is the set [`super::secrets::referenced`] gave for it). `true` when
    /// an event that came in since [`Self::begin`] counts after all: the
    /// caller compiles again.
    pub(super) fn update(
        &self,
        snapshot: &Snapshot,
        options: &CompileOptions,
        secrets: &HashSet<SecretKey>,
    ) -> bool {
        let classes = Classes::new(snapshot, options);
        let services: FastSet<Name> = snapshot
            .ingresses
            .iter()
            .filter(|i| classes.is_ours(&i.object))
            .flat_map(|i| backend_services(&i.object))
            .chain(options.default_backend_service.iter().map(|(ns, n)| (ns.as_str(), n.as_str())))
            .map(|(ns, name)| (ns.into(), name.into()))
            .collect();
        let secrets: FastSet<Name> =
            secrets.iter().map(|(ns, name)| (ns.as_str().into(), name.as_str().into())).collect();
        let mut state = self.lock();
        state.ready = true;
        state.classes = classes.to_owned();
        state.services = services;
        state.secrets = secrets;
        state.recording = false;
        let missed = std::mem::take(&mut state.missed);
        missed.iter().any(|(which, name)| state.set(*which).contains(name))
    }

    /// An Ingress event counts when the Ingress is (or was) ours.
    pub(super) fn ingress(&self, before: Option<&Ingress>, after: Option<&Ingress>) -> bool {
        let state = self.lock();
        !state.ready || before.into_iter().chain(after).any(|i| state.classes.is_ours(i))
    }

    pub(super) fn service(&self, before: Option<&Service>, after: Option<&Service>) -> bool {
        let names = before.into_iter().chain(after).map(|s| {
            let meta = &s.metadata;
            name_in(meta, meta.name.as_deref())
        });
        self.judge(names.collect(), Which::Service)
    }

    pub(super) fn slice(
        &self,
        before: Option<&EndpointSlice>,
        after: Option<&EndpointSlice>,
    ) -> bool {
        let names = before.into_iter().chain(after).filter_map(|s| {
            let meta = &s.metadata;
            let service = meta.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
            Some(name_in(meta, Some(service)))
        });
        self.judge(names.collect(), Which::Service)
    }

    pub(super) fn secret(&self, before: Option<&Secret>, after: Option<&Secret>) -> bool {
        let names = before.into_iter().chain(after).map(|s| {
            let meta = &s.metadata;
            name_in(meta, meta.name.as_deref())
        });
        self.judge(names.collect(), Which::Secret)
    }

    /// Does any of `names` count? If not and a compile is reading, keep
    /// them to judge again.
    fn judge(&self, names: Vec<Name>, which: Which) -> bool {
        let mut state = self.lock();
        if !state.ready || names.iter().any(|n| state.set(which).contains(n)) {
            return true;
        }
        if state.recording {
            state.missed.extend(names.into_iter().map(|n| (which, n)));
        }
        false
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
        .chain(crate::compile::annotations::value(ingress, "default-backend").map(|n| (ns, n)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::networking::v1::{
        HTTPIngressPath, HTTPIngressRuleValue, IngressBackend, IngressClass, IngressClassSpec,
        IngressRule, IngressServiceBackend, IngressSpec,
    };

    use super::*;
    use crate::snapshot::Sourced;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta { name: Some(name.into()), namespace: Some("web".into()), ..Default::default() }
    }

    /// An Ingress of `class` routing to Service `service`.
    fn ingress(name: &str, class: &str, service: &str) -> Ingress {
        let backend = IngressBackend {
            service: Some(IngressServiceBackend { name: service.into(), port: None }),
            resource: None,
        };
        Ingress {
            metadata: meta(name),
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
                ..Default::default()
            }),
            status: None,
        }
    }

    fn service(name: &str) -> Service {
        Service { metadata: meta(name), ..Default::default() }
    }

    fn slice(name: &str, service: &str) -> EndpointSlice {
        let mut m = meta(name);
        m.labels = Some(BTreeMap::from([(SERVICE_NAME_LABEL.to_string(), service.to_string())]));
        EndpointSlice { metadata: m, address_type: "IPv4".into(), ..Default::default() }
    }

    fn secret(name: &str) -> Secret {
        Secret { metadata: meta(name), ..Default::default() }
    }

    fn snapshot(ingresses: Vec<Ingress>) -> Snapshot {
        let class = IngressClass {
            metadata: ObjectMeta { name: Some("ours".into()), ..Default::default() },
            spec: Some(IngressClassSpec {
                controller: Some(crate::CONTROLLER_NAME.into()),
                ..Default::default()
            }),
        };
        Snapshot {
            ingress_classes: vec![Sourced::new(class)],
            ingresses: ingresses.into_iter().map(Sourced::new).collect(),
            ..Default::default()
        }
    }

    fn wanted(names: &[&str]) -> HashSet<SecretKey> {
        names.iter().map(|n| ("web".to_string(), n.to_string())).collect()
    }

    /// Objects no Ingress of ours names, and Ingresses of other
    /// controllers, change nothing the compiler reads; the referenced
    /// Service, its EndpointSlices and the wanted Secret do.
    #[test]
    fn only_what_our_ingresses_reference_counts() {
        let interest = Interest::default();
        assert!(interest.service(None, Some(&service("other"))), "before the first compile");
        let s = snapshot(vec![ingress("a", "ours", "site"), ingress("b", "nginx", "theirs")]);
        assert!(!interest.update(&s, &Default::default(), &wanted(&["site-tls"])));
        assert!(interest.service(None, Some(&service("site"))));
        assert!(interest.slice(None, Some(&slice("site-1", "site"))));
        assert!(interest.secret(None, Some(&secret("site-tls"))));
        assert!(interest.ingress(None, Some(&ingress("c", "ours", "x"))));
        assert!(
            interest.ingress(Some(&ingress("a", "ours", "x")), Some(&ingress("a", "nginx", "x"))),
            "an Ingress leaving our classes"
        );
        assert!(!interest.service(None, Some(&service("theirs"))));
        assert!(!interest.slice(None, Some(&slice("theirs-1", "theirs"))));
        assert!(!interest.slice(None, Some(&EndpointSlice::default())), "no Service label");
        assert!(!interest.secret(None, Some(&secret("other-tls"))));
        assert!(!interest.ingress(None, Some(&ingress("d", "nginx", "site"))));
    }

    /// A Service that changes while a compile reads the stores, and that
    /// the compiled Ingresses name for the first time, makes the compile
    /// loop compile again; one that stays unreferenced does not.
    #[test]
    fn an_event_missed_while_compiling_counts_once_referenced() {
        let interest = Interest::default();
        let first = snapshot(vec![ingress("a", "ours", "site")]);
        interest.update(&first, &Default::default(), &wanted(&[]));
        interest.begin();
        assert!(!interest.service(None, Some(&service("new"))));
        assert!(!interest.slice(None, Some(&slice("other-1", "other"))));
        let second = snapshot(vec![ingress("a", "ours", "site"), ingress("b", "ours", "new")]);
        assert!(interest.update(&second, &Default::default(), &wanted(&[])));
        interest.begin();
        assert!(!interest.slice(None, Some(&slice("other-1", "other"))));
        assert!(!interest.update(&second, &Default::default(), &wanted(&[])));
        assert!(!interest.service(None, Some(&service("other"))));
        assert!(!interest.update(&second, &Default::default(), &wanted(&[])), "not recording");
    }
}
