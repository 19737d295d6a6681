//! Data-plane integration tests: a real proxy, real upstream servers and a
//! raw client on loopback, every scenario under io_uring and epoll.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use ringress_test_support as support;
use ringress_test_support::alloc as counting_alloc;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

mod admin;
mod alloc;
mod annotations;
mod bodies;
mod errors;
mod external_name;
mod keepalive;
mod lifecycle;
mod limits;
mod paths;
mod retries;
mod routing;
mod smuggling;
mod trickle;
mod websocket;
