//! [`RouteTable`] and its lookups.

use std::sync::Arc;

use super::host::HostKey;
use super::path::{FastMap, PathIndex};
use super::types::{Backend, Certificate, PathType, Route};

/// Which requests a virtual host answers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostMatch {
    /// One name, compared ASCII case-insensitively (`foo.example.com`).
    Exact(Box<str>),
    /// `*.example.com`: exactly one leading label in front of the suffix,
    /// which is stored without the `*.`.
    Wildcard(Box<str>),
    /// A rule without `host`: every request.
    Any,
}

impl std::fmt::Display for HostMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostMatch::Exact(h) => f.write_str(h),
            HostMatch::Wildcard(s) => write!(f, "*.{s}"),
            HostMatch::Any => f.write_str("*"),
        }
    }
}

/// The routes of one host (or of the host-less rules).
#[derive(Debug, Clone)]
pub struct VirtualHost {
    host: HostMatch,
    routes: Vec<Route>,
    index: PathIndex,
    /// `use-regex` (or `rewrite-target`) on any Ingress of the host: its
    /// non-Exact paths are matched as regexes ([`RegexPaths`]).
    regex: Option<Box<RegexPaths>>,
}

/// A regex host's paths, as ingress-nginx matches them with `location ~*`:
/// case-insensitive, anchored at the start, longest path first (ties in
/// the order added). One multi-pattern anchored search per request: the
/// first pattern in that order that matches wins. Exact paths are still
/// compared exactly, and first.
#[derive(Debug, Clone)]
pub(crate) struct RegexPaths {
    set: regex_automata::meta::Regex,
    /// Pattern index → route index.
    routes: Vec<u32>,
}

/// The fall-through of a virtual host that belongs to a namespace: the
/// lower levels limited to the routes of the namespaces it allows.
#[derive(Debug)]
pub(crate) struct Fallback {
    /// The wildcard host covering an exact host (unused for a wildcard).
    pub(crate) wildcard: FallbackLevel,
    /// The host-less rules.
    pub(crate) any: FallbackLevel,
    /// May the default backend answer?
    pub(crate) default: bool,
}

/// One fall-through level as an owned host sees it.
#[derive(Debug)]
pub(crate) enum FallbackLevel {
    /// The table's own level: every route in it is allowed.
    Table,
    /// Only these routes (a filtered copy of the table's level).
    Only(Box<VirtualHost>),
    /// Nothing at this level is allowed.
    Closed,
}

impl Fallback {
    /// No restriction at all: the host needs no fallback of its own.
    pub(crate) fn is_open(&self) -> bool {
        matches!(
            (&self.wildcard, &self.any, self.default),
            (FallbackLevel::Table, FallbackLevel::Table, true)
        )
    }

    fn route<'t>(
        &'t self,
        table: &'t RouteTable,
        wildcard: Option<&'t VirtualHost>,
        path: &str,
    ) -> Option<&'t Route> {
        let level = |level: &'t FallbackLevel, own: Option<&'t VirtualHost>| match level {
            FallbackLevel::Table => own.and_then(|v| v.route(path)),
            FallbackLevel::Only(v) => v.route(path),
            FallbackLevel::Closed => None,
        };
        level(&self.wildcard, wildcard)
            .or_else(|| level(&self.any, table.any_host.as_deref()))
            .or_else(|| table.default_route.as_ref().filter(|_| self.default))
    }
}

impl VirtualHost {
    pub(crate) fn new(host: HostMatch) -> Self {
        Self { host, routes: Vec::new(), index: PathIndex::default(), regex: None }
    }

    /// Match the host's non-Exact paths as regexes from now on (call once
    /// every route is in). Each path was checked to compile on its own.
    pub(crate) fn enable_regex(&mut self) -> Result<(), String> {
        let mut order: Vec<u32> = (0..self.routes.len() as u32)
            .filter(|&i| self.routes[i as usize].path_type != PathType::Exact)
            .collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.routes[i as usize].path.len()));
        let patterns: Vec<String> =
            order.iter().map(|&i| super::policy::anchored(&self.routes[i as usize].path)).collect();
        let set = regex_automata::meta::Regex::builder()
            .syntax(regex_automata::util::syntax::Config::new().case_insensitive(true))
            .build_many(&patterns)
            .map_err(|e| e.to_string())?;
        self.regex = Some(Box::new(RegexPaths { set, routes: order }));
        Ok(())
    }

    /// Whether the host's paths are matched as regexes.
    pub fn is_regex(&self) -> bool {
        self.regex.is_some()
    }

    pub fn host(&self) -> &HostMatch {
        &self.host
    }

    /// The same routes under another name (`server-alias`).
    pub(crate) fn aliased(&self, host: HostMatch) -> VirtualHost {
        VirtualHost { host, ..self.clone() }
    }

    /// Every route, in the order the compiler added them.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route already registered for this exact path and type, if any.
    pub(crate) fn existing(&self, path: &str, path_type: PathType) -> Option<&Route> {
        self.index.get(path, path_type).map(|i| &self.routes[i as usize])
    }

    /// Add a route; the caller resolved conflicts with [`existing`](Self::existing).
    pub(crate) fn push(&mut self, route: Route) {
        let idx = u32::try_from(self.routes.len()).unwrap_or(u32::MAX);
        self.index.insert(&route.path, route.path_type, idx);
        self.routes.push(route);
    }

    /// The best route of this host for `path` (query already stripped).
    pub fn route(&self, path: &str) -> Option<&Route> {
        if let Some(regex) = &self.regex {
            return self.regex_route(regex, path);
        }
        self.index.lookup(path).map(|(_, i)| &self.routes[i as usize])
    }

    #[inline(never)]
    fn regex_route(&self, regex: &RegexPaths, path: &str) -> Option<&Route> {
        if let Some(i) = self.index.get(path, PathType::Exact) {
            return Some(&self.routes[i as usize]);
        }
        let input = regex_automata::Input::new(path).anchored(regex_automata::Anchored::Yes);
        let found = regex.set.search(&input)?;
        let i = regex.routes.get(found.pattern().as_usize())?;
        Some(&self.routes[*i as usize])
    }
}

/// The compiled, immutable routing state. See the module docs for the
/// contract.
///
/// Virtual hosts are shared (`Arc`): a compile after a change rebuilds only
/// the hosts the change touched and hands the new table the others as they
/// were.
#[derive(Debug, Default)]
pub struct RouteTable {
    pub(crate) generation: u64,
    pub(crate) exact_hosts: FastMap<Box<str>, Arc<VirtualHost>>,
    /// Keyed by the suffix after `*.`.
    pub(crate) wildcard_hosts: FastMap<Box<str>, Arc<VirtualHost>>,
    pub(crate) any_host: Option<Arc<VirtualHost>>,
    /// Where a request an owned host's own routes do not match may go,
    /// when that is restricted (its owner allows only some namespaces, see
    /// `compile::ownership`). A host not listed falls through to the
    /// table's next levels. Read only after a host's own routes missed.
    pub(crate) exact_fallbacks: FastMap<Box<str>, Fallback>,
    /// Keyed by the suffix after `*.`.
    pub(crate) wildcard_fallbacks: FastMap<Box<str>, Fallback>,
    pub(crate) default_route: Option<Route>,
    pub(crate) exact_certs: FastMap<Box<str>, Arc<Certificate>>,
    /// Keyed by the suffix after `*.`.
    pub(crate) wildcard_certs: FastMap<Box<str>, Arc<Certificate>>,
    pub(crate) default_cert: Option<Arc<Certificate>>,
    pub(crate) backends: Vec<Arc<Backend>>,
    pub(crate) certificates: Vec<Arc<Certificate>>,
    /// Annotations of served Ingresses that ringress does not implement
    /// (one per Ingress and annotation), and those whose value is invalid.
    pub(crate) annotations_ignored: u64,
    pub(crate) annotations_invalid: u64,
}

impl RouteTable {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// (ignored, invalid) annotations of the Ingresses this table serves:
    /// `ringress_annotations_ignored` and `ringress_annotations_invalid`.
    pub fn annotation_counts(&self) -> (u64, u64) {
        (self.annotations_ignored, self.annotations_invalid)
    }

    /// The route for a request. `host` is the raw Host header (any case,
    /// `:port` allowed), `path` the raw request path (`?query` allowed).
    ///
    /// Order: the exact host's paths, then the wildcard host's, then the
    /// host-less rules, then the default backend. A host that matches but
    /// has no matching path falls through to the next level — for a host
    /// that belongs to a namespace, only to the routes of the namespaces
    /// it allows (`compile::ownership`). `None` is 404.
    pub fn route(&self, host: &str, path: &str) -> Option<&Route> {
        let path = match path.find('?') {
            Some(i) => &path[..i],
            None => path,
        };
        if let Some(key) = HostKey::new(host) {
            let wildcard = || key.wildcard_suffix().and_then(|s| self.wildcard_hosts.get(s));
            if let Some(exact) = self.exact_hosts.get(key.as_str()) {
                if let Some(route) = exact.route(path) {
                    return Some(route);
                }
                if let Some(fallback) = self.exact_fallbacks.get(key.as_str()) {
                    return fallback.route(self, wildcard().map(|v| &**v), path);
                }
            }
            if let Some((suffix, wildcard)) =
                key.wildcard_suffix().and_then(|s| Some((s, self.wildcard_hosts.get(s)?)))
            {
                if let Some(route) = wildcard.route(path) {
                    return Some(route);
                }
                if let Some(fallback) = self.wildcard_fallbacks.get(suffix) {
                    return fallback.route(self, None, path);
                }
            }
        }
        if let Some(route) = self.any_host.as_ref().and_then(|v| v.route(path)) {
            return Some(route);
        }
        self.default_route.as_ref()
    }

    /// The certificate for an SNI name: exact name first, then the
    /// wildcard covering it. `None`: use the default certificate.
    pub fn certificate(&self, sni: &str) -> Option<&Arc<Certificate>> {
        let key = HostKey::new(sni)?;
        self.exact_certs
            .get(key.as_str())
            .or_else(|| key.wildcard_suffix().and_then(|s| self.wildcard_certs.get(s)))
    }

    /// Whether a request for `host` may be answered on a TLS connection
    /// whose ClientHello named `sni` (RFC 9110 §15.5.20, 421 Misdirected
    /// Request when not). Allowed: the same name; an SNI that chose no
    /// certificate of the table (it got the default one); a host served by
    /// the very certificate the SNI chose; a host no certificate is listed
    /// for that the chosen certificate covers (its SAN names, wildcards
    /// included, checked as a client checks them). Refused: a host served
    /// by a different certificate, or one the chosen certificate does not
    /// cover. A host that cannot name a virtual host (empty, an IP literal)
    /// is allowed: it reaches only the host-less rules.
    pub fn serves_on_sni(&self, sni: &str, host: &str) -> bool {
        // The common case costs a compare: Host names the SNI name.
        if host_name(host).eq_ignore_ascii_case(host_name(sni)) {
            return true;
        }
        let (Some(sni), Some(host)) = (HostKey::new(sni), HostKey::new(host)) else {
            return true;
        };
        if sni.as_str() == host.as_str() {
            return true;
        }
        let Some(chosen) = self.certificate(sni.as_str()) else {
            return true;
        };
        match self.certificate(host.as_str()) {
            Some(served) => Arc::ptr_eq(chosen, served) || chosen.fingerprint == served.fingerprint,
            None => chosen.covers(host.as_str()),
        }
    }

    /// From `--default-certificate NAMESPACE/NAME`, when given and valid.
    pub fn default_certificate(&self) -> Option<&Arc<Certificate>> {
        self.default_cert.as_ref()
    }

    /// Every backend referenced by a route, each once.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.backends.iter()
    }

    /// Every certificate served by SNI, each once (default excluded).
    pub fn certificates(&self) -> impl Iterator<Item = &Arc<Certificate>> {
        self.certificates.iter()
    }

    /// Every virtual host: exact, then wildcard, then the host-less rules,
    /// each group sorted by name.
    pub fn virtual_hosts(&self) -> Vec<&VirtualHost> {
        let mut exact: Vec<&VirtualHost> = self.exact_hosts.values().map(|v| &**v).collect();
        exact.sort_by(|a, b| a.host.cmp(&b.host));
        let mut wild: Vec<&VirtualHost> = self.wildcard_hosts.values().map(|v| &**v).collect();
        wild.sort_by(|a, b| a.host.cmp(&b.host));
        exact.into_iter().chain(wild).chain(self.any_host.as_deref()).collect()
    }

    /// The `defaultBackend` catch-all, if any.
    pub fn default_route(&self) -> Option<&Route> {
        self.default_route.as_ref()
    }

    /// Add a compiled virtual host (its host is not in the table yet).
    pub(crate) fn insert_host(&mut self, vhost: Arc<VirtualHost>) {
        match vhost.host() {
            HostMatch::Exact(h) => {
                self.exact_hosts.insert(h.clone(), vhost);
            }
            HostMatch::Wildcard(s) => {
                self.wildcard_hosts.insert(s.clone(), vhost);
            }
            HostMatch::Any => self.any_host = Some(vhost),
        }
    }

    /// Restrict where unmatched requests for an owned host may go. A host
    /// without routes of its own (named only under `spec.tls`) gets an
    /// empty virtual host, so that its requests reach the restriction.
    pub(crate) fn set_fallback(&mut self, host: &HostMatch, fallback: Fallback) {
        let (hosts, fallbacks, key) = match host {
            HostMatch::Exact(h) => (&mut self.exact_hosts, &mut self.exact_fallbacks, h),
            HostMatch::Wildcard(s) => (&mut self.wildcard_hosts, &mut self.wildcard_fallbacks, s),
            HostMatch::Any => return,
        };
        hosts.entry(key.clone()).or_insert_with(|| Arc::new(VirtualHost::new(host.clone())));
        fallbacks.insert(key.clone(), fallback);
    }
}

/// A Host value's name: without surrounding blanks, `:port` and one
/// trailing dot (an IPv6 literal is left as it is).
fn host_name(raw: &str) -> &str {
    let raw = raw.trim_matches(|c: char| c == ' ' || c == '\t');
    let name = match raw.rfind(':') {
        Some(i) if !raw.starts_with('[') && !raw[..i].contains(':') => &raw[..i],
        _ => raw,
    };
    name.strip_suffix('.').unwrap_or(name)
}
