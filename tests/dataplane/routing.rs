//! Routing by host and path, forwarding headers, endpoint choice.

use std::collections::HashSet;

use crate::support::*;
use ringress::worker::IoEngine;

/// Requests go to the Service of the rule whose host and longest path
/// prefix match; a different host gets 404.
fn routes_by_host_and_path(engine: IoEngine) {
    let (web, api) = (Upstream::start("web"), Upstream::start("api"));
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[web.addr]),
            service("api", &[api.addr]),
            ingress(
                "shop",
                Some("shop.example"),
                &[("/", "Prefix", "web"), ("/api", "Prefix", "api")],
            ),
        ]))
        .start();
    let mut c = proxy.client();
    assert_eq!(c.get("shop.example", "/", "").text(), "web\n");
    assert_eq!(c.get("shop.example", "/api/v1?x=1", "").text(), "api\n");
    assert_eq!(c.get("SHOP.example:80", "/apis", "").text(), "web\n");
    let r = c.get("other.example", "/api", "");
    assert_eq!(r.status, 404);
}

/// The upstream sees the client's request target, Host unchanged, and the
/// X-Forwarded-* and X-Real-IP headers; the response carries Date and
/// Server.
fn sets_forwarding_headers(engine: IoEngine) {
    let web = Upstream::start("web");
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[web.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start();
    let mut c = proxy.client();
    let r = c.get("a.example:8080", "/p?q=1", "X-Forwarded-For: 10.9.9.9\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-seen-path"), Some("/p?q=1"));
    assert_eq!(r.header("x-seen-host"), Some("a.example:8080"));
    assert_eq!(r.header("x-seen-x-forwarded-for"), Some("10.9.9.9, 127.0.0.1"));
    assert_eq!(r.header("x-seen-x-forwarded-proto"), Some("http"));
    assert_eq!(r.header("x-seen-x-forwarded-host"), Some("a.example:8080"));
    assert_eq!(r.header("x-seen-x-forwarded-port"), Some(proxy.addr.port().to_string().as_str()));
    assert_eq!(r.header("x-seen-x-real-ip"), Some("127.0.0.1"));
    assert!(r.header("date").is_some());
    assert_eq!(r.header("server"), Some("ringress"));
}

/// Endpoint choice is per request: one client connection reaches every
/// endpoint of the backend.
fn chooses_endpoint_per_request(engine: IoEngine) {
    let ups: Vec<Upstream> = (0..3).map(|i| Upstream::start(&format!("e{i}"))).collect();
    let addrs: Vec<_> = ups.iter().map(|u| u.addr).collect();
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[service("web", &addrs), ingress("i", None, &[("/", "Prefix", "web")])]))
        .start();
    let mut c = proxy.client();
    let seen: HashSet<String> = (0..6).map(|_| c.get("x", "/", "").text()).collect();
    assert_eq!(seen.len(), 3, "{seen:?}");
}

engines!(routes_by_host_and_path, sets_forwarding_headers, chooses_endpoint_per_request);
