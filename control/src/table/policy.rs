//! Per-route policy compiled from annotations (docs/annotations.md). A
//! route without annotations carries `None` and pays nothing for it on
//! the request path.

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
