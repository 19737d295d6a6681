//! Request smuggling defences end to end: each ambiguous request gets 400,
//! the connection closes, and nothing reaches the upstream.

use std::sync::atomic::Ordering;

use crate::support::*;
use ringress::worker::IoEngine;

const CASES: &[(&str, &str)] = &[
    (
        "content-length and transfer-encoding",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "differing content-length values",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ),
    (
        "transfer-encoding other than final chunked",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxx",
    ),
    (
        "chunked not last",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    ),
    ("bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    ("bare LF line endings", "GET / HTTP/1.1\nHost: x\n\n"),
    ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n"),
    ("invalid byte in a header name", "GET / HTTP/1.1\r\nHost: x\r\nX A: a\r\n\r\n"),
    ("invalid byte in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n"),
    ("space before colon", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello"),
    ("missing host", "GET / HTTP/1.1\r\n\r\n"),
];

/// Each smuggling case: 400, then the proxy closes the connection.
fn ambiguous_requests_are_refused(engine: IoEngine) {
    let up = Upstream::start("web");
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[up.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start();
    for (name, request) in CASES {
        let mut c = proxy.client();
        c.send(request.as_bytes());
        let r = c.try_response(false).unwrap_or_else(|| panic!("{name}: no response"));
        assert_eq!(r.status, 400, "{name}");
        assert!(c.closed(), "{name}: connection left open");
    }
    assert_eq!(up.requests.load(Ordering::SeqCst), 0, "a refused request reached the upstream");
}

engines!(ambiguous_requests_are_refused);
