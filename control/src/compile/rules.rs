//! `spec.rules` and `spec.defaultBackend` → virtual hosts and routes.
//!
//! Ingresses arrive oldest first, so on a conflict (same host, path and
//! type) the route already in the table is the winner and the newcomer
//! gets the diagnostic.

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use super::backend::Resolver;
use super::host::parse_host;
use super::ownership::Owners;
use super::tls::TlsHosts;
use super::{namespace_of, namespaced, Diagnostic, Severity};
use crate::snapshot::Sourced;
use crate::table::{prefix_key, PathType, Route, RouteTable};

/// ringress's own switch for the https redirect.
pub(crate) const SSL_REDIRECT: &str = "ringress.io/ssl-redirect";
/// The ingress-nginx spellings, honoured so existing manifests keep working.
pub(crate) const NGINX_SSL_REDIRECT: &str = "nginx.ingress.kubernetes.io/ssl-redirect";
pub(crate) const NGINX_FORCE_SSL_REDIRECT: &str = "nginx.ingress.kubernetes.io/force-ssl-redirect";

/// How an Ingress's annotations steer the https redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedirectPolicy {
    /// Redirect when the host is listed under `spec.tls` of a served Ingress.
    WhenTls,
    Never,
    Always,
}

/// Go's `strconv.ParseBool`, as ingress-nginx reads its annotations.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn redirect_policy(ingress: &Ingress) -> RedirectPolicy {
    let Some(a) = ingress.metadata.annotations.as_ref() else { return RedirectPolicy::WhenTls };
    let flag = |k: &str| a.get(k).and_then(|v| parse_bool(v));
    if flag(NGINX_FORCE_SSL_REDIRECT) == Some(true) {
        RedirectPolicy::Always
    } else if flag(SSL_REDIRECT) == Some(false) || flag(NGINX_SSL_REDIRECT) == Some(false) {
        RedirectPolicy::Never
    } else {
        RedirectPolicy::WhenTls
    }
}

fn parse_path_type(s: &str) -> Option<PathType> {
    match s {
        "Exact" => Some(PathType::Exact),
        "Prefix" => Some(PathType::Prefix),
        "ImplementationSpecific" => Some(PathType::ImplementationSpecific),
        _ => None,
    }
}

pub(crate) fn compile(
    ingresses: &[&Sourced<Ingress>],
    tls: &TlsHosts,
    owners: &Owners,
    resolver: &mut Resolver<'_>,
    table: &mut RouteTable,
    diagnostics: &mut Vec<Diagnostic>,
) {
    // Default backends: Ingresses without rules first, then by age.
    let mut default_candidates = Vec::new();
    for (age, ing) in ingresses.iter().enumerate() {
        let meta = &ing.object.metadata;
        let ns = namespace_of(meta);
        let owner: Box<str> = namespaced(meta).into();
        let policy = redirect_policy(&ing.object);
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
        for (i, rule) in rules.iter().enumerate() {
            let host = match parse_host(rule.host.as_deref()) {
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
            if let Some(owner) = owners.refusing(&host, ns) {
                diagnostics.push(diag(
                    Severity::Warning,
                    format!("spec.rules[{i}].host"),
                    Owners::refusal(&host, owner, ns),
                ));
                continue;
            }
            let paths = rule.http.as_ref().map(|h| h.paths.as_slice()).unwrap_or_default();
            for (j, p) in paths.iter().enumerate() {
                // Field names are written out only for a diagnostic.
                let field = || format!("spec.rules[{i}].http.paths[{j}]");
                let Some(path_type) = parse_path_type(&p.path_type) else {
                    diagnostics.push(diag(
                        Severity::Error,
                        format!("{}.pathType", field()),
                        format!(
                            "\"{}\" is not Exact, Prefix or ImplementationSpecific",
                            p.path_type
                        ),
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
                let Some(backend) = resolve(&p.backend, ns, resolver, &field, &diag, diagnostics)
                else {
                    continue;
                };
                let vhost = table.virtual_host_mut(host.clone());
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
                let redirect_to_https = match policy {
                    RedirectPolicy::Always => true,
                    RedirectPolicy::Never => false,
                    RedirectPolicy::WhenTls => tls.covers(&host, owners),
                };
                vhost.push(Route {
                    path: path.into(),
                    path_type,
                    backend,
                    redirect_to_https,
                    is_default: false,
                    ingress: owner.clone(),
                });
            }
        }
    }

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
        let Some(resolved) =
            resolve(backend, namespace_of(meta), resolver, &field, &diag, diagnostics)
        else {
            continue;
        };
        table.default_route = Some(Route {
            path: "/".into(),
            path_type: PathType::Prefix,
            backend: resolved,
            redirect_to_https: redirect_policy(&ing.object) == RedirectPolicy::Always,
            is_default: true,
            ingress: namespaced(meta).into(),
        });
    }
}

fn resolve(
    backend: &IngressBackend,
    namespace: &str,
    resolver: &mut Resolver<'_>,
    field: &dyn Fn() -> String,
    diag: &dyn Fn(Severity, String, String) -> Diagnostic,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<std::sync::Arc<crate::table::Backend>> {
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
    match resolver.resolve(namespace, service) {
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
