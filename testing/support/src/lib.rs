//! Everything the ringress test binaries share, in one dev-only crate (as
//! `testing/apiserver` is the API server they share):
//!
//! - [`fixtures`]: Kubernetes objects on the k8s-openapi types, and
//!   [`manifests`], the same objects as the YAML a manifests directory
//!   holds;
//! - [`engines!`]: every data-plane scenario once per io engine;
//! - [`proxy`]: a real proxy on port 0, and a raw HTTP/1.1 client;
//! - [`upstream`]: real upstream servers on loopback;
//! - [`dns`]: a real DNS server on loopback, for ExternalName Services;
//! - [`tls`]: test certificates, rustls clients and an echo worker;
//! - [`process`]: the `ringress` binary as a child process;
//! - [`kube`]: a Kubernetes provider run against the test API server;
//! - [`trickle`]: slow clients trickling at the admin and health listeners;
//! - [`alloc`]: a counting global allocator.
//!
//! Every wait is bounded by [`DEADLINE`].

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod alloc;
pub mod dns;
pub mod fixtures;
pub mod kube;
pub mod manifests;
pub mod process;
pub mod proxy;
pub mod tls;
pub mod trickle;
pub mod upstream;

use std::time::Duration;

pub use manifests::{annotated_ingress, ingress, service, yaml, CLASS};
pub use proxy::{compile_ok, Client, Proxy, ProxyBuilder, Response};
pub use upstream::{pattern_body, Upstream};

/// Upper bound for anything a test waits on (never reached when things
/// work).
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Run each scenario `fn(IoEngine)` as one test per io engine:
/// `NAME::io_uring` and `NAME::epoll`.
#[macro_export]
macro_rules! engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn io_uring() {
                    super::$name(ringress::worker::IoEngine::IoUring);
                }
                #[test]
                fn epoll() {
                    super::$name(ringress::worker::IoEngine::Epoll);
                }
            }
        )*
    };
}
