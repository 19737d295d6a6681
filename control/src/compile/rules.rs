//! `spec.rules` and `spec.defaultBackend` → virtual hosts and routes.
//!
//! Ingresses arrive oldest first, so on a conflict (same host, path and
//! type) the route already in the table is the winner and the newcomer
//! gets the diagnostic.

use std::sync::Arc;

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressServiceBackend};

use super::annotations::{self, Compiled, HttpsRedirect};
use super::backend::Resolver;
use super::host::IngressHosts;
use super::ownership::{Owner, Owners};
use super::tls::TlsHosts;
use super::{namespace_of, namespaced, Diagnostic, Severity};
use crate::snapshot::{Origin, Sourced};
use crate::table::{
    prefix_key, Backend, FastMap, HostMatch, PathType, Rewrite, Route, RoutePolicy, RouteTable,
    VirtualHost,
};

fn parse_path_type(s: &str) -> Option<PathType> {
    match s {
        "Exact" => Some(PathType::Exact),
        "Prefix" => Some(PathType::Prefix),
        "ImplementationSpecific" => Some(PathType::ImplementationSpecific),
        _ => None,
    }
}

/// The virtual hosts of the previous compile, each with what it was made
/// from: the rules that name the host (the very same Ingress objects, in
/// the same order), the host's owner, whether TLS covers it, and the
/// backends its paths resolved to. A host whose inputs are all the same is
/// handed to the new table as it is, with the diagnostics it produced; only
/// the hosts a change touched are compiled again.
#[derive(Default)]
pub(crate) struct HostMemo {
    seen: FastMap<HostMatch, MemoHost>,
    next: FastMap<HostMatch, MemoHost>,
}

struct MemoHost {
    /// The Ingresses (held, so that their addresses stay theirs), their
    /// origins and the index of the rule naming the host.
    members: Vec<(Arc<Ingress>, Option<Origin>, u32)>,
    owner: Option<Owner>,
    covered: bool,
    /// Every backend reference resolved on the way, in order:
    /// (member, path index, what it resolved to; `None`: invalid).
    attempts: Vec<(u32, u32, Option<Arc<Backend>>)>,
    vhost: Arc<VirtualHost>,
    diagnostics: Vec<Diagnostic>,
}

/// A served Ingress's rule that names a host: (age index, rule index).
type Member = (u32, u32);

impl MemoHost {
    fn same_inputs(
        &self,
        members: &[Member],
        ingresses: &[&Sourced<Ingress>],
        owner: Option<&Owner>,
        covered: bool,
    ) -> bool {
        self.covered == covered
            && self.owner.as_ref() == owner
            && self.members.len() == members.len()
            && self.members.iter().zip(members).all(|((object, origin, rule), (age, r))| {
                let ing = ingresses[*age as usize];
                rule == r && Arc::ptr_eq(object, &ing.object) && *origin == ing.origin
            })
    }

    /// Do the same references resolve to the very same backends? (They
    /// are resolved again, in the same order, which also lists them in
    /// the new table.)
    fn same_backends(&self, resolver: &mut Resolver<'_>) -> bool {
        self.attempts.iter().all(|(member, path, before)| match before {
            // By the key it resolved with: the reference is the same (the
            // Ingress is), so is its key.
            Some(a) => {
                let now = resolver.resolve_key(std::borrow::Cow::Borrowed(&a.key));
                Arc::ptr_eq(a, &now.backend)
            }
            None => {
                let (object, _, rule) = &self.members[*member as usize];
                let Some(service) = service_at(object, *rule, *path) else {
                    return false;
                };
                resolver.resolve(namespace_of(&object.metadata), service, false).is_err()
            }
        })
    }
}

/// The service backend of path `path` of rule `rule`.
fn service_at(ingress: &Ingress, rule: u32, path: u32) -> Option<&IngressServiceBackend> {
    let rule = ingress.spec.as_ref()?.rules.as_ref()?.get(rule as usize)?;
    rule.http.as_ref()?.paths.get(path as usize)?.backend.service.as_ref()
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn compile(
    ingresses: &[&Sourced<Ingress>],
    hosts: &[Arc<IngressHosts>],
    tls: &TlsHosts,
    owners: &Owners,
    resolver: &mut Resolver<'_>,
    memo: &mut HostMemo,
    table: &mut RouteTable,
    diagnostics: &mut Vec<Diagnostic>,
    flag_default: Option<&(String, String)>,
) {
    // Default backends: Ingresses without rules first, then by age.
    let mut default_candidates = Vec::new();
    // Every host named by a rule, in the order first named, with its rules.
    // (Keyed by the hosts as parsed, borrowed: a host is copied only when
    // it is new to the memo.)
    let mut index: FastMap<&HostMatch, usize> =
        FastMap::with_capacity_and_hasher(memo.seen.len(), Default::default());
    let mut groups: Vec<(&HostMatch, Vec<Member>)> = Vec::with_capacity(memo.seen.len());
    // Each Ingress's annotations, compiled once, by age.
    let mut compiled = Vec::with_capacity(ingresses.len());
    for ing in ingresses {
        let c = annotations::compile(&ing.object, ing.origin.as_ref(), diagnostics);
        table.annotations_ignored += u64::from(c.ignored);
        table.annotations_invalid += u64::from(c.invalid);
        compiled.push(c);
    }
    for (c, ing) in compiled.iter_mut().zip(ingresses) {
        error_pages(c, ing, flag_default, resolver, diagnostics);
    }
    for (age, ing) in ingresses.iter().enumerate() {
        let meta = &ing.object.metadata;
        let diag = |severity, field: String, reason: String| {
            Diagnostic::about(severity, "Ingress", meta, ing.origin.as_ref(), field, reason)
        };
        let Some(spec) = ing.object.spec.as_ref() else {
            diagnostics.push(diag(
                Severity::Warning,
                "spec".into(),
                "no spec; nothing routed".into(),
            ));
            continue;
        };
        let rules = spec.rules.as_deref().unwrap_or_default();
        if let Some(backend) = &spec.default_backend {
            default_candidates.push((!rules.is_empty(), age, backend));
        }
        for (i, parsed) in hosts[age].rules.iter().enumerate().take(rules.len()) {
            let host = match parsed {
                Ok(h) => h,
                Err(e) => {
                    diagnostics.push(diag(
                        Severity::Error,
                        format!("spec.rules[{i}].host"),
                        e.to_string(),
                    ));
                    continue;
                }
            };
            let member = (age as u32, i as u32);
            match index.get(host) {
                Some(&g) => groups[g].1.push(member),
                None => {
                    index.insert(host, groups.len());
                    groups.push((host, vec![member]));
                }
            }
        }
    }

    memo.next.clear();
    // Hosts with `from-to-www-redirect`, for the hosts they redirect from.
    let mut www_candidates = Vec::new();
    // Hosts of Ingresses with `server-alias`, with the Ingress's age.
    let mut alias_candidates = Vec::new();
    for (host, members) in groups {
        let owner = owners.owner(host);
        let covered = tls.covers(host, owners);
        // A default backend lives in the policy, not among the attempts
        // the memo checks: such hosts are built anew (they are few).
        let volatile = members.iter().any(|(age, _)| {
            compiled[*age as usize].policy.as_ref().is_some_and(|p| p.default_backend.is_some())
        });
        let reused = memo.seen.remove_entry(host).filter(|(_, m)| {
            !volatile
                && m.same_inputs(&members, ingresses, owner, covered)
                && m.same_backends(resolver)
        });
        let (host, entry) = match reused {
            Some(kept) => kept,
            None => (
                host.clone(),
                build_host(host, &members, ingresses, &compiled, owners, covered, resolver),
            ),
        };
        diagnostics.extend(entry.diagnostics.iter().cloned());
        table.insert_host(entry.vhost.clone());
        if members.iter().any(|(age, _)| compiled[*age as usize].from_to_www) {
            www_candidates.push(entry.vhost.clone());
        }
        for (age, _) in &members {
            if !compiled[*age as usize].aliases.is_empty() {
                alias_candidates.push((entry.vhost.clone(), *age as usize));
            }
        }
        memo.next.insert(host, entry);
    }
    // Names served without a rule of their own: aliases, then www twins
    // (each once, whichever host asks first), with the Ingress that took it.
    let mut taken: Vec<(HostMatch, usize)> = Vec::new();
    alias_candidates.sort_by_key(|(_, age)| *age);
    for (vhost, age) in alias_candidates {
        let aliases = Aliases { ing: ingresses[age], age, named: &index, owners };
        for alias in aliases.serve(&vhost, &compiled[age].aliases, &mut taken, diagnostics) {
            table.insert_host(Arc::new(alias));
        }
    }
    for vhost in www_candidates {
        if let Some(redirect) = www_redirect(&vhost, &index, owners) {
            if taken.iter().any(|(h, _)| h == redirect.host()) {
                continue;
            }
            taken.push((redirect.host().clone(), usize::MAX));
            table.insert_host(Arc::new(redirect));
        }
    }
    std::mem::swap(&mut memo.seen, &mut memo.next);
    memo.next.clear();

    default_candidates.sort_by_key(|(has_rules, age, _)| (*has_rules, *age));
    for (has_rules, age, backend) in default_candidates {
        let ing = ingresses[age];
        let meta = &ing.object.metadata;
        let diag = |severity, field: String, reason: String| {
            Diagnostic::about(severity, "Ingress", meta, ing.origin.as_ref(), field, reason)
        };
        if let Some(winner) = &table.default_route {
            let why = if has_rules {
                "an Ingress without rules, or an older one,"
            } else {
                "an older Ingress"
            };
            diagnostics.push(diag(
                Severity::Warning,
                "spec.defaultBackend".into(),
                format!("ignored: {why} ({}) already provides the default backend", winner.ingress),
            ));
            continue;
        }
        let field = || "spec.defaultBackend".to_string();
        let Some(resolved) = resolve(
            backend,
            compiled[age].service_upstream,
            namespace_of(meta),
            resolver,
            &field,
            &diag,
            diagnostics,
        ) else {
            continue;
        };
        table.default_route = Some(Route {
            path: "/".into(),
            path_type: PathType::Prefix,
            backend: resolved,
            redirect_to_https: compiled[age].https == HttpsRedirect::Always,
            is_default: true,
            policy: compiled[age].policy.clone(),
            ingress: namespaced(meta).into(),
        });
    }
}

/// `default-backend` and `custom-http-errors`: the default backend (the
/// annotation's Service in the Ingress's namespace, else for custom errors
/// `--default-backend-service`), at the Service's first port, into the
/// Ingress's policy. A Service that is missing is a warning: requests
/// then get the route's own answer.
fn error_pages(
    c: &mut Compiled,
    ing: &Sourced<Ingress>,
    flag_default: Option<&(String, String)>,
    resolver: &mut Resolver<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let meta = &ing.object.metadata;
    let own_ns = namespace_of(meta);
    let (ns, name) = match (&c.default_backend, flag_default) {
        (Some(name), _) => (own_ns, &**name),
        (None, Some((ns, name))) if !c.custom_errors.is_empty() => (ns.as_str(), name.as_str()),
        _ => return,
    };
    let Some(port) = resolver.first_port(ns, name) else {
        let field =
            if c.default_backend.is_some() { "default-backend" } else { "custom-http-errors" };
        diagnostics.push(Diagnostic::about(
            Severity::Warning,
            "Ingress",
            meta,
            ing.origin.as_ref(),
            format!("metadata.annotations[{}{field}]", annotations::NGINX_PREFIX),
            format!("Service {ns}/{name} not found or has no port; not used"),
        ));
        return;
    };
    let key = crate::table::BackendKey {
        namespace: ns.into(),
        service: name.into(),
        port: crate::table::ServicePortRef::Number(port),
        cluster_ip: false,
    };
    let backend = resolver.resolve_key(std::borrow::Cow::Owned(key)).backend;
    let mut policy = c.policy.as_deref().cloned().unwrap_or_default();
    policy.default_backend = Some(crate::table::ErrorBackend(backend));
    policy.custom_errors = c.custom_errors.clone().into();
    c.policy = Some(Arc::new(policy));
}

/// What the default route of `--default-backend-service` names as its
/// source, in place of an Ingress.
pub(crate) const FLAG_DEFAULT: &str = "--default-backend-service";

/// The default route of `--default-backend-service NS/NAME`: the
/// Service's first port, as ingress-nginx's flag. A Service that is
/// missing (or has no port) answers 503 until it appears, with a warning.
pub(crate) fn flag_default(
    ns: &str,
    name: &str,
    resolver: &mut Resolver<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Route {
    let port = resolver.first_port(ns, name);
    let key = crate::table::BackendKey {
        namespace: ns.into(),
        service: name.into(),
        port: crate::table::ServicePortRef::Number(port.unwrap_or(80)),
        cluster_ip: false,
    };
    let resolved = resolver.resolve_key(std::borrow::Cow::Owned(key));
    let why = match (port, resolved.problem) {
        (None, _) => Some(format!(
            "Service {ns}/{name} not found or has no port; requests no rule matches answer 503"
        )),
        (Some(_), problem) => problem,
    };
    if let Some(reason) = why {
        diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            kind: "Service".into(),
            namespace: Some(ns.into()),
            name: Some(name.into()),
            field: "--default-backend-service".into(),
            reason,
            origin: None,
        });
    }
    Route {
        path: "/".into(),
        path_type: PathType::Prefix,
        backend: resolved.backend,
        redirect_to_https: false,
        is_default: true,
        policy: None,
        ingress: FLAG_DEFAULT.into(),
    }
}

/// `server-alias` of one Ingress, for one host of its rules.
struct Aliases<'a> {
    ing: &'a Sourced<Ingress>,
    /// The Ingress's age (index in the compile's order).
    age: usize,
    /// Every host a rule names.
    named: &'a FastMap<&'a HostMatch, usize>,
    owners: &'a Owners,
}

impl Aliases<'_> {
    /// The virtual hosts serving `vhost`'s routes under each of `aliases`,
    /// as ingress-nginx adds them to the server's `server_name`: never a
    /// name a rule names (that rule's host wins, now or when it comes
    /// later), never one another namespace owns, never one an older
    /// Ingress's alias took. Each alias refused is a warning.
    fn serve(
        &self,
        vhost: &VirtualHost,
        aliases: &[HostMatch],
        taken: &mut Vec<(HostMatch, usize)>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Vec<VirtualHost> {
        let meta = &self.ing.object.metadata;
        let ns = namespace_of(meta);
        let mut warn = |reason: String| {
            let field = format!("metadata.annotations[{}server-alias]", annotations::NGINX_PREFIX);
            diagnostics.push(Diagnostic::about(
                Severity::Warning,
                "Ingress",
                meta,
                self.ing.origin.as_ref(),
                field,
                reason,
            ));
        };
        let mut out = Vec::new();
        for alias in aliases {
            if self.named.contains_key(alias) {
                warn(format!("alias {alias} is the host of a rule; that rule's host is served"));
                continue;
            }
            if let Some((_, by)) = taken.iter().find(|(h, _)| h == alias) {
                // The same Ingress's other hosts ask for it too: the first wins.
                if *by != self.age {
                    warn(format!("alias {alias} is already an alias of an older Ingress; ignored"));
                }
                continue;
            }
            if let Some(owner) = self.owners.refusing(alias, ns) {
                warn(Owners::refusal(alias, owner, ns));
                continue;
            }
            taken.push((alias.clone(), self.age));
            out.push(vhost.aliased(alias.clone()));
        }
        out
    }
}

/// `from-to-www-redirect` on an exact host: the virtual host of its `www.`
/// twin (or of the name without `www.`) whose every request is a 308 to
/// it, unless a rule names the twin (then the annotation is omitted, as in
/// ingress-nginx). Built anew each compile: only annotated hosts have one.
fn www_redirect(
    vhost: &VirtualHost,
    named: &FastMap<&HostMatch, usize>,
    owners: &Owners,
) -> Option<VirtualHost> {
    let HostMatch::Exact(name) = vhost.host() else { return None };
    let twin: Box<str> = match name.strip_prefix("www.") {
        Some(bare) if !bare.is_empty() => bare.into(),
        _ => format!("www.{name}").into(),
    };
    let twin = HostMatch::Exact(twin);
    if named.contains_key(&twin) {
        return None;
    }
    // The host's first route lends its backend (never used: the policy
    // answers every request).
    let first = vhost.routes().first()?;
    // Never on a host another namespace owns (host ownership).
    let namespace = first.ingress.split('/').next().unwrap_or_default();
    if owners.refusing(&twin, namespace).is_some() {
        return None;
    }
    let mut redirect = VirtualHost::new(twin);
    redirect.push(Route {
        path: "/".into(),
        path_type: PathType::Prefix,
        backend: first.backend.clone(),
        redirect_to_https: false,
        is_default: false,
        policy: Some(Arc::new(RoutePolicy {
            host_redirect: Some(name.clone()),
            ..RoutePolicy::default()
        })),
        ingress: first.ingress.clone(),
    });
    Some(redirect)
}

/// Compile one host from the rules that name it, oldest first.
fn build_host(
    host: &HostMatch,
    members: &[Member],
    ingresses: &[&Sourced<Ingress>],
    compiled: &[Compiled],
    owners: &Owners,
    covered: bool,
    resolver: &mut Resolver<'_>,
) -> MemoHost {
    let mut vhost = VirtualHost::new(host.clone());
    let mut diagnostics = Vec::new();
    let mut attempts = Vec::new();
    let mut held = Vec::with_capacity(members.len());
    // As ingress-nginx: one Ingress of the host with use-regex (or
    // rewrite-target) makes every path of the host a regex.
    let regex_host = members.iter().any(|(age, _)| compiled[*age as usize].use_regex);
    for (m, &(age, i)) in members.iter().enumerate() {
        let ing = ingresses[age as usize];
        held.push((ing.object.clone(), ing.origin.clone(), i));
        let meta = &ing.object.metadata;
        let ns = namespace_of(meta);
        let diag = |severity, field: String, reason: String| {
            Diagnostic::about(severity, "Ingress", meta, ing.origin.as_ref(), field, reason)
        };
        if let Some(owner) = owners.refusing(host, ns) {
            diagnostics.push(diag(
                Severity::Warning,
                format!("spec.rules[{i}].host"),
                Owners::refusal(host, owner, ns),
            ));
            continue;
        }
        let Some(rule) =
            ing.object.spec.as_ref().and_then(|s| s.rules.as_ref()).and_then(|r| r.get(i as usize))
        else {
            continue;
        };
        let owner: Box<str> = namespaced(meta).into();
        let Compiled { https, policy, rewrite_target, .. } = &compiled[age as usize];
        let paths = rule.http.as_ref().map(|h| h.paths.as_slice()).unwrap_or_default();
        for (j, p) in paths.iter().enumerate() {
            // Field names are written out only for a diagnostic.
            let field = || format!("spec.rules[{i}].http.paths[{j}]");
            let Some(path_type) = parse_path_type(&p.path_type) else {
                diagnostics.push(diag(
                    Severity::Error,
                    format!("{}.pathType", field()),
                    format!("\"{}\" is not Exact, Prefix or ImplementationSpecific", p.path_type),
                ));
                continue;
            };
            let path = match p.path.as_deref().filter(|p| !p.is_empty()) {
                Some(path) if path.starts_with('/') => path,
                None if path_type == PathType::ImplementationSpecific => "/",
                Some(path) => {
                    diagnostics.push(diag(
                        Severity::Error,
                        format!("{}.path", field()),
                        format!("\"{path}\" must start with '/'"),
                    ));
                    continue;
                }
                None => {
                    diagnostics.push(diag(
                        Severity::Error,
                        format!("{}.path", field()),
                        format!("required for pathType {}", p.path_type),
                    ));
                    continue;
                }
            };
            let cluster_ip = compiled[age as usize].service_upstream;
            let resolved =
                resolve(&p.backend, cluster_ip, ns, resolver, &field, &diag, &mut diagnostics);
            if p.backend.service.is_some() {
                attempts.push((m as u32, j as u32, resolved.clone()));
            }
            let Some(backend) = resolved else { continue };
            if let Some(winner) = vhost.existing(path, path_type) {
                let shown = if path_type == PathType::Exact {
                    path.to_string()
                } else {
                    format!("/{}", prefix_key(path))
                };
                diagnostics.push(diag(
                    Severity::Warning,
                    format!("{}.path", field()),
                    format!(
                        "host {host} path {shown} ({path_type:?}) is already routed by the older Ingress {}; ignored here",
                        winner.ingress
                    ),
                ));
                continue;
            }
            // On a regex host every non-Exact path must compile as one.
            let mut route_policy = policy.clone();
            if regex_host && path_type != PathType::Exact {
                let pattern = match Rewrite::compile(path) {
                    Ok(p) => p,
                    Err(e) => {
                        diagnostics.push(diag(
                            Severity::Error,
                            format!("{}.path", field()),
                            format!(
                                "\"{path}\" is not a valid regex (the host uses use-regex): {e}"
                            ),
                        ));
                        continue;
                    }
                };
                if let Some(target) = rewrite_target {
                    let mut own = policy.as_deref().cloned().unwrap_or_default();
                    own.rewrite = Some(Rewrite { pattern, target: target.clone() });
                    route_policy = Some(Arc::new(own));
                }
            }
            let redirect_to_https = match https {
                HttpsRedirect::Always => true,
                HttpsRedirect::Never => false,
                HttpsRedirect::WhenTls => covered,
            };
            vhost.push(Route {
                path: path.into(),
                path_type,
                backend,
                redirect_to_https,
                is_default: false,
                policy: route_policy,
                ingress: owner.clone(),
            });
        }
    }
    if regex_host {
        if let Err(e) = vhost.enable_regex() {
            diagnostics.push(Diagnostic::about(
                Severity::Error,
                "Ingress",
                &ingresses[members[0].0 as usize].object.metadata,
                ingresses[members[0].0 as usize].origin.as_ref(),
                "metadata.annotations[nginx.ingress.kubernetes.io/use-regex]",
                format!("host {host}: the paths do not compile together: {e}"),
            ));
        }
    }
    MemoHost {
        members: held,
        owner: owners.owner(host).cloned(),
        covered,
        attempts,
        vhost: Arc::new(vhost),
        diagnostics,
    }
}

fn resolve(
    backend: &IngressBackend,
    cluster_ip: bool,
    namespace: &str,
    resolver: &mut Resolver<'_>,
    field: &dyn Fn() -> String,
    diag: &dyn Fn(Severity, String, String) -> Diagnostic,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Arc<Backend>> {
    let Some(service) = &backend.service else {
        let why = if backend.resource.is_some() {
            "resource backends are not supported; only service backends"
        } else {
            "a service backend is required"
        };
        diagnostics.push(diag(Severity::Error, format!("{}.backend", field()), why.into()));
        return None;
    };
    let sfield = || {
        let field = field();
        if field.ends_with("defaultBackend") {
            format!("{field}.service")
        } else {
            format!("{field}.backend.service")
        }
    };
    match resolver.resolve(namespace, service, cluster_ip) {
        Ok(r) => {
            if let Some(problem) = r.problem {
                diagnostics.push(diag(Severity::Warning, sfield(), problem));
            }
            Some(r.backend)
        }
        Err((sub, reason)) => {
            diagnostics.push(diag(Severity::Error, format!("{}.{sub}", sfield()), reason));
            None
        }
    }
}
