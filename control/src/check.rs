//! `ringress check`: read a manifests directory, compile it, and print the
//! table as a person reads it — hosts (exact, wildcard, any), paths with
//! their types, backends with resolved endpoints, the default backend, TLS
//! hosts with their Secrets, each Ingress's annotation policy and its
//! ignored or invalid annotations — followed by every diagnostic.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::compile::{compile, CompileOptions, Diagnostic, Severity};
use crate::provider::dir::load_dir;
use crate::snapshot::Snapshot;
use crate::table::{Backend, BodyLimit, HostMatch, PathType, Route, RoutePolicy, RouteTable};

/// Endpoints listed per backend before "… and N more".
const MAX_ENDPOINTS_SHOWN: usize = 8;

/// The report and how many errors it holds (the CLI exits 1 when > 0).
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub text: String,
    pub errors: usize,
    pub warnings: usize,
}

/// Load, compile and describe `dir`.
pub fn run(dir: &Path, options: &CompileOptions) -> CheckOutcome {
    let (snapshot, mut diagnostics) = match load_dir(dir) {
        Ok(loaded) => loaded,
        Err(e) => return CheckOutcome { text: format!("error: {e}\n"), errors: 1, warnings: 0 },
    };
    let (table, mut more) = compile(&snapshot, options);
    diagnostics.append(&mut more);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "manifests: {} (ingress class \"{}\")",
        dir.display(),
        options.ingress_class
    );
    let _ = writeln!(text, "{}", counts(&snapshot));
    let (errors, warnings) = describe(&table, &diagnostics, &mut text);
    CheckOutcome { text, errors, warnings }
}

fn counts(s: &Snapshot) -> String {
    format!(
        "read: {} Ingress, {} IngressClass, {} Service, {} EndpointSlice, {} TLS Secret",
        s.ingresses.len(),
        s.ingress_classes.len(),
        s.services.len(),
        s.endpoint_slices.len(),
        s.secrets.len()
    )
}

/// Append the description of `table` and `diagnostics` to `out`; returns
/// (errors, warnings).
pub(crate) fn describe(
    table: &RouteTable,
    diagnostics: &[Diagnostic],
    out: &mut String,
) -> (usize, usize) {
    out.push_str("\nhosts:\n");
    let hosts = table.virtual_hosts();
    if hosts.is_empty() {
        out.push_str("  (none)\n");
    }
    for vhost in hosts {
        let kind = match vhost.host() {
            HostMatch::Exact(_) => "exact",
            HostMatch::Wildcard(_) => "wildcard, one label",
            HostMatch::Any => "any host",
        };
        let regex = if vhost.is_regex() { ", paths as regexes (use-regex)" } else { "" };
        let _ = writeln!(out, "  {} ({kind}{regex})", vhost.host());
        let mut routes: Vec<&Route> = vhost.routes().iter().collect();
        routes.sort_by(|a, b| a.path.cmp(&b.path).then(b.path_type.cmp(&a.path_type)));
        for route in routes {
            route_line(route, out);
        }
    }

    out.push_str("\ndefault backend:\n");
    match table.default_route() {
        Some(route) => {
            let _ =
                writeln!(out, "    {}  (Ingress {})", backend_text(&route.backend), route.ingress);
        }
        None => out.push_str("    none: requests matching no rule get 404\n"),
    }

    out.push_str("\ntls:\n");
    let mut certs: Vec<_> = table.certificates().collect();
    certs.sort_by(|a, b| a.source.cmp(&b.source));
    if certs.is_empty() {
        out.push_str("    no SNI certificates\n");
    }
    for cert in certs {
        let _ = writeln!(
            out,
            "    {}  <- Secret {}  (sha256 {})",
            cert.names.join(", "),
            cert.source,
            hex_prefix(&cert.fingerprint)
        );
    }
    match table.default_certificate() {
        Some(cert) => {
            let _ = writeln!(out, "    default certificate: Secret {}", cert.source);
        }
        None => out.push_str("    default certificate: none given (--default-certificate)\n"),
    }

    annotations_section(table, diagnostics, out);

    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diagnostics.len() - errors;
    let _ = writeln!(out, "\ndiagnostics: {errors} error(s), {warnings} warning(s)");
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| std::cmp::Reverse(d.severity));
    for d in sorted {
        let _ = writeln!(out, "  {d}");
    }
    (errors, warnings)
}

fn route_line(route: &Route, out: &mut String) {
    let path_type = match route.path_type {
        PathType::Exact => "Exact",
        PathType::Prefix => "Prefix",
        PathType::ImplementationSpecific => "ImplementationSpecific (as Prefix)",
    };
    let redirect = if route.redirect_to_https { "  [http -> https]" } else { "" };
    let policy = route.policy.as_deref().map(policy_text).unwrap_or_default();
    let _ = writeln!(
        out,
        "    {} {path_type} -> {}{redirect}{policy}  (Ingress {})",
        route.path,
        backend_text(&route.backend),
        route.ingress
    );
}

/// A route's annotation policy as ` [..]` items, in the order a request
/// meets them.
fn policy_text(policy: &RoutePolicy) -> String {
    let mut text = String::new();
    if let Some(host) = &policy.host_redirect {
        let _ = write!(text, "  [from-to-www-redirect: 308 to {host}]");
    }
    if let Some(root) = &policy.app_root {
        let _ = write!(text, "  [app-root: / -> 302 {root}]");
    }
    match policy.body_limit {
        Some(BodyLimit::Unlimited) => text.push_str("  [body: no limit]"),
        Some(BodyLimit::Bytes(n)) => {
            let _ = write!(text, "  [body <= {n} bytes]");
        }
        None => {}
    }
    if let Some(host) = &policy.upstream_vhost {
        let _ = write!(text, "  [upstream Host: {host}]");
    }
    if let Some(prefix) = &policy.forwarded_prefix {
        let _ = write!(text, "  [X-Forwarded-Prefix: {prefix}]");
    }
    if let Some(ranges) = &policy.source {
        let list = |nets: &[crate::table::IpNet]| {
            nets.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        };
        if let Some(allow) = &ranges.allow {
            let _ = write!(text, "  [allow only: {}]", list(allow));
        }
        if ranges.deny_all {
            text.push_str("  [deny: every client]");
        } else if !ranges.deny.is_empty() {
            let _ = write!(text, "  [deny: {}]", list(&ranges.deny));
        }
    }
    let t = &policy.timeouts;
    for (name, value) in [("connect", t.connect), ("send", t.send), ("read", t.read)] {
        if let Some(d) = value {
            let _ = write!(text, "  [{name} timeout {}s]", d.as_secs());
        }
    }
    if let Some(nu) = &policy.next_upstream {
        let mut on: Vec<&str> = Vec::new();
        if nu.error {
            on.push("error");
        }
        if nu.timeout {
            on.push("timeout");
        }
        for (bit, name) in [(1, "http_502"), (2, "http_503"), (4, "http_504")] {
            if nu.statuses & bit != 0 {
                on.push(name);
            }
        }
        let on = if on.is_empty() { "off".to_string() } else { on.join(" ") };
        let _ = write!(text, "  [next upstream on {on}, {} tries", nu.tries);
        if let Some(t) = nu.within {
            let _ = write!(text, " within {}s", t.as_secs());
        }
        text.push(']');
    }
    if let Some(cors) = &policy.cors {
        match &cors.origins {
            None => text.push_str("  [cors: any origin]"),
            Some(list) if list.is_empty() => text.push_str("  [cors: no origin allowed]"),
            Some(list) => {
                let list = list.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");
                let _ = write!(text, "  [cors: {list}]");
            }
        }
    }
    if let Some(r) = &policy.rewrite {
        let _ = write!(text, "  [rewrite upstream path -> {}]", r.target);
    }
    if let Some(r) = &policy.redirect {
        let _ = write!(text, "  [redirect: {} {}, upstream not contacted]", r.code, r.location);
    }
    text
}

/// Per Ingress with annotations: the policy its routes carry and every
/// annotation ignored or invalid.
fn annotations_section(table: &RouteTable, diagnostics: &[Diagnostic], out: &mut String) {
    let mut per: BTreeMap<String, (Option<String>, Vec<String>)> = BTreeMap::new();
    let routes =
        table.virtual_hosts().into_iter().flat_map(|v| v.routes()).chain(table.default_route());
    for route in routes {
        if let Some(policy) = route.policy.as_deref() {
            per.entry(route.ingress.to_string()).or_default().0 = Some(policy_text(policy));
        }
    }
    for d in diagnostics.iter().filter(|d| d.field.starts_with("metadata.annotations[")) {
        let (Some(ns), Some(name)) = (&d.namespace, &d.name) else { continue };
        let what = if d.is_error() { "invalid" } else { "ignored" };
        let annotation = &d.field["metadata.annotations[".len()..d.field.len() - 1];
        let line = format!("{what}: {annotation}: {}", d.reason);
        per.entry(format!("{ns}/{name}")).or_default().1.push(line);
    }
    out.push_str(
        "
annotations:
",
    );
    if per.is_empty() {
        out.push_str("    none in effect or ignored\n");
    }
    for (ingress, (policy, problems)) in per {
        let policy = policy.map_or_else(|| " none".to_string(), |p| p.replace("  [", " ["));
        let _ = writeln!(out, "    Ingress {ingress}: policy{policy}");
        for p in problems {
            let _ = writeln!(out, "      {p}");
        }
    }
}

fn backend_text(backend: &Backend) -> String {
    if backend.endpoints.is_empty() {
        return format!("{}  no ready endpoints -> 503", backend.key);
    }
    let mut shown: Vec<String> =
        backend.endpoints.iter().take(MAX_ENDPOINTS_SHOWN).map(|e| e.addr.to_string()).collect();
    if backend.endpoints.len() > MAX_ENDPOINTS_SHOWN {
        shown.push(format!("... and {} more", backend.endpoints.len() - MAX_ENDPOINTS_SHOWN));
    }
    format!("{}  [{}]", backend.key, shown.join(", "))
}

fn hex_prefix(bytes: &[u8; 32]) -> String {
    bytes[..8].iter().map(|b| format!("{b:02x}")).collect()
}
