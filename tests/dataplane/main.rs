//! Data-plane integration tests: a real proxy, real upstream servers and a
//! raw client on loopback, every scenario under io_uring and epoll.

mod support;

mod admin;
mod alloc;
mod bodies;
mod errors;
mod keepalive;
mod lifecycle;
mod routing;
mod smuggling;
mod websocket;
