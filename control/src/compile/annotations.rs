//! Annotations → typed per-route policy, once per Ingress per compile.
//!
//! Each annotation is read under `nginx.ingress.kubernetes.io/` and under
//! `ringress.io/`; the latter wins when both are set. [`CATALOG`] is the
//! list of ingress-nginx annotations ringress knows, and whether it
//! implements each; docs/annotations.md is checked against it by a test.
//! A value that does not parse is an error diagnostic naming the Ingress,
//! the annotation and the value, and disables only that annotation. A
//! snippet annotation is never executed; any other ingress-nginx
//! annotation ringress does not implement is a warning, counted in the
//! table ([`crate::table::RouteTable::annotation_counts`]) and exported as
//! `ringress_annotations_ignored` in `/metrics`.

use std::sync::Arc;

use k8s_openapi::api::networking::v1::Ingress;

use super::{Diagnostic, Severity};
use crate::snapshot::Origin;
use crate::table::{
    BodyLimit, Cors, IpNet, NextUpstream, OriginPattern, Redirect, RoutePolicy, SourceRanges,
    UpstreamTimeouts,
};

pub const NGINX_PREFIX: &str = "nginx.ingress.kubernetes.io/";
pub const RINGRESS_PREFIX: &str = "ringress.io/";

/// What ringress does with an ingress-nginx annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Implemented as docs/annotations.md describes.
    Supported,
    /// Raw nginx configuration: never executed; the typed annotation(s)
    /// to use instead.
    Snippet(&'static str),
    /// Not implemented (yet): a warning and a count, never silence.
    Ignored,
}

/// Every ingress-nginx annotation ringress knows (without the prefix), and
/// what it does with it. Annotations only ringress has (`share-host-with`)
/// are in [`RINGRESS_ONLY`].
pub const CATALOG: &[(&str, Support)] = &[
    ("app-root", Support::Supported),
    ("permanent-redirect", Support::Supported),
    ("permanent-redirect-code", Support::Supported),
    ("temporal-redirect", Support::Supported),
    ("temporal-redirect-code", Support::Supported),
    ("ssl-redirect", Support::Supported),
    ("force-ssl-redirect", Support::Supported),
    ("from-to-www-redirect", Support::Supported),
    ("proxy-body-size", Support::Supported),
    ("upstream-vhost", Support::Supported),
    ("x-forwarded-prefix", Support::Supported),
    ("allowlist-source-range", Support::Supported),
    ("whitelist-source-range", Support::Supported),
    ("denylist-source-range", Support::Supported),
    ("proxy-connect-timeout", Support::Supported),
    ("proxy-send-timeout", Support::Supported),
    ("proxy-read-timeout", Support::Supported),
    ("use-regex", Support::Supported),
    ("rewrite-target", Support::Supported),
    ("proxy-next-upstream", Support::Supported),
    ("proxy-next-upstream-tries", Support::Supported),
    ("proxy-next-upstream-timeout", Support::Supported),
    ("server-alias", Support::Supported),
    ("custom-http-errors", Support::Supported),
    ("default-backend", Support::Supported),
    ("service-upstream", Support::Supported),
    ("enable-cors", Support::Supported),
    ("cors-allow-origin", Support::Supported),
    ("cors-allow-methods", Support::Supported),
    ("cors-allow-headers", Support::Supported),
    ("cors-allow-credentials", Support::Supported),
    ("cors-expose-headers", Support::Supported),
    ("cors-max-age", Support::Supported),
    (
        "configuration-snippet",
        Support::Snippet(
            "rewrite-target, permanent-redirect, upstream-vhost, x-forwarded-prefix, ...",
        ),
    ),
    ("server-snippet", Support::Snippet("app-root, permanent-redirect or from-to-www-redirect")),
    ("auth-snippet", Support::Snippet("none yet (auth-url is not implemented)")),
    ("modsecurity-snippet", Support::Snippet("allowlist-source-range / denylist-source-range")),
    ("stream-snippet", Support::Snippet("none (TCP/UDP services are not supported)")),
    ("affinity", Support::Ignored),
    ("affinity-canary-behavior", Support::Ignored),
    ("affinity-mode", Support::Ignored),
    ("auth-cache-duration", Support::Ignored),
    ("auth-cache-key", Support::Ignored),
    ("auth-keepalive", Support::Ignored),
    ("auth-keepalive-requests", Support::Ignored),
    ("auth-keepalive-share-vars", Support::Ignored),
    ("auth-keepalive-timeout", Support::Ignored),
    ("auth-method", Support::Ignored),
    ("auth-proxy-set-headers", Support::Ignored),
    ("auth-realm", Support::Ignored),
    ("auth-request-redirect", Support::Ignored),
    ("auth-response-headers", Support::Ignored),
    ("auth-secret", Support::Ignored),
    ("auth-secret-type", Support::Ignored),
    ("auth-signin", Support::Ignored),
    ("auth-signin-redirect-param", Support::Ignored),
    ("auth-tls-error-page", Support::Ignored),
    ("auth-tls-match-cn", Support::Ignored),
    ("auth-tls-pass-certificate-to-upstream", Support::Ignored),
    ("auth-tls-secret", Support::Ignored),
    ("auth-tls-verify-client", Support::Ignored),
    ("auth-tls-verify-depth", Support::Ignored),
    ("auth-type", Support::Ignored),
    ("auth-url", Support::Ignored),
    ("backend-protocol", Support::Ignored),
    ("canary", Support::Ignored),
    ("canary-by-cookie", Support::Ignored),
    ("canary-by-header", Support::Ignored),
    ("canary-by-header-pattern", Support::Ignored),
    ("canary-by-header-value", Support::Ignored),
    ("canary-weight", Support::Ignored),
    ("canary-weight-total", Support::Ignored),
    ("client-body-buffer-size", Support::Ignored),
    ("connection-proxy-header", Support::Ignored),
    ("custom-headers", Support::Ignored),
    ("enable-access-log", Support::Ignored),
    ("enable-global-auth", Support::Ignored),
    ("enable-modsecurity", Support::Ignored),
    ("enable-opentelemetry", Support::Ignored),
    ("enable-owasp-core-rules", Support::Ignored),
    ("enable-rewrite-log", Support::Ignored),
    ("limit-burst-multiplier", Support::Ignored),
    ("limit-connections", Support::Ignored),
    ("limit-rate", Support::Ignored),
    ("limit-rate-after", Support::Ignored),
    ("limit-rpm", Support::Ignored),
    ("limit-rps", Support::Ignored),
    ("limit-whitelist", Support::Ignored),
    ("load-balance", Support::Ignored),
    ("mirror-host", Support::Ignored),
    ("mirror-request-body", Support::Ignored),
    ("mirror-target", Support::Ignored),
    ("modsecurity-transaction-id", Support::Ignored),
    ("opentelemetry-trust-incoming-span", Support::Ignored),
    ("preserve-trailing-slash", Support::Ignored),
    ("proxy-buffer-size", Support::Ignored),
    ("proxy-buffering", Support::Ignored),
    ("proxy-buffers-number", Support::Ignored),
    ("proxy-cookie-domain", Support::Ignored),
    ("proxy-cookie-path", Support::Ignored),
    ("proxy-http-version", Support::Ignored),
    ("proxy-max-temp-file-size", Support::Ignored),
    ("proxy-redirect-from", Support::Ignored),
    ("proxy-redirect-to", Support::Ignored),
    ("proxy-request-buffering", Support::Ignored),
    ("proxy-ssl-ciphers", Support::Ignored),
    ("proxy-ssl-name", Support::Ignored),
    ("proxy-ssl-protocols", Support::Ignored),
    ("proxy-ssl-secret", Support::Ignored),
    ("proxy-ssl-server-name", Support::Ignored),
    ("proxy-ssl-verify", Support::Ignored),
    ("proxy-ssl-verify-depth", Support::Ignored),
    ("satisfy", Support::Ignored),
    ("session-cookie-change-on-failure", Support::Ignored),
    ("session-cookie-conditional-samesite-none", Support::Ignored),
    ("session-cookie-domain", Support::Ignored),
    ("session-cookie-expires", Support::Ignored),
    ("session-cookie-max-age", Support::Ignored),
    ("session-cookie-name", Support::Ignored),
    ("session-cookie-path", Support::Ignored),
    ("session-cookie-samesite", Support::Ignored),
    ("session-cookie-secure", Support::Ignored),
    ("ssl-ciphers", Support::Ignored),
    ("ssl-passthrough", Support::Ignored),
    ("ssl-prefer-server-ciphers", Support::Ignored),
    ("upstream-hash-by", Support::Ignored),
];

/// Annotations only ringress has, read under `ringress.io/` alone (their
/// own modules parse them).
pub const RINGRESS_ONLY: &[&str] = &["share-host-with"];

/// The support of `name` (without prefix); `None`: not an annotation
/// ringress knows.
pub fn support(name: &str) -> Option<Support> {
    CATALOG.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// How an Ingress's annotations steer the https redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpsRedirect {
    /// Redirect when the host is listed under `spec.tls` of a served Ingress.
    WhenTls,
    Never,
    Always,
}

/// What one Ingress's annotations compile to.
pub(crate) struct Compiled {
    pub(crate) https: HttpsRedirect,
    /// `from-to-www-redirect: "true"`.
    pub(crate) from_to_www: bool,
    /// `use-regex: "true"`, or a `rewrite-target`: the hosts of the
    /// Ingress match their paths as regexes.
    pub(crate) use_regex: bool,
    /// `rewrite-target`, attached per route by the host compiler.
    pub(crate) rewrite_target: Option<Box<str>>,
    /// `None` when no annotation changes a route.
    pub(crate) policy: Option<Arc<RoutePolicy>>,
    /// `default-backend`: a Service of the Ingress's namespace.
    pub(crate) default_backend: Option<Box<str>>,
    /// `custom-http-errors`: the statuses it replaces.
    pub(crate) custom_errors: Vec<u16>,
    /// `service-upstream: "true"`: backends are the Services' ClusterIPs.
    pub(crate) service_upstream: bool,
    /// `server-alias`: more names for the hosts of the Ingress's rules.
    pub(crate) aliases: Vec<crate::table::HostMatch>,
    /// Annotations ringress does not implement (snippets included).
    pub(crate) ignored: u32,
    /// Annotations whose value did not parse.
    pub(crate) invalid: u32,
}

impl Compiled {
    pub(crate) const NONE: Compiled = Compiled {
        https: HttpsRedirect::WhenTls,
        from_to_www: false,
        use_regex: false,
        rewrite_target: None,
        policy: None,
        default_backend: None,
        custom_errors: Vec::new(),
        service_upstream: false,
        aliases: Vec::new(),
        ignored: 0,
        invalid: 0,
    };
}

/// One annotation as read: its full key and value.
#[derive(Clone, Copy)]
struct Value<'a> {
    key: &'a str,
    value: &'a str,
}

/// The Ingress's annotations under either prefix, `ringress.io/` winning.
struct Annotations<'a> {
    /// (name without prefix, what was read), a handful at most.
    values: Vec<(&'a str, Value<'a>)>,
}

impl<'a> Annotations<'a> {
    fn get(&self, name: &str) -> Option<Value<'a>> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// Compile `ingress`'s annotations, pushing a diagnostic for every
/// invalid, snippet or ignored one.
pub(crate) fn compile(
    ingress: &Ingress,
    origin: Option<&Origin>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Compiled {
    let Some(map) = ingress.metadata.annotations.as_ref() else { return Compiled::NONE };
    let mut read = Annotations { values: Vec::new() };
    for (key, value) in map {
        let (name, ours) = if let Some(n) = key.strip_prefix(RINGRESS_PREFIX) {
            (n, true)
        } else if let Some(n) = key.strip_prefix(NGINX_PREFIX) {
            (n, false)
        } else {
            continue;
        };
        let v = Value { key, value };
        match read.values.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) if ours => slot.1 = v,
            Some(_) => {}
            None => read.values.push((name, v)),
        }
    }
    if read.values.is_empty() {
        return Compiled::NONE;
    }
    let meta = &ingress.metadata;
    let mut invalid = 0u32;
    let mut diag = |severity, v: Value<'_>, reason: String| {
        if severity == Severity::Error {
            invalid += 1;
        }
        diagnostics.push(Diagnostic::about(
            severity,
            "Ingress",
            meta,
            origin,
            format!("metadata.annotations[{}]", v.key),
            reason,
        ));
    };

    for &(name, v) in &read.values {
        match support(name) {
            Some(Support::Supported) => {}
            Some(Support::Snippet(instead)) => {
                diag(
                    Severity::Warning,
                    v,
                    format!("snippets are never executed; typed alternative: {instead}"),
                );
            }
            Some(Support::Ignored) => {
                diag(Severity::Warning, v, "not implemented by ringress; ignored".into());
            }
            None if v.key.starts_with(RINGRESS_PREFIX) && RINGRESS_ONLY.contains(&name) => {}
            None => diag(Severity::Warning, v, "unknown annotation; ignored".into()),
        }
    }
    let ignored = count_ignored(&read);

    let flag = |name: &str, diag: &mut dyn FnMut(Severity, Value<'_>, String)| {
        let v = read.get(name)?;
        let parsed = parse_bool(v.value);
        if parsed.is_none() {
            diag(Severity::Error, v, format!("\"{}\" is not a boolean; ignored", v.value));
        }
        parsed
    };
    let force = flag("force-ssl-redirect", &mut diag);
    let ssl = flag("ssl-redirect", &mut diag);
    let from_to_www = flag("from-to-www-redirect", &mut diag) == Some(true);
    let regex_flag = flag("use-regex", &mut diag) == Some(true);
    let service_upstream = flag("service-upstream", &mut diag) == Some(true);
    let https = if force == Some(true) {
        HttpsRedirect::Always
    } else if ssl == Some(false) {
        HttpsRedirect::Never
    } else {
        HttpsRedirect::WhenTls
    };

    // As ingress-nginx: a temporal redirect is chosen over a permanent one.
    let fixed = redirect(&read, "temporal-redirect", 302, &mut diag)
        .or_else(|| redirect(&read, "permanent-redirect", 301, &mut diag));
    let app_root = read.get("app-root").and_then(|v| {
        if is_path(v.value) {
            Some(v.value.into())
        } else {
            let why = format!("\"{}\" is not a path starting with '/'; ignored", v.value);
            diag(Severity::Error, v, why);
            None
        }
    });
    let body_limit = read.get("proxy-body-size").and_then(|v| match parse_size(v.value) {
        Some(0) => Some(BodyLimit::Unlimited),
        Some(n) => Some(BodyLimit::Bytes(n)),
        None => {
            let why = format!("\"{}\" is not a size (bytes, or with k, m or g); ignored", v.value);
            diag(Severity::Error, v, why);
            None
        }
    });
    let mut header_value = |name: &str| {
        let v = read.get(name)?;
        if is_header_value(v.value) {
            Some(v.value.into())
        } else {
            let why =
                format!("\"{}\" is not a header value (visible ASCII, no space); ignored", v.value);
            diag(Severity::Error, v, why);
            None
        }
    };
    let upstream_vhost = header_value("upstream-vhost");
    let forwarded_prefix = header_value("x-forwarded-prefix");
    let source = source_ranges(&read, &mut diag);
    let mut seconds = |name: &str| {
        let v = read.get(name)?;
        match v.value.trim().parse::<u32>() {
            Ok(n) if n > 0 => Some(std::time::Duration::from_secs(n.into())),
            _ => {
                let why = format!("\"{}\" is not a whole number of seconds > 0; ignored", v.value);
                diag(Severity::Error, v, why);
                None
            }
        }
    };
    let timeouts = UpstreamTimeouts {
        connect: seconds("proxy-connect-timeout"),
        send: seconds("proxy-send-timeout"),
        read: seconds("proxy-read-timeout"),
    };
    let cors = (flag("enable-cors", &mut diag) == Some(true)).then(|| cors(&read, &mut diag));
    let next_upstream = next_upstream(&read, &mut diag);
    let policy = RoutePolicy {
        // Resolved by the rules' compiler, which has the Services.
        default_backend: None,
        custom_errors: Box::new([]),
        next_upstream,
        cors,
        timeouts,
        rewrite: None,
        source,
        redirect: fixed,
        app_root,
        host_redirect: None,
        body_limit,
        upstream_vhost,
        forwarded_prefix,
    };
    let rewrite_target = read.get("rewrite-target").and_then(|v| {
        if is_path(v.value) {
            Some(v.value.into())
        } else {
            let why = format!(
                "\"{}\" is not a path starting with '/' (redirecting rewrites are not supported); ignored",
                v.value
            );
            diag(Severity::Error, v, why);
            None
        }
    });
    let use_regex = regex_flag || rewrite_target.is_some();
    let policy = (!policy.is_empty()).then(|| Arc::new(policy));
    let default_backend = read.get("default-backend").and_then(|v| {
        let name = v.value.trim();
        let label = !name.is_empty()
            && name.len() <= 63
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if label {
            Some(name.into())
        } else {
            diag(Severity::Error, v, format!("\"{}\" is not a Service name; ignored", v.value));
            None
        }
    });
    let mut custom_errors = Vec::new();
    if let Some(v) = read.get("custom-http-errors") {
        for code in v.value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            match code.parse::<u16>() {
                Ok(c @ 400..=599) if !custom_errors.contains(&c) => custom_errors.push(c),
                Ok(400..=599) => {}
                _ => diag(
                    Severity::Error,
                    v,
                    format!("\"{code}\" is not a status from 400 to 599; left out"),
                ),
            }
        }
    }
    let mut aliases = Vec::new();
    if let Some(v) = read.get("server-alias") {
        for name in v.value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match super::host::parse_host(Some(name)) {
                Ok(
                    h @ (crate::table::HostMatch::Exact(_) | crate::table::HostMatch::Wildcard(_)),
                ) => {
                    if !aliases.contains(&h) {
                        aliases.push(h);
                    }
                }
                Ok(_) => diag(Severity::Error, v, "\"*\" is not a host name; left out".into()),
                Err(e) => diag(Severity::Error, v, format!("\"{name}\": {e}; left out")),
            }
        }
    }
    Compiled {
        https,
        from_to_www,
        use_regex,
        rewrite_target,
        policy,
        default_backend,
        custom_errors,
        service_upstream,
        aliases,
        ignored,
        invalid,
    }
}

/// The value of annotation `name` on `ingress`, `ringress.io/` first (for
/// readers outside the compile, such as the watch's interest).
pub(crate) fn value<'a>(ingress: &'a Ingress, name: &str) -> Option<&'a str> {
    let map = ingress.metadata.annotations.as_ref()?;
    map.get(&format!("{RINGRESS_PREFIX}{name}"))
        .or_else(|| map.get(&format!("{NGINX_PREFIX}{name}")))
        .map(String::as_str)
}

/// How many of the annotations read are not implemented.
fn count_ignored(read: &Annotations<'_>) -> u32 {
    read.values
        .iter()
        .filter(|(name, v)| match support(name) {
            Some(Support::Supported) => false,
            Some(_) => true,
            None => !(v.key.starts_with(RINGRESS_PREFIX) && RINGRESS_ONLY.contains(name)),
        })
        .count() as u32
}

/// The source-range annotations. `allowlist-source-range` is the newer
/// name of `whitelist-source-range` and wins when both are set. A list
/// with an entry that does not parse fails closed: it is an error and the
/// routes answer 403 to everyone, never opened to all by a typo.
fn source_ranges(
    read: &Annotations<'_>,
    diag: &mut dyn FnMut(Severity, Value<'_>, String),
) -> Option<SourceRanges> {
    let mut list = |v: Value<'_>| -> Option<Vec<IpNet>> {
        let mut nets = Vec::new();
        for entry in v.value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match IpNet::parse(entry) {
                Some(net) => nets.push(net),
                None => {
                    let why = format!(
                        "\"{entry}\" is not an IP address or CIDR; every client is refused (403) until it is fixed"
                    );
                    diag(Severity::Error, v, why);
                    return None;
                }
            }
        }
        if nets.is_empty() {
            diag(Severity::Error, v, "an empty list; every client is refused (403)".into());
            return None;
        }
        Some(nets)
    };
    let allow = read.get("allowlist-source-range").or_else(|| read.get("whitelist-source-range"));
    let deny = read.get("denylist-source-range");
    if allow.is_none() && deny.is_none() {
        return None;
    }
    let mut ranges = SourceRanges::default();
    if let Some(v) = allow {
        ranges.allow = Some(list(v).unwrap_or_default());
    }
    if let Some(v) = deny {
        match list(v) {
            Some(nets) => ranges.deny = nets,
            None => ranges.deny_all = true,
        }
    }
    Some(ranges)
}

/// `proxy-next-upstream` (space-separated: `error`, `timeout`,
/// `http_502`, `http_503`, `http_504`, `off`), `-tries` and `-timeout`
/// (seconds); any of them makes the policy, the others at ingress-nginx's
/// defaults. nginx's other conditions (`invalid_header`, `http_500`,
/// `http_403`, `http_404`, `http_429`, `non_idempotent`) are errors.
fn next_upstream(
    read: &Annotations<'_>,
    diag: &mut dyn FnMut(Severity, Value<'_>, String),
) -> Option<NextUpstream> {
    let (list, tries, within) = (
        read.get("proxy-next-upstream"),
        read.get("proxy-next-upstream-tries"),
        read.get("proxy-next-upstream-timeout"),
    );
    if list.is_none() && tries.is_none() && within.is_none() {
        return None;
    }
    let mut nu = NextUpstream::DEFAULT;
    if let Some(v) = list {
        let mut parsed = NextUpstream { error: false, timeout: false, statuses: 0, ..nu };
        let mut ok = true;
        for word in v.value.split_whitespace() {
            match word {
                "error" => parsed.error = true,
                "timeout" => parsed.timeout = true,
                "http_502" => parsed.statuses |= 1,
                "http_503" => parsed.statuses |= 2,
                "http_504" => parsed.statuses |= 4,
                "off" => {}
                other => {
                    let why = format!(
                        "\"{other}\" is not one of error, timeout, http_502, http_503, http_504, off; \"error timeout\" is used"
                    );
                    diag(Severity::Error, v, why);
                    ok = false;
                    break;
                }
            }
        }
        if v.value.split_whitespace().next().is_none() {
            diag(Severity::Error, v, "empty; \"error timeout\" is used".into());
            ok = false;
        }
        if ok {
            if v.value.split_whitespace().any(|w| w == "off") {
                parsed = NextUpstream { error: false, timeout: false, statuses: 0, ..parsed };
            }
            nu = parsed;
        }
    }
    if let Some(v) = tries {
        match v.value.trim().parse::<u32>() {
            Ok(n) => nu.tries = n,
            Err(_) => {
                let why = format!("\"{}\" is not a whole number; 3 is used", v.value);
                diag(Severity::Error, v, why);
            }
        }
    }
    if let Some(v) = within {
        match v.value.trim().parse::<u32>() {
            Ok(0) => nu.within = None,
            Ok(n) => nu.within = Some(std::time::Duration::from_secs(n.into())),
            Err(_) => {
                let why =
                    format!("\"{}\" is not a whole number of seconds; no limit is used", v.value);
                diag(Severity::Error, v, why);
            }
        }
    }
    Some(nu)
}

/// ingress-nginx's defaults for the `cors-*` annotations.
pub(crate) const CORS_METHODS: &str = "GET, PUT, POST, DELETE, PATCH, OPTIONS";
pub(crate) const CORS_HEADERS: &str =
    "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization";
pub(crate) const CORS_MAX_AGE: u32 = 1_728_000;

/// `enable-cors: "true"` and the `cors-*` annotations, as ingress-nginx
/// reads them: a value that does not parse is an error and its default
/// is used; an origin that does not parse is left out (an error), and a
/// list with no origin left allows none.
fn cors(read: &Annotations<'_>, diag: &mut dyn FnMut(Severity, Value<'_>, String)) -> Cors {
    let origins = match read.get("cors-allow-origin") {
        None => None,
        Some(v) => {
            let mut list = Vec::new();
            let mut any = false;
            for entry in v.value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                if entry == "*" {
                    any = true;
                    break;
                }
                match OriginPattern::parse(entry) {
                    Some(p) => list.push(p),
                    None => {
                        let why = format!(
                            "\"{entry}\" is not an origin (scheme://host[:port], or scheme://*.host[:port]); left out"
                        );
                        diag(Severity::Error, v, why);
                    }
                }
            }
            (!any).then_some(list)
        }
    };
    // A comma-separated list of tokens (`*` too, where `star`).
    let tokens = |v: &str, star: bool| {
        let mut n = 0;
        let ok = v.split(',').map(str::trim).all(|t| {
            n += 1;
            (star && t == "*")
                || (!t.is_empty()
                    && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        });
        ok && n > 0
    };
    let mut list = |name: &str, default: &'static str, star: bool, letters: bool| {
        let Some(v) = read.get(name) else { return default.to_string() };
        let valid = tokens(v.value, star)
            && (!letters
                || v.value.split(',').all(|t| t.trim().bytes().all(|b| b.is_ascii_alphabetic())));
        if valid {
            v.value.trim().to_string()
        } else {
            let shown = if default.is_empty() { "none" } else { default };
            diag(
                Severity::Error,
                v,
                format!("\"{}\" is not a comma-separated list; {shown} is used", v.value),
            );
            default.to_string()
        }
    };
    let methods = list("cors-allow-methods", CORS_METHODS, false, true);
    let headers = list("cors-allow-headers", CORS_HEADERS, true, false);
    let expose = list("cors-expose-headers", "", true, false);
    let credentials = match read.get("cors-allow-credentials") {
        None => true,
        Some(v) => parse_bool(v.value).unwrap_or_else(|| {
            diag(Severity::Error, v, format!("\"{}\" is not a boolean; true is used", v.value));
            true
        }),
    };
    let max_age = match read.get("cors-max-age") {
        None => CORS_MAX_AGE,
        Some(v) => v.value.trim().parse::<u32>().unwrap_or_else(|_| {
            let why =
                format!("\"{}\" is not a whole number of seconds; {CORS_MAX_AGE} is used", v.value);
            diag(Severity::Error, v, why);
            CORS_MAX_AGE
        }),
    };
    let mut lines = Vec::new();
    let mut line = |name: &str, value: &str| {
        lines.extend_from_slice(name.as_bytes());
        lines.extend_from_slice(b": ");
        lines.extend_from_slice(value.as_bytes());
        lines.extend_from_slice(b"\r\n");
    };
    if credentials {
        line("Access-Control-Allow-Credentials", "true");
    }
    line("Access-Control-Allow-Methods", &methods);
    line("Access-Control-Allow-Headers", &headers);
    if !expose.is_empty() {
        line("Access-Control-Expose-Headers", &expose);
    }
    line("Access-Control-Max-Age", &max_age.to_string());
    Cors { origins, lines: lines.into() }
}

/// `NAME` (a URL) with `NAME-code` (default `default`).
fn redirect(
    read: &Annotations<'_>,
    name: &str,
    default: u16,
    diag: &mut dyn FnMut(Severity, Value<'_>, String),
) -> Option<Redirect> {
    let v = read.get(name)?;
    if !is_location(v.value) {
        let why = format!("\"{}\" is not an absolute URL or path for Location; ignored", v.value);
        diag(Severity::Error, v, why);
        return None;
    }
    let code = match read.get(&format!("{name}-code")) {
        None => default,
        Some(c) => match c.value.trim().parse::<u16>() {
            Ok(code @ (300..=303 | 307 | 308)) => code,
            _ => {
                let why = format!(
                    "\"{}\" is not one of 300, 301, 302, 303, 307, 308; {default} is used",
                    c.value
                );
                diag(Severity::Error, c, why);
                default
            }
        },
    };
    Some(Redirect { code, location: v.value.into() })
}

/// A `Location` value that is safe to write as is: an `http(s)://` URL or
/// an absolute path, visible ASCII only (no space, no control character).
fn is_location(v: &str) -> bool {
    let visible = !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic());
    let lower = v.as_bytes();
    let scheme = lower.len() > 8
        && (lower[..7].eq_ignore_ascii_case(b"http://")
            || lower[..8].eq_ignore_ascii_case(b"https://"));
    visible && (scheme || v.starts_with('/'))
}

/// A value written as a header line as is: visible ASCII, no space.
fn is_header_value(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic())
}

/// An absolute path, visible ASCII only.
fn is_path(v: &str) -> bool {
    v.starts_with('/') && v.bytes().all(|b| b.is_ascii_graphic())
}

/// An nginx size: bytes, or a number with `k`, `m` or `g` (either case).
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (digits, unit) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1 << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// Go's `strconv.ParseBool`, as ingress-nginx reads its annotations.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_are_unique_and_sorted_within_kind() {
        let mut names: Vec<&str> = CATALOG.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "an annotation is listed twice");
    }

    #[test]
    fn sizes_read_as_nginx_reads_them() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("8m"), Some(8 << 20));
        assert_eq!(parse_size("8M"), Some(8 << 20));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("m"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("1.5m"), None);
        assert_eq!(parse_size("99999999999999999999g"), None);
    }

    #[test]
    fn location_must_be_a_url_or_a_path() {
        assert!(is_location("https://www.google.com"));
        assert!(is_location("/elsewhere"));
        assert!(!is_location("www.google.com"));
        assert!(!is_location("https://a b"));
        assert!(!is_location("https://x\r\nSet-Cookie: a"));
    }
}
