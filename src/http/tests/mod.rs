//! Unit tests of the codec, one file per concern, each test named after
//! the rule it checks.

mod chunked;
mod fuzz;
mod normalize;
mod request;
mod response;
mod rewrite;
mod scan;
mod status;
mod upgrade;
