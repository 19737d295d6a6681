//! A request head trickling in a byte per segment is served (its cost is
//! linear: `http::tests::scan::trickled_head_costs_linear_work` counts it).

use std::io::Write;

use crate::support::*;
use ringress::worker::IoEngine;

/// A 48 KiB head written one byte per write (one TCP segment each, no
/// delay) is parsed once complete and proxied; the connection then serves
/// the next request.
fn head_trickled_byte_by_byte_is_served(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[up.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start();
    let mut head = b"GET /trickle HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..98 {
        head.extend_from_slice(format!("X-Pad-{i:02}: {}\r\n", "a".repeat(490)).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    assert!(head.len() > 48 * 1024, "{}", head.len());
    let mut c = proxy.client();
    for byte in &head {
        c.w.write_all(std::slice::from_ref(byte)).unwrap();
    }
    let r = c.response(false);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-seen-path"), Some("/trickle"));
    assert_eq!(c.get("x", "/", "").text(), "web\n");
}

engines!(head_trickled_byte_by_byte_is_served);
