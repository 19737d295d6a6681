//! Host ownership: which namespace may route, certify and redirect a host.
//!
//! A controller is shared by every team of a cluster, so a host (exact or
//! wildcard) belongs to the namespace of the oldest served Ingress that
//! names it, in a rule or under `spec.tls` (oldest: the compiler's age
//! order, `creationTimestamp` then namespace/name). Rules and TLS entries
//! for that host from other namespaces are refused with a warning that
//! names the owner, unless the owner shares the host with them through
//! [`SHARE_HOST_WITH`] on one of its Ingresses for that host.
//!
//! Requests for an owned host that its own rules do not match fall
//! through only to the wildcard rules, host-less rules and default backend
//! of the namespaces allowed on it (see [`restrict_fallbacks`]); the
//! others answer 404.
//!
//! `--host-sharing=any` turns all of this off (ingress-nginx's behaviour:
//! every namespace's rules for a host are merged).

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::Ingress;

use std::sync::Arc;

use super::host::IngressHosts;
use super::{namespace_of, namespaced, Diagnostic, Severity};
use crate::snapshot::Sourced;
use crate::table::{Fallback, FallbackLevel, FastMap, HostMatch, Route, RouteTable, VirtualHost};

/// The annotation by which a host's owner lets other namespaces add rules
/// and TLS entries for it: `"ns-a,ns-b"`, or `"*"` for every namespace.
pub const SHARE_HOST_WITH: &str = "ringress.io/share-host-with";

/// `--host-sharing`: who may add rules for a host another namespace uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostSharing {
    /// A host belongs to one namespace (its oldest Ingress's), which may
    /// share it by annotation.
    #[default]
    Namespace,
    /// Every namespace's rules for a host are merged (ingress-nginx).
    Any,
}

/// Who may use an owned host besides its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Delegates {
    Some(BTreeSet<Box<str>>),
    All,
}

/// The owner of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// The namespace the host belongs to.
    pub(crate) namespace: Box<str>,
    /// `namespace/name` of the oldest Ingress naming the host.
    pub(crate) ingress: String,
    delegates: Delegates,
}

impl Owner {
    /// May Ingresses of `namespace` use this host?
    pub(crate) fn allows(&self, namespace: &str) -> bool {
        *self.namespace == *namespace
            || match &self.delegates {
                Delegates::All => true,
                Delegates::Some(set) => set.contains(namespace),
            }
    }
}

/// Every named host's owner, or nothing under `--host-sharing=any`.
#[derive(Debug, Default)]
pub(crate) struct Owners {
    hosts: FastMap<HostMatch, Owner>,
}

impl Owners {
    /// Owners from the served Ingresses, oldest first (the order the
    /// compiler sorted them in).
    /// `hosts[k]`: the hosts of `ingresses[k]`.
    pub(crate) fn new(
        ingresses: &[&Sourced<Ingress>],
        hosts: &[Arc<IngressHosts>],
        sharing: HostSharing,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Self {
        let mut owners = Self::default();
        if sharing == HostSharing::Any {
            return owners;
        }
        let named: Vec<_> = ingresses.iter().zip(hosts).map(|(i, h)| (i, &h.named)).collect();
        for (ing, hosts) in &named {
            let meta = &ing.object.metadata;
            for host in hosts.iter() {
                if owners.hosts.contains_key(host) {
                    continue;
                }
                owners.hosts.insert(
                    host.clone(),
                    Owner {
                        namespace: namespace_of(meta).into(),
                        ingress: namespaced(meta),
                        delegates: Delegates::Some(BTreeSet::new()),
                    },
                );
            }
        }
        // The annotation counts on any of the owner's Ingresses that name
        // the host; elsewhere it is reported and ignored.
        for (ing, hosts) in &named {
            let meta = &ing.object.metadata;
            let Some(value) = meta.annotations.as_ref().and_then(|a| a.get(SHARE_HOST_WITH)) else {
                continue;
            };
            let diag = |reason: String| {
                Diagnostic::about(
                    Severity::Warning,
                    "Ingress",
                    meta,
                    ing.origin.as_ref(),
                    format!("metadata.annotations[{SHARE_HOST_WITH}]"),
                    reason,
                )
            };
            let Some(delegates) = parse_delegates(value, &diag, diagnostics) else { continue };
            let ns = namespace_of(meta);
            let mut not_owned = Vec::new();
            for host in hosts.iter() {
                let Some(owner) = owners.hosts.get_mut(host) else { continue };
                if *owner.namespace != *ns {
                    not_owned.push(format!("{host} (owned by namespace {})", owner.namespace));
                    continue;
                }
                match (&mut owner.delegates, &delegates) {
                    (Delegates::All, _) => {}
                    (d, Delegates::All) => *d = Delegates::All,
                    (Delegates::Some(have), Delegates::Some(add)) => {
                        have.extend(add.iter().cloned())
                    }
                }
            }
            if !not_owned.is_empty() {
                diagnostics.push(diag(format!(
                    "ignored for {}: only a host's owner can share it",
                    not_owned.join(", ")
                )));
            }
        }
        owners
    }

    /// The owner of `host` when it refuses Ingresses of `namespace`.
    /// `None`: allowed (the owner's own namespace, a delegate, a host-less
    /// rule, or `--host-sharing=any`).
    pub(crate) fn refusing(&self, host: &HostMatch, namespace: &str) -> Option<&Owner> {
        self.hosts.get(host).filter(|o| !o.allows(namespace))
    }

    /// The owner of `host`, if it has one.
    pub(crate) fn owner(&self, host: &HostMatch) -> Option<&Owner> {
        self.hosts.get(host)
    }

    /// The warning for a rule or TLS entry refused because `owner` owns
    /// `host`.
    pub(crate) fn refusal(host: &HostMatch, owner: &Owner, namespace: &str) -> String {
        format!(
            "host {host} belongs to namespace {} (its oldest Ingress is {}); namespace \
             {namespace} may use it only if the owner lists it in the {SHARE_HOST_WITH} \
             annotation; ignored here",
            owner.namespace, owner.ingress
        )
    }
}

/// `"ns-a, ns-b"` or `"*"`. Entries that cannot be namespace names are
/// reported; `None` when nothing usable is left.
fn parse_delegates(
    value: &str,
    diag: &dyn Fn(String) -> Diagnostic,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Delegates> {
    let mut set = BTreeSet::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "*" {
            return Some(Delegates::All);
        }
        if is_namespace_name(entry) {
            set.insert(entry.into());
        } else {
            diagnostics.push(diag(format!(
                "\"{entry}\" is not a namespace name (a DNS label: lower-case letters, digits \
                 and '-', at most 63) nor \"*\"; ignored"
            )));
        }
    }
    (!set.is_empty()).then_some(Delegates::Some(set))
}

fn is_namespace_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The namespace of the Ingress that produced a route (`namespace/name`).
fn route_namespace(route: &Route) -> &str {
    route.ingress.split_once('/').map_or(&route.ingress, |(ns, _)| ns)
}

/// Limit one fall-through level to the routes of allowed namespaces:
/// untouched when every route is allowed, a filtered copy otherwise.
fn restrict(level: Option<&VirtualHost>, owner: &Owner) -> FallbackLevel {
    let Some(vhost) = level else { return FallbackLevel::Table };
    let routes = vhost.routes();
    if routes.iter().all(|r| owner.allows(route_namespace(r))) {
        return FallbackLevel::Table;
    }
    let mut only = VirtualHost::new(vhost.host().clone());
    for route in routes.iter().filter(|r| owner.allows(route_namespace(r))) {
        only.push(route.clone());
    }
    if only.routes().is_empty() {
        FallbackLevel::Closed
    } else {
        FallbackLevel::Only(Box::new(only))
    }
}

/// After the rules are compiled: make every owned host fall through only
/// to routes its owner allows. An owned host with no rules of its own (a
/// host named only under `spec.tls`) gets an empty virtual host to carry
/// the restriction. Hosts whose fall-through is entirely allowed keep no
/// restriction, and their lookups cost nothing more.
pub(crate) fn restrict_fallbacks(table: &mut RouteTable, owners: &Owners) {
    let default_allowed = |owner: &Owner| {
        // The operator's `--default-backend-service` serves every host.
        table.default_route.as_ref().is_none_or(|r| {
            &*r.ingress == super::rules::FLAG_DEFAULT || owner.allows(route_namespace(r))
        })
    };
    let mut exact = Vec::new();
    let mut wildcard = Vec::new();
    for (host, owner) in &owners.hosts {
        let any = restrict(table.any_host.as_deref(), owner);
        let default = default_allowed(owner);
        match host {
            HostMatch::Exact(name) => {
                let parent = name
                    .split_once('.')
                    .map(|(_, rest)| rest)
                    .filter(|rest| !rest.is_empty())
                    .and_then(|rest| table.wildcard_hosts.get(rest))
                    .map(|v| &**v);
                let wild = restrict(parent, owner);
                let fallback = Fallback { wildcard: wild, any, default };
                if !fallback.is_open() {
                    exact.push((host.clone(), fallback));
                }
            }
            HostMatch::Wildcard(_) => {
                let fallback = Fallback { wildcard: FallbackLevel::Table, any, default };
                if !fallback.is_open() {
                    wildcard.push((host.clone(), fallback));
                }
            }
            HostMatch::Any => {}
        }
    }
    for (host, fallback) in exact.into_iter().chain(wildcard) {
        table.set_fallback(&host, fallback);
    }
}

#[cfg(test)]
mod tests;
