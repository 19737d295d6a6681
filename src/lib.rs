//! # ringress
//!
//! The data plane: thread-per-core workers on monoio (io_uring, epoll
//! fallback), HTTP/1.1 reverse proxying and TLS termination, plus the CLI.

pub mod error;
pub mod http;
pub mod tls;
