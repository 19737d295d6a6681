//! Unit tests of the codec, one file per concern, each test named after
//! the rule it checks.

mod chunked;
mod request;
mod rewrite;
