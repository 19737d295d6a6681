//! Timeouts and limits of the data plane, as the CLI sets them. Defaults
//! are the ones documented in `ringress run --help`.

use std::sync::Arc;
use std::time::Duration;

use crate::trust::TrustedProxies;
use crate::upstream::Balance;

/// Per-worker behaviour; cloned into every worker.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whole request head must arrive within this (else 408 or close).
    pub client_head_timeout: Duration,
    /// Longest pause between two reads of a request body.
    pub client_body_timeout: Duration,
    /// Longest wait for the next request on a kept-alive connection.
    pub keepalive_timeout: Duration,
    /// Requests per downstream connection; 0 means no limit.
    pub keepalive_requests: u32,
    pub upstream_connect_timeout: Duration,
    /// Wait for the upstream's response head after the request was sent.
    pub upstream_response_timeout: Duration,
    /// Longest pause between two reads of a response body.
    pub upstream_body_timeout: Duration,
    /// Pooled upstream connections older than this are closed.
    pub upstream_idle_timeout: Duration,
    /// Idle pooled connections kept per endpoint.
    pub upstream_max_idle: usize,
    /// How long an endpoint that refused a connection is skipped.
    pub endpoint_backoff: Duration,
    /// An upgraded connection (WebSocket) with no byte either way for this
    /// long is closed.
    pub tunnel_idle_timeout: Duration,
    /// After SIGTERM, how long in-flight requests may take to finish.
    pub drain_timeout: Duration,
    pub balance: Balance,
    /// Request head limits (bytes of head, header lines, request line).
    pub max_head_bytes: usize,
    pub max_headers: usize,
    pub max_request_line_bytes: usize,
    /// The HTTPS port clients use (`--public-https-port`; `run` fills in
    /// the HTTPS listener's port when unset): the port of redirects to
    /// https (omitted when 443) and `X-Forwarded-Port` on HTTPS.
    pub https_port: Option<u16>,
    /// The HTTP port clients use (`--public-http-port`), for
    /// `X-Forwarded-Port` on HTTP (`None`: the listener's own port).
    pub http_port: Option<u16>,
    /// Open downstream connections allowed for the whole process, split
    /// over the workers by [`connection_share`]; one over its worker's
    /// share is closed unread.
    pub max_connections: usize,
    /// Largest request body in bytes (`None`: no limit), as nginx's
    /// `client_max_body_size`. The default of every request; a route's own
    /// limit, when it has one, replaces it (see `Conn::body_limit`).
    pub max_body_size: Option<u64>,
    /// Protocols an `Upgrade` may name and be forwarded (lower case;
    /// `websocket` first, then `--allow-upgrade`), see `http::upgrade`.
    pub allowed_upgrades: Vec<String>,
    /// Peers believed about the client address (`--trusted-proxies`):
    /// their forwarding headers and PROXY headers. Each worker holds its
    /// own copy ([`Settings::for_worker`]).
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Every connection starts with a PROXY protocol header
    /// (`--proxy-protocol`), read before TLS and HTTP.
    pub proxy_protocol: bool,
}

/// Default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 65_536;

/// Default of `--max-body-size` (1 MiB, as ingress-nginx's `proxy-body-size`).
pub const DEFAULT_MAX_BODY_SIZE: u64 = 1024 * 1024;

/// Worker `index`'s share of `total` connections over `workers` workers:
/// an even split, the remainder going one each to the first workers.
pub fn connection_share(total: usize, workers: usize, index: usize) -> usize {
    let workers = workers.max(1);
    total / workers + usize::from(index < total % workers)
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            client_head_timeout: Duration::from_secs(10),
            client_body_timeout: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(60),
            keepalive_requests: 1000,
            upstream_connect_timeout: Duration::from_secs(5),
            upstream_response_timeout: Duration::from_secs(60),
            upstream_body_timeout: Duration::from_secs(60),
            upstream_idle_timeout: Duration::from_secs(60),
            upstream_max_idle: 64,
            endpoint_backoff: Duration::from_secs(5),
            tunnel_idle_timeout: Duration::from_secs(3600),
            drain_timeout: Duration::from_secs(30),
            balance: Balance::RoundRobin,
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            max_request_line_bytes: 8 * 1024,
            https_port: None,
            http_port: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_body_size: Some(DEFAULT_MAX_BODY_SIZE),
            allowed_upgrades: vec![crate::http::upgrade::WEBSOCKET.to_string()],
            trusted_proxies: Arc::new(TrustedProxies::NONE),
            proxy_protocol: false,
        }
    }
}

impl Settings {
    /// The settings a worker keeps: the trusted set copied into an `Arc`
    /// of the worker's own, so the reference count a connection from a
    /// trusted peer takes is never one another core writes.
    pub fn for_worker(mut self) -> Self {
        self.trusted_proxies = Arc::new(TrustedProxies::clone(&self.trusted_proxies));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shares add up to the total; the first workers take the remainder.
    #[test]
    fn connection_shares_split_evenly_remainder_first() {
        let shares: Vec<usize> = (0..4).map(|i| connection_share(10, 4, i)).collect();
        assert_eq!(shares, [3, 3, 2, 2]);
        assert_eq!((0..3).map(|i| connection_share(65_536, 3, i)).sum::<usize>(), 65_536);
        assert_eq!(connection_share(2, 1, 0), 2);
    }
}
