//! The pure compiler: Kubernetes objects in, one [`RouteTable`] and its
//! diagnostics out. No I/O.
//!
//! # Layout
//!
//! - `annotations`: annotations → typed per-route policy, and the
//!   catalog of ingress-nginx annotations (docs/annotations.md).
//! - `class`: which Ingresses are ours (IngressClass selection, three forms).
//! - `rules`: hosts, paths, default backends, conflicts, https redirects.
//! - `backend`: Service port → EndpointSlice port → ready endpoints.
//! - `tls`: `spec.tls` hosts → Secrets → parsed certificates.
//! - `host`: the `host` syntax both `rules` and `tls` parse.
//! - `endpoints`: endpoint addresses the proxy must never forward to.
//! - `external_name`: ExternalName Services: the port rule, and the
//!   resolver's answers ([`ExternalNames`]) as endpoints.
//! - `ownership`: which namespace a host belongs to, and who it is shared with.
//! - `diagnostic`: [`Diagnostic`] and how it prints.

pub mod annotations;
mod backend;
mod class;
pub(crate) use backend::SERVICE_NAME_LABEL;
pub(crate) use class::{ClassNames, Classes};
mod diagnostic;
mod endpoints;
mod external_name;
mod host;
mod ownership;
mod rules;
mod tls;

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::snapshot::{Snapshot, Sourced};
use crate::table::RouteTable;

pub use diagnostic::{Diagnostic, Severity};
pub use endpoints::EndpointGuard;
pub(crate) use external_name::{target as external_name_target, Target as ExternalTarget};
pub use external_name::{Answer, ExternalNames};
pub use ownership::{HostSharing, SHARE_HOST_WITH};

/// How to compile.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// `--controller-class` (default [`crate::CONTROLLER_NAME`]): the
    /// IngressClasses whose `spec.controller` equals it are ours.
    pub controller_class: String,
    /// `--ingress-class` (default `ringress`): the legacy
    /// `kubernetes.io/ingress.class` annotation value we answer to.
    pub ingress_class: String,
    /// `--default-certificate NAMESPACE/NAME`.
    pub default_certificate: Option<(String, String)>,
    /// `--host-sharing`: whether a host belongs to one namespace.
    pub host_sharing: HostSharing,
    /// `--default-backend-service NAMESPACE/NAME`: the Service (its first
    /// port) that serves requests no rule matches, when no Ingress of
    /// ours has a `spec.defaultBackend`.
    pub default_backend_service: Option<(String, String)>,
    /// Endpoint addresses refused (the proxy's own listeners, and with
    /// `--kubernetes` the node-local ranges).
    pub endpoint_guard: EndpointGuard,
    /// What the ExternalName Services' DNS names resolved to: filled in by
    /// the provider's resolver before each compile (empty: every such name
    /// answers 503 as not resolved yet).
    pub external_names: ExternalNames,
    /// How the providers resolve those names. The compiler never reads it;
    /// it travels here so that both providers get it with the rest of
    /// their settings.
    pub dns: crate::provider::resolve::DnsSettings,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            controller_class: crate::CONTROLLER_NAME.to_string(),
            ingress_class: crate::DEFAULT_INGRESS_CLASS.to_string(),
            default_certificate: None,
            host_sharing: HostSharing::default(),
            default_backend_service: None,
            endpoint_guard: EndpointGuard::default(),
            external_names: ExternalNames::default(),
            dns: Default::default(),
        }
    }
}

/// Compile a snapshot into a table (generation 0: the publisher numbers
/// it) and every problem found on the way. Objects with errors are skipped
/// where they are wrong; everything else still compiles.
pub fn compile(snapshot: &Snapshot, options: &CompileOptions) -> (RouteTable, Vec<Diagnostic>) {
    compile_with(snapshot, options, &mut Memo::default())
}

/// What one compile leaves for the next: the backends it resolved and the
/// keys it parsed, each with the objects it was made from. A compile
/// through the same `Memo` reuses whatever was made from the very same
/// objects (the providers hand out the same `Arc` until an object
/// changes), so after a change only what it touched is worked out again.
/// The result is always exactly that of [`compile`].
#[derive(Default)]
pub struct Memo {
    backends: backend::BackendMemo,
    keys: tls::KeyMemo,
    hosts: rules::HostMemo,
    ingress_hosts: host::HostsMemo,
}

/// [`compile`], reusing (and refreshing) `memo`.
pub fn compile_with(
    snapshot: &Snapshot,
    options: &CompileOptions,
    memo: &mut Memo,
) -> (RouteTable, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let classes = class::Classes::new(snapshot, options);
    let mut ingresses: Vec<&Sourced<Ingress>> = snapshot
        .ingresses
        .iter()
        .filter(|i| {
            let ours = classes.is_ours(&i.object);
            if !ours {
                tracing::debug!(
                    ingress = %namespaced(&i.object.metadata),
                    "Ingress belongs to another class; ignored"
                );
            }
            ours
        })
        .collect();
    // Sorted on keys taken once (namespace and name are unique, so an
    // unstable sort gives the one order).
    let mut keyed: Vec<(AgeKey<'_>, &Sourced<Ingress>)> =
        ingresses.iter().map(|i| (age_key(&i.object), *i)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    ingresses.clear();
    ingresses.extend(keyed.into_iter().map(|(_, i)| i));
    let hosts = memo.ingress_hosts.hosts_of(&ingresses);

    let mut table = RouteTable::empty();
    let owners = ownership::Owners::new(&ingresses, &hosts, options.host_sharing, &mut diagnostics);
    let tls_hosts = tls::compile(
        &ingresses,
        snapshot,
        options,
        &owners,
        &mut memo.keys,
        &mut table,
        &mut diagnostics,
    );
    let mut resolver = backend::Resolver::new(
        snapshot,
        &options.endpoint_guard,
        &options.external_names,
        &mut memo.backends,
    );
    rules::compile(
        &ingresses,
        &hosts,
        &tls_hosts,
        &owners,
        &mut resolver,
        &mut memo.hosts,
        &mut table,
        &mut diagnostics,
        options.default_backend_service.as_ref(),
    );
    if let (None, Some((ns, name))) = (&table.default_route, &options.default_backend_service) {
        table.default_route = Some(rules::flag_default(ns, name, &mut resolver, &mut diagnostics));
    }
    ownership::restrict_fallbacks(&mut table, &owners);
    table.backends = resolver.into_backends();
    (table, diagnostics)
}

/// Older Ingresses first: `creationTimestamp` (absent counts as oldest, as
/// in manifests files that carry none), then namespace, then name.
type AgeKey<'a> = (Option<&'a Time>, &'a str, &'a str);

fn age_key(i: &Ingress) -> AgeKey<'_> {
    (
        i.metadata.creation_timestamp.as_ref(),
        namespace_of(&i.metadata),
        i.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// `metadata.namespace`, `default` when absent (as kubectl applies it).
pub(crate) fn namespace_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> &str {
    meta.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("default")
}

pub(crate) fn namespaced(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> String {
    format!("{}/{}", namespace_of(meta), meta.name.as_deref().unwrap_or(""))
}

/// The Ingresses this controller serves (the same IngressClass selection
/// as [`compile`]), for the Ingress status writer.
pub fn served<'a>(
    snapshot: &'a Snapshot,
    options: &'a CompileOptions,
) -> impl Iterator<Item = &'a Ingress> + 'a {
    let classes = class::Classes::new(snapshot, options);
    snapshot.ingresses.iter().map(|i| &*i.object).filter(move |i| classes.is_ours(i))
}
