//! The contract between control plane and data plane: one immutable
//! [`RouteTable`], built by the compiler, published with arc-swap, read by
//! every worker. Proxy nouns only (VirtualHost, Route, Backend, Endpoint,
//! Certificate); no Kubernetes types leak into it.
//!
//! CONTRACT (used by the data plane, the TLS layer and the Kubernetes
//! provider; keep these names and signatures stable):
//!
//! - `RouteTable::empty() -> RouteTable` (generation 0, routes nothing)
//! - `RouteTable::generation(&self) -> u64`
//! - `RouteTable::route(&self, host: &str, path: &str) -> Option<&Route>`
//!   `host` is the raw Host header value (any case, may carry `:port`, may be
//!   an IP literal or `[v6]:port`); `path` is the raw request target path and
//!   may carry `?query`, which never takes part. `None` means 404. The
//!   `defaultBackend` is returned as a `Route` too (with `is_default == true`).
//!   No allocation, no scan over all rules.
//! - `RouteTable::certificate(&self, sni: &str) -> Option<&Arc<Certificate>>`
//!   exact name, then wildcard; `None` means "use the default certificate".
//! - `RouteTable::default_certificate(&self) -> Option<&Arc<Certificate>>`
//!   from `--default-certificate NAMESPACE/NAME` when given and valid.
//! - `RouteTable::backends(&self) -> impl Iterator<Item = &Arc<Backend>>`
//! - `Route { path, path_type, backend: Arc<Backend>, redirect_to_https, is_default, policy, .. }`
//!   `policy: Option<Arc<RoutePolicy>>`: `None` for a route without annotations.
//! - `Backend { key: BackendKey, endpoints: Arc<[Endpoint]> }` — an empty
//!   endpoint list means 503.
//! - `Endpoint { addr: SocketAddr }`
//! - `Certificate { key: Arc<rustls::sign::CertifiedKey>, fingerprint, names, source }`
//!
//! # Layout
//!
//! - `types`: the plain data (Route, Backend, Endpoint, Certificate).
//! - `policy`: [`RoutePolicy`], what annotations make of a route.
//! - `route_table`: [`RouteTable`], [`VirtualHost`] and the lookups.
//! - `host`: request host normalisation (case, port, stack buffer).
//! - `path`: per-host path index (exact map + element trie) and the
//!   precedence order `MatchRank`.

mod host;
mod path;
mod policy;
mod route_table;
mod types;

pub(crate) use path::{prefix_key, FastMap};
pub use policy::{
    redirect_reason, BodyLimit, Cors, CorsAnswer, ErrorBackend, IpNet, NextUpstream, OriginPattern,
    Redirect, Rewrite, RoutePolicy, SourceRanges, UpstreamTimeouts,
};
pub(crate) use route_table::{Fallback, FallbackLevel};
pub use route_table::{HostMatch, RouteTable, VirtualHost};
pub use types::*;
