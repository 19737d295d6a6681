//! Paths are normalised before routing, and the normalised path is what
//! the upstream receives: a rule cannot be walked around with dot segments
//! or encoded dots.

use crate::support::*;
use ringress::worker::IoEngine;

/// With `/public` → A and `/admin` → B.
fn public_and_admin(engine: IoEngine) -> (Proxy, Upstream, Upstream) {
    let (a, b) = (Upstream::start("public"), Upstream::start("admin"));
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("a", &[a.addr]),
            service("b", &[b.addr]),
            ingress("i", None, &[("/public", "Prefix", "a"), ("/admin", "Prefix", "b")]),
        ]))
        .start();
    (proxy, a, b)
}

/// Neither `/public/../admin` nor `/public/%2e%2e/admin` (any case, any
/// mix) reaches A: they are `/admin`, routed to B, and B sees `/admin`.
fn dot_segments_cannot_walk_out_of_a_prefix(engine: IoEngine) {
    let (proxy, _a, _b) = public_and_admin(engine);
    let mut c = proxy.client();
    for (path, seen) in [
        ("/public/../admin", "/admin"),
        ("/public/%2e%2e/admin", "/admin"),
        ("/public/%2E%2E/admin/x", "/admin/x"),
        ("/public/.%2e/admin?next=/public/../x", "/admin?next=/public/../x"),
        ("/public/./../admin/./y/", "/admin/y/"),
        ("/%61dmin", "/admin"),
    ] {
        let r = c.get("x", path, "");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.text(), "admin\n", "{path} reached the wrong backend");
        assert_eq!(r.header("x-seen-path"), Some(seen), "{path}");
    }
}

/// Encoded `/` and `\` are not separators: `..%2F` is part of a segment
/// under `/public`, forwarded as sent; other paths are normalised too.
fn encoded_separators_stay_inside_their_segment(engine: IoEngine) {
    let (proxy, _a, _b) = public_and_admin(engine);
    let mut c = proxy.client();
    for (path, seen) in [
        ("/public/..%2Fadmin", "/public/..%2Fadmin"),
        ("/public/..%5cadmin", "/public/..%5Cadmin"),
        ("/public/x/../y", "/public/y"),
        ("/public/%7euser", "/public/~user"),
    ] {
        let r = c.get("x", path, "");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.text(), "public\n", "{path}");
        assert_eq!(r.header("x-seen-path"), Some(seen), "{path}");
    }
}

/// A path that climbs above the root, or a malformed escape, is 400 and
/// reaches no upstream.
fn climbing_above_the_root_is_400(engine: IoEngine) {
    let (proxy, a, b) = public_and_admin(engine);
    for path in ["/../admin", "/public/../../admin", "/%2e%2e/public", "/public/%zz"] {
        let mut c = proxy.client();
        let r = c.get("x", path, "");
        assert_eq!(r.status, 400, "{path}");
        assert!(c.closed(), "{path}");
    }
    let requests = |u: &Upstream| u.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!((requests(&a), requests(&b)), (0, 0));
    let m = proxy.metrics_text();
    assert!(m.contains("source=\"downstream\",status=\"400\"} 4"), "{m}");
}

engines!(
    dot_segments_cannot_walk_out_of_a_prefix,
    encoded_separators_stay_inside_their_segment,
    climbing_above_the_root_is_400
);
