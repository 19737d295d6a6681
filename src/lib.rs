//! # ringress
//!
//! The data plane: thread-per-core workers on monoio (io_uring, epoll
//! fallback), HTTP/1.1 reverse proxying and TLS termination, plus the CLI.
//!
//! # Layout
//!
//! Start ringress in a program or a test with [`run`]: a plain
//! [`Config`], [`Listeners`] bound beforehand (port 0 works) and a
//! shutdown future.
//!
//! - [`serve`]: [`run`] put together: the control thread (tokio: the
//!   provider, the admin server) and the workers, until shutdown.
//! - [`config`]: what `run` is told, as plain data ([`Config`],
//!   [`Source`], [`KubeSettings`]).
//! - [`manifests`], `kubernetes`: the two sources, each checked (or
//!   connected) before serving, then followed until shutdown.
//! - [`cli`]: the command line (`run`, `check`, `demo`) and its flags
//!   turned into a [`Config`].
//! - [`demo`]: `ringress demo`, the examples with bundled upstreams, run
//!   through [`run`].
//! - [`worker`]: one thread per core, each a monoio runtime (io_uring or
//!   epoll), its accept loops, housekeeping and drain.
//! - [`listen`]: `SO_REUSEPORT` listening sockets, bound before `run`
//!   ([`Listeners`]) and joined by one socket per worker.
//! - `local`: the state one worker's tasks share (settings, counters,
//!   pool, balancer, drain, table cache), below `worker` and `conn`.
//! - `buffers`: each worker's pool of request buffers, taken when bytes
//!   arrive and given back when a connection goes idle.
//! - `recycle`: recycled allocations for a request's futures, so idle
//!   connections stay small.
//! - `conn`: a downstream connection and the phases of a request:
//!   `read_head`, `route`, `pick_endpoint`, `forward`, `relay_response`.
//! - [`http`]: the HTTP/1.1 codec (heads into offsets, framing, chunked
//!   validation, head rewriting, the proxy's own responses).
//! - `error`: the one error type, its source, status and label.
//! - `upstream`: per-worker connection pool, endpoint choice, connect.
//! - [`proxy_protocol`]: the PROXY protocol header (v1, v2) a load
//!   balancer sends first, parsed without allocating.
//! - [`trust`]: `--trusted-proxies`, and the client address a request's
//!   `X-Forwarded-For` gives when its peer is trusted.
//! - [`tls`]: TLS termination (certificates by SNI from the table).
//! - `stream`: what a downstream stream (TCP, TLS) must offer, and its
//!   promise about cancelled operations.
//! - [`metrics`]: per-worker padded counters, summed for `/metrics`.
//! - [`admin`]: `/healthz`, `/readyz`, `/routes`, `/metrics`.

// `unsafe` only where a module says why it needs it (the `allow`s below),
// and every block with a `// SAFETY:` comment a reviewer can check.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod admin;
pub(crate) mod buffers;
pub mod cli;
pub mod config;
pub(crate) mod conn;
pub mod demo;
pub(crate) mod error;
pub mod http;
pub(crate) mod kubernetes;
pub mod listen;
pub(crate) mod local;
pub mod manifests;
pub mod metrics;
pub mod proxy_protocol;
#[allow(unsafe_code)] // a recycled block holds a future in place (raw allocation)
pub(crate) mod recycle;
pub mod serve;
pub(crate) mod stream;
pub mod tls;
pub mod trust;
pub(crate) mod upstream;
pub mod worker;

pub use config::{Config, KubeSettings, Source};
pub use listen::{BindError, ListenAddrs, Listeners};
pub use serve::{run, RunError};
