//! Data-plane integration tests: a real proxy, real upstream servers and a
//! raw client on loopback, every scenario under io_uring and epoll.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

#[path = "../counting_alloc/mod.rs"]
mod counting_alloc;

mod admin;
mod alloc;
mod bodies;
mod errors;
mod keepalive;
mod lifecycle;
mod limits;
mod paths;
mod retries;
mod routing;
mod smuggling;
mod trickle;
mod websocket;
