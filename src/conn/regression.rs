//! A deliberate extra cost on every request, compiled only with the
//! test-only feature `instruction-gate-regression`:
//! `benches/instructions.sh --selftest` builds with it and checks that the
//! instruction gate fails, so the gate is shown able to catch a
//! regression. Never part of a shipped build.

use std::collections::HashMap;

use crate::http::RequestHead;

/// What a careless change might add to the request path: every header
/// copied into an owned, lower-cased, hashed map (a few allocations and a
/// SipHash per header), then thrown away.
pub(super) fn copy_headers(head: &RequestHead, buf: &[u8]) {
    let mut map: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for h in head.headers() {
        map.insert(h.name.get(buf).to_ascii_lowercase(), h.value.get(buf).to_vec());
    }
    std::hint::black_box(&map);
}
