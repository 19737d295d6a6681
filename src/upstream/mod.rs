//! Upstream side of a worker: its own keep-alive connection [`pool`], its
//! endpoint choice ([`balance`]) and [`connect`] with a deadline. All of it
//! is worker-local (`Rc`/`Cell`), keyed by endpoint address so that it
//! survives route-table swaps.

pub mod balance;
pub mod connect;
pub mod pool;

pub use balance::{Balance, Balancer};
pub use connect::connect;
pub use pool::Pool;
