//! Per-route policy compiled from annotations (docs/annotations.md). A
//! route without annotations carries `None` and pays nothing for it on
//! the request path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// What an Ingress's annotations make of each of its routes. Shared (one
/// `Arc`) by every route the Ingress produces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePolicy {
    /// `permanent-redirect` / `temporal-redirect`: answer every request
    /// with this redirect, no upstream contacted.
    pub redirect: Option<Redirect>,
    /// `app-root`: a request for exactly `/` is answered with a 302 to
    /// this path on the same scheme and authority.
    pub app_root: Option<Box<str>>,
    /// `from-to-www-redirect`, on the host the annotation did not name:
    /// every request gets a 308 to the same scheme, port and target on
    /// this host (`www.` added or removed).
    pub host_redirect: Option<Box<str>>,
    /// `proxy-body-size`: replaces `--max-body-size` for these routes.
    pub body_limit: Option<BodyLimit>,
    /// `upstream-vhost`: the `Host` sent upstream.
    pub upstream_vhost: Option<Box<str>>,
    /// `x-forwarded-prefix`: the `X-Forwarded-Prefix` sent upstream.
    pub forwarded_prefix: Option<Box<str>>,
    /// `allowlist-source-range` / `whitelist-source-range` and
    /// `denylist-source-range`: which client addresses may use the routes
    /// (others get 403).
    pub source: Option<SourceRanges>,
    /// `proxy-connect-timeout`, `proxy-send-timeout`,
    /// `proxy-read-timeout`: each replaces its controller-wide flag.
    pub timeouts: UpstreamTimeouts,
    /// `rewrite-target` on a route matched as a regex: the upstream path.
    /// Per route (it holds the route's own pattern).
    pub rewrite: Option<Rewrite>,
    /// `enable-cors` and the `cors-*` annotations.
    pub cors: Option<Cors>,
    /// `default-backend` (or, for `custom-http-errors` alone,
    /// `--default-backend-service`): answers when the route's backend has
    /// no endpoint, and serves the `custom_errors` pages.
    pub default_backend: Option<ErrorBackend>,
    /// `custom-http-errors`: upstream statuses replaced by the default
    /// backend's answer (empty: none).
    pub custom_errors: Box<[u16]>,
    /// `proxy-next-upstream`, `-tries`, `-timeout`: which failures move a
    /// request to another endpoint (`None`: the proxy's own rule, one
    /// more endpoint after a failed connect).
    pub next_upstream: Option<NextUpstream>,
}

/// The default backend of a policy, compared by identity (a table's
/// backends are shared, one per key).
#[derive(Debug, Clone)]
pub struct ErrorBackend(pub std::sync::Arc<super::Backend>);

impl PartialEq for ErrorBackend {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ErrorBackend {}

/// `proxy-next-upstream` and its companions, as nginx's
/// `proxy_next_upstream`: a failed attempt moves to an endpoint not tried
/// yet while nothing went downstream, the request can be sent again
/// whole, and (once it was sent) its method is idempotent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextUpstream {
    /// `error`: connecting failed, or sending the request or reading the
    /// response head did.
    pub error: bool,
    /// `timeout`: connecting, sending or waiting for the head timed out.
    pub timeout: bool,
    /// `http_502`, `http_503`, `http_504` (bits 1, 2, 4): such a status.
    pub statuses: u8,
    /// `proxy-next-upstream-tries`: attempts in all, 0 = as many as there
    /// are endpoints.
    pub tries: u32,
    /// `proxy-next-upstream-timeout`: no new attempt after this long since
    /// the request head arrived (`None`: no limit).
    pub within: Option<Duration>,
}

impl NextUpstream {
    /// ingress-nginx's defaults: `error timeout`, 3 tries, no time limit.
    pub const DEFAULT: NextUpstream =
        NextUpstream { error: true, timeout: true, statuses: 0, tries: 3, within: None };

    /// The bit of `status` in [`NextUpstream::statuses`] (0: none).
    pub fn status_bit(status: u16) -> u8 {
        match status {
            502 => 1,
            503 => 2,
            504 => 4,
            _ => 0,
        }
    }
}

/// `enable-cors`: which origins get the CORS response headers, and the
/// headers after `Access-Control-Allow-Origin`, rendered once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// `None`: `cors-allow-origin: *` — every request, with or without an
    /// `Origin`, is answered `Access-Control-Allow-Origin: *`. `Some`: an
    /// `Origin` that matches one of these is echoed (with `Vary: Origin`);
    /// any other request gets no CORS headers and no preflight answer.
    pub origins: Option<Vec<OriginPattern>>,
    /// `Access-Control-Allow-Credentials`, `-Allow-Methods`,
    /// `-Allow-Headers`, `-Expose-Headers` (when set) and `-Max-Age`
    /// header lines, each ending in CRLF (values checked at compile time).
    pub lines: Box<[u8]>,
}

/// What a request's `Origin` makes of a route's CORS policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorsAnswer<'a> {
    /// `Access-Control-Allow-Origin: *`.
    Any,
    /// `Access-Control-Allow-Origin: <the request's Origin>`.
    Echo(&'a [u8]),
}

impl Cors {
    /// The answer for a request whose `Origin` header is `origin`; `None`:
    /// no CORS headers (the origin is not allowed).
    pub fn answer<'a>(&self, origin: Option<&'a [u8]>) -> Option<CorsAnswer<'a>> {
        match &self.origins {
            None => Some(CorsAnswer::Any),
            Some(list) => {
                let origin = origin?;
                list.iter().any(|p| p.matches(origin)).then_some(CorsAnswer::Echo(origin))
            }
        }
    }

    /// Append the CORS header lines for `answer` to `out`.
    pub fn write(&self, answer: CorsAnswer<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"Access-Control-Allow-Origin: ");
        match answer {
            CorsAnswer::Any => out.extend_from_slice(b"*\r\n"),
            CorsAnswer::Echo(origin) => {
                out.extend_from_slice(origin);
                out.extend_from_slice(b"\r\nVary: Origin\r\n");
            }
        }
        out.extend_from_slice(&self.lines);
    }

    /// Whether `name` is a response header the CORS lines replace.
    pub fn replaces(name: &[u8]) -> bool {
        name.len() > 15 && name[..15].eq_ignore_ascii_case(b"access-control-")
    }
}

/// One entry of `cors-allow-origin`: `scheme://host[:port]`, compared
/// without regard to case; a `*.` before the host stands for exactly one
/// DNS label (`https://*.example.com` matches `https://api.example.com`,
/// neither `https://example.com` nor `https://a.b.example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    Exact(Box<str>),
    /// The text before and after the `*`.
    Label {
        before: Box<str>,
        after: Box<str>,
    },
}

impl OriginPattern {
    /// `scheme://host[:port]` or `scheme://*.host[:port]`; `None` for
    /// anything else (a path, a query, spaces, an empty host).
    pub fn parse(s: &str) -> Option<OriginPattern> {
        let (scheme, rest) = s.split_once("://")?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let port_ok = port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
        let (wild, name) = match host.strip_prefix("*.") {
            Some(n) => (true, n),
            None => (false, host),
        };
        let name_ok = !name.is_empty()
            && name.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !(scheme_ok && port_ok && name_ok) {
            return None;
        }
        let s = s.to_ascii_lowercase();
        Some(if wild {
            let star = s.find('*').expect("checked above");
            OriginPattern::Label { before: s[..star].into(), after: s[star + 1..].into() }
        } else {
            OriginPattern::Exact(s.into())
        })
    }

    /// Whether the request's `Origin` value matches.
    pub fn matches(&self, origin: &[u8]) -> bool {
        match self {
            OriginPattern::Exact(o) => origin.eq_ignore_ascii_case(o.as_bytes()),
            OriginPattern::Label { before, after } => {
                let (b, a) = (before.as_bytes(), after.as_bytes());
                origin.len() > b.len() + a.len()
                    && origin[..b.len()].eq_ignore_ascii_case(b)
                    && origin[origin.len() - a.len()..].eq_ignore_ascii_case(a)
                    && origin[b.len()..origin.len() - a.len()]
                        .iter()
                        .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            }
        }
    }
}

impl std::fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginPattern::Exact(o) => f.write_str(o),
            OriginPattern::Label { before, after } => write!(f, "{before}*{after}"),
        }
    }
}

/// `rewrite-target`: the route's pattern (case-insensitive, anchored at
/// the start) and the target, in which `$1` … `$9` are its capture groups.
#[derive(Debug, Clone)]
pub struct Rewrite {
    pub pattern: regex::Regex,
    pub target: Box<str>,
}

impl PartialEq for Rewrite {
    fn eq(&self, other: &Self) -> bool {
        self.pattern.as_str() == other.pattern.as_str() && self.target == other.target
    }
}

impl Eq for Rewrite {}

impl Rewrite {
    /// The pattern as the compiler builds it from a path: anchored at the
    /// start, case-insensitive, groups numbered as written.
    pub fn compile(path: &str) -> Result<regex::Regex, regex::Error> {
        regex::RegexBuilder::new(&anchored(path)).case_insensitive(true).build()
    }

    /// Append the upstream target for `path` (no query) to `out`: the
    /// target with `$N` replaced by group N of the match (empty when the
    /// group did not take part), then `query` (`?…`, may be empty),
    /// joined with `&` when the target has a query of its own. `false`
    /// when the pattern does not match `path`.
    pub fn expand(&self, path: &str, query: &str, out: &mut Vec<u8>) -> bool {
        let Some(caps) = self.pattern.captures(path) else { return false };
        let t = self.target.as_bytes();
        let mut i = 0;
        while i < t.len() {
            match (t[i], t.get(i + 1)) {
                (b'$', Some(d @ b'0'..=b'9')) => {
                    if let Some(m) = caps.get(usize::from(d - b'0')) {
                        out.extend_from_slice(m.as_str().as_bytes());
                    }
                    i += 2;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        if let Some(q) = query.strip_prefix('?') {
            out.push(if self.target.contains('?') { b'&' } else { b'?' });
            out.extend_from_slice(q.as_bytes());
        }
        true
    }
}

/// `path` as a pattern anchored at the start, its groups unchanged.
pub(crate) fn anchored(path: &str) -> String {
    format!("^(?:{path})")
}

/// Per-route upstream timeouts; `None`: the controller-wide flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpstreamTimeouts {
    /// Connecting to an endpoint (`--upstream-connect-timeout`).
    pub connect: Option<Duration>,
    /// Between two writes of the request to the upstream
    /// (`--upstream-body-timeout` while sending).
    pub send: Option<Duration>,
    /// Waiting for the response head, and between two reads of its body
    /// (`--upstream-response-timeout`, `--upstream-body-timeout`).
    pub read: Option<Duration>,
}

/// One network: an address with its prefix length, host bits zero;
/// IPv4-mapped IPv6 addresses are compared as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `a.b.c.d/n`, `x::y/n`, or a bare address (one host). Host bits are
    /// cleared, as Go's `net.ParseCIDR` does.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        Some(match addr.to_canonical() {
            IpAddr::V4(v4) => {
                let prefix = match (addr, prefix) {
                    (IpAddr::V6(_), Some(p)) => p.checked_sub(96)?,
                    (_, p) => p.unwrap_or(32),
                };
                if prefix > 32 {
                    return None;
                }
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpNet { addr: IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask)), prefix }
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.unwrap_or(128);
                if prefix > 128 {
                    return None;
                }
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpNet { addr: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)), prefix }
            }
        })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The source ranges of a route, as nginx's `deny` lines before its
/// `allow` lines and a final `deny all` when there is an allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRanges {
    /// `None`: every address not denied is allowed. `Some(empty)`: none
    /// (an allowlist that did not parse fails closed).
    pub allow: Option<Vec<IpNet>>,
    pub deny: Vec<IpNet>,
    /// A denylist that did not parse: every address is denied.
    pub deny_all: bool,
}

impl SourceRanges {
    /// Whether the client address `ip` may use the route.
    pub fn permits(&self, ip: IpAddr) -> bool {
        if self.deny_all || self.deny.iter().any(|n| n.contains(ip)) {
            return false;
        }
        self.allow.as_ref().is_none_or(|allow| allow.iter().any(|n| n.contains(ip)))
    }
}

/// The largest request body a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// `proxy-body-size: 0`.
    Unlimited,
    Bytes(u64),
}

impl RoutePolicy {
    /// Whether the policy changes anything (an empty one is not stored).
    pub fn is_empty(&self) -> bool {
        *self == RoutePolicy::default()
    }
}

/// A fixed redirect: `Location` exactly as written, the status given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// One of 300, 301, 302, 303, 307, 308.
    pub code: u16,
    pub location: Box<str>,
}

/// The reason phrase of a redirect status the policy may answer with.
pub fn redirect_reason(code: u16) -> &'static str {
    match code {
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        _ => "Redirect",
    }
}
