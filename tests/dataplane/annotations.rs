//! ingress-nginx annotations through the data plane, after the examples
//! of the ingress-nginx documentation (docs/annotations.md).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::*;
use ringress::worker::IoEngine;

const NGINX: &str = "nginx.ingress.kubernetes.io/";

fn nginx(name: &str) -> String {
    format!("{NGINX}{name}")
}

/// A proxy serving Service `web` for every path of `host`, through one
/// Ingress with these annotations.
fn annotated(engine: IoEngine, web: &Upstream, host: &str, annotations: &[(&str, &str)]) -> Proxy {
    Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[web.addr]),
            annotated_ingress("i", Some(host), &[("/", "Prefix", "web")], annotations),
        ]))
        .start()
}

/// `permanent-redirect: https://www.google.com` "would redirect everything
/// to Google" with a 301, the URL as written, no upstream contacted; the
/// connection stays open for the next request.
fn permanent_redirect_answers_301_without_upstream(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("permanent-redirect");
    let proxy = annotated(engine, &web, "redirect.example", &[(&key, "https://www.google.com")]);
    let mut c = proxy.client();
    for path in ["/", "/some/path?q=1"] {
        let r = c.get("redirect.example", path, "");
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), Some("https://www.google.com"));
    }
    assert_eq!(web.requests.load(Ordering::SeqCst), 0);
}

/// `permanent-redirect-code: '308'` "would return your permanent-redirect
/// with a 308".
fn permanent_redirect_code_changes_the_status(engine: IoEngine) {
    let web = Upstream::start("web");
    let (url, code) = (nginx("permanent-redirect"), nginx("permanent-redirect-code"));
    let annotations = [(url.as_str(), "https://www.google.com"), (code.as_str(), "308")];
    let proxy = annotated(engine, &web, "redirect.example", &annotations);
    let r = proxy.client().get("redirect.example", "/", "");
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("https://www.google.com"));
}

/// `temporal-redirect` answers 302; `temporal-redirect-code` changes it;
/// with both redirects set the temporal one wins, as in ingress-nginx.
fn temporal_redirect_answers_302_and_wins_over_permanent(engine: IoEngine) {
    let web = Upstream::start("web");
    let (tr, pr) = (nginx("temporal-redirect"), nginx("permanent-redirect"));
    let annotations =
        [(tr.as_str(), "https://new.example/"), (pr.as_str(), "https://old.example/")];
    let proxy = annotated(engine, &web, "redirect.example", &annotations);
    let r = proxy.client().get("redirect.example", "/x", "");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("https://new.example/"));

    let code = nginx("temporal-redirect-code");
    let annotations = [(tr.as_str(), "https://new.example/"), (code.as_str(), "307")];
    let proxy = annotated(engine, &web, "redirect.example", &annotations);
    let r = proxy.client().get("redirect.example", "/x", "");
    assert_eq!(r.status, 307);
    assert_eq!(web.requests.load(Ordering::SeqCst), 0);
}

/// The `ringress.io/` spelling of an annotation wins over the
/// `nginx.ingress.kubernetes.io/` one.
fn ringress_prefix_wins(engine: IoEngine) {
    let web = Upstream::start("web");
    let ours = "ringress.io/permanent-redirect";
    let theirs = nginx("permanent-redirect");
    let annotations =
        [(ours, "https://ours.example/"), (theirs.as_str(), "https://theirs.example/")];
    let proxy = annotated(engine, &web, "redirect.example", &annotations);
    let r = proxy.client().get("redirect.example", "/", "");
    assert_eq!(r.header("location"), Some("https://ours.example/"));
}

/// The documentation's app-root example: `app-root: /app1` on
/// `approot.bar.com` answers `GET /` with `302` and
/// `Location: http://approot.bar.com/app1`; any other path is proxied.
fn app_root_redirects_only_the_root(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("app-root");
    let proxy = annotated(engine, &web, "approot.bar.com", &[(&key, "/app1")]);
    let mut c = proxy.client();
    let r = c.get("approot.bar.com", "/", "");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("http://approot.bar.com/app1"));
    let r = c.get("approot.bar.com", "/?a=1", "");
    assert_eq!(r.status, 302);
    let r = c.get("approot.bar.com", "/app1", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "web\n");
    assert_eq!(web.requests.load(Ordering::SeqCst), 1);
}

/// `from-to-www-redirect: "true"` on `www.foo.example`: `foo.example` is
/// answered with a 308 to `www.foo.example`, same scheme, port and target;
/// and the other way round on a host without `www.`.
fn from_to_www_redirects_the_twin_host(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("from-to-www-redirect");
    let proxy = annotated(engine, &web, "www.foo.example", &[(&key, "true")]);
    let mut c = proxy.client();
    let r = c.get("foo.example", "/path?q=1", "");
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("http://www.foo.example/path?q=1"));
    let r = c.get("FOO.example:8080", "/", "");
    assert_eq!(r.header("location"), Some("http://www.foo.example:8080/"));
    assert_eq!(c.get("www.foo.example", "/path", "").text(), "web\n");

    let proxy = annotated(engine, &web, "bar.example", &[(&key, "true")]);
    let r = proxy.client().get("www.bar.example", "/x", "");
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("http://bar.example/x"));
}

/// "If at some point a new Ingress is created with a host equal to one of
/// the options (like domain.com) the annotation will be omitted."
fn from_to_www_is_omitted_when_the_twin_is_defined(engine: IoEngine) {
    let (web, bare) = (Upstream::start("web"), Upstream::start("bare"));
    let key = nginx("from-to-www-redirect");
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[web.addr]),
            service("bare", &[bare.addr]),
            annotated_ingress(
                "www",
                Some("www.foo.example"),
                &[("/", "Prefix", "web")],
                &[(&key, "true")],
            ),
            ingress("bare", Some("foo.example"), &[("/", "Prefix", "bare")]),
        ]))
        .start();
    let r = proxy.client().get("foo.example", "/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "bare\n");
}

/// `proxy-body-size` replaces `--max-body-size` (here 1024) for the
/// Ingress's routes, through the same check: `8m` (the documentation's
/// example) lets a larger body through, `0` removes the limit, `1k` is 1024
/// bytes; a route without the annotation keeps the flag's limit.
fn proxy_body_size_replaces_the_global_limit(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("proxy-body-size");
    let host = |name: &str, size: Option<&str>| {
        let annotations: Vec<(&str, &str)> = size.map(|v| (key.as_str(), v)).into_iter().collect();
        annotated_ingress(
            name,
            Some(&format!("{name}.example")),
            &[("/", "Prefix", "web")],
            &annotations,
        )
    };
    let proxy = Proxy::builder(engine)
        .settings(|s| s.max_body_size = Some(1024))
        .manifests(yaml(&[
            service("web", &[web.addr]),
            host("big", Some("8m")),
            host("free", Some("0")),
            host("small", Some("1k")),
            host("plain", None),
        ]))
        .start();
    let post = |host: &str, n: usize| {
        let mut c = proxy.client();
        let mut request =
            format!("POST /up HTTP/1.1\r\nHost: {host}\r\nContent-Length: {n}\r\n\r\n")
                .into_bytes();
        request.extend_from_slice(&pattern_body(n));
        c.send(&request);
        c.response(false).status
    };
    assert_eq!(post("plain.example", 4096), 413);
    assert_eq!(post("small.example", 1025), 413);
    assert_eq!(post("big.example", 4096), 200);
    assert_eq!(post("free.example", 4096), 200);
    assert_eq!(post("small.example", 1024), 200);
}

/// `upstream-vhost` is the Host the upstream sees (nginx's
/// `proxy_set_header Host`); X-Forwarded-Host still names the client's.
fn upstream_vhost_sets_the_upstream_host(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("upstream-vhost");
    let proxy = annotated(engine, &web, "shop.example", &[(&key, "internal.myservice.com")]);
    let mut c = proxy.client();
    for _ in 0..2 {
        let r = c.get("shop.example", "/p", "");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-seen-host"), Some("internal.myservice.com"));
        assert_eq!(r.header("x-seen-x-forwarded-host"), Some("shop.example"));
    }
}

/// The documentation's `x-forwarded-prefix: "/path"` adds
/// `X-Forwarded-Prefix: /path` upstream, replacing any the client sent;
/// without the annotation the proxy adds none.
fn x_forwarded_prefix_is_sent_upstream(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("x-forwarded-prefix");
    let proxy = annotated(engine, &web, "shop.example", &[(&key, "/path")]);
    let r = proxy.client().get("shop.example", "/", "X-Forwarded-Prefix: /forged\r\n");
    assert_eq!(r.header("x-seen-x-forwarded-prefix"), Some("/path"));
    assert_eq!(r.header("x-seen-host"), Some("shop.example"));

    let proxy = annotated(engine, &web, "plain.example", &[]);
    let r = proxy.client().get("plain.example", "/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-seen-x-forwarded-prefix"), None);
}

/// The documentation's `whitelist-source-range: 10.0.0.0/24,172.10.0.1`:
/// a client outside (here 127.0.0.1) gets 403, whatever X-Forwarded-For it
/// claims; inside, it is proxied. `allowlist-source-range` is the same.
fn allowlist_refuses_clients_outside_with_403(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("whitelist-source-range");
    let proxy = annotated(engine, &web, "shop.example", &[(&key, "10.0.0.0/24,172.10.0.1")]);
    let mut c = proxy.client();
    assert_eq!(c.get("shop.example", "/", "").status, 403);
    // Not closed: the next request on the connection is answered too.
    assert_eq!(c.get("shop.example", "/", "X-Forwarded-For: 10.0.0.5\r\n").status, 403);
    assert_eq!(web.requests.load(Ordering::SeqCst), 0);

    let key = nginx("allowlist-source-range");
    let proxy = annotated(engine, &web, "shop.example", &[(&key, "10.0.0.0/24, 127.0.0.1")]);
    let r = proxy.client().get("shop.example", "/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "web\n");
}

/// `denylist-source-range` refuses the listed clients with 403.
fn denylist_refuses_listed_clients_with_403(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("denylist-source-range");
    let proxy = annotated(engine, &web, "shop.example", &[(&key, "127.0.0.0/8")]);
    assert_eq!(proxy.client().get("shop.example", "/", "").status, 403);
    let proxy = annotated(engine, &web, "shop.example", &[(&key, "10.0.0.0/8")]);
    assert_eq!(proxy.client().get("shop.example", "/", "").status, 200);
}

/// Behind a trusted proxy (`--trusted-proxies`), the ranges are checked
/// against the client address its X-Forwarded-For proves.
fn source_ranges_use_the_proven_client_address(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("whitelist-source-range");
    let proxy = Proxy::builder(engine)
        .settings(|s| s.trusted_proxies = std::sync::Arc::new("127.0.0.0/8".parse().unwrap()))
        .manifests(yaml(&[
            service("web", &[web.addr]),
            annotated_ingress(
                "i",
                Some("shop.example"),
                &[("/", "Prefix", "web")],
                &[(&key, "10.0.0.0/24")],
            ),
        ]))
        .start();
    let mut c = proxy.client();
    assert_eq!(c.get("shop.example", "/", "X-Forwarded-For: 10.0.0.5\r\n").status, 200);
    assert_eq!(c.get("shop.example", "/", "X-Forwarded-For: 10.0.1.5\r\n").status, 403);
    assert_eq!(c.get("shop.example", "/", "").status, 403);
}

/// `proxy-read-timeout: "1"` (seconds): an upstream that takes the
/// request and never answers gets the client a 504 after the route's
/// timeout, not the controller-wide one (60 s here, beyond the test's
/// deadline).
fn proxy_read_timeout_bounds_the_wait_for_a_response(engine: IoEngine) {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        // Hold the connection open without answering, until the proxy
        // gives up and closes it.
        let (mut s, _) = silent.accept().unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut sink);
    });
    let key = nginx("proxy-read-timeout");
    let proxy = Proxy::builder(engine)
        .settings(|s| s.upstream_response_timeout = std::time::Duration::from_secs(60))
        .manifests(yaml(&[
            service("slow", &[addr]),
            annotated_ingress(
                "i",
                Some("slow.example"),
                &[("/", "Prefix", "slow")],
                &[(&key, "1")],
            ),
        ]))
        .start();
    let r = proxy.client().get("slow.example", "/", "");
    assert_eq!(r.status, 504);
    holder.join().unwrap();
}

/// The documentation's rewrite example: `use-regex: "true"`,
/// `rewrite-target: /$2`, path `/something(/|$)(.*)`: `/something` and
/// `/something/` reach the upstream as `/`, `/something/new` as `/new`;
/// the query string is kept. Matching is case-insensitive.
fn rewrite_target_uses_capture_groups(engine: IoEngine) {
    let web = Upstream::start("web");
    let (regex, target) = (nginx("use-regex"), nginx("rewrite-target"));
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[web.addr]),
            annotated_ingress(
                "rewrite",
                Some("rewrite.bar.com"),
                &[("/something(/|$)(.*)", "ImplementationSpecific", "web")],
                &[(&regex, "true"), (&target, "/$2")],
            ),
        ]))
        .start();
    let mut c = proxy.client();
    for (sent, seen) in [
        ("/something", "/"),
        ("/something/", "/"),
        ("/something/new", "/new"),
        ("/SOMETHING/new?a=1&b=2", "/new?a=1&b=2"),
    ] {
        let r = c.get("rewrite.bar.com", sent, "");
        assert_eq!(r.status, 200, "{sent}");
        assert_eq!(r.header("x-seen-path"), Some(seen), "{sent}");
    }
    assert_eq!(c.get("rewrite.bar.com", "/other", "").status, 404);
}

/// Once one Ingress of a host uses regexes, every path of the host is a
/// case-insensitive regex anchored at the start, longest path first; an
/// Ingress without the annotation is matched that way too, unrewritten.
fn use_regex_is_host_wide_longest_first(engine: IoEngine) {
    let (web, api) = (Upstream::start("web"), Upstream::start("api"));
    let regex = nginx("use-regex");
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[web.addr]),
            service("api", &[api.addr]),
            annotated_ingress(
                "regex",
                Some("shop.example"),
                &[("/foo", "ImplementationSpecific", "web")],
                &[(&regex, "true")],
            ),
            ingress("plain", Some("shop.example"), &[("/foo/bar.+", "Prefix", "api")]),
        ]))
        .start();
    let mut c = proxy.client();
    let r = c.get("shop.example", "/FOO/barista?x=1", "");
    assert_eq!(r.text(), "api\n");
    assert_eq!(r.header("x-seen-path"), Some("/FOO/barista?x=1"));
    assert_eq!(c.get("shop.example", "/foo/bar", "").text(), "web\n");
    assert_eq!(c.get("shop.example", "/foobar", "").text(), "web\n");
    assert_eq!(c.get("shop.example", "/other", "").status, 404);
}

/// A HEAD request gets the redirect's head without a body.
fn redirect_to_head_has_no_body(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("permanent-redirect");
    let proxy = annotated(engine, &web, "redirect.example", &[(&key, "https://www.google.com")]);
    let mut c = proxy.client();
    c.send(b"HEAD / HTTP/1.1\r\nHost: redirect.example\r\n\r\n");
    let r = c.response(true);
    assert_eq!(r.status, 301);
    assert!(r.body.is_empty());
    // The connection is still usable.
    assert_eq!(c.get("redirect.example", "/", "").status, 301);
}

/// An annotation ringress does not implement changes nothing: the route
/// is served as without it (the warning is the compiler's, see
/// control/tests/ingress_api/annotations.rs).
fn unimplemented_annotation_leaves_route_alone(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("configuration-snippet");
    let proxy = annotated(engine, &web, "plain.example", &[(&key, "return 403;")]);
    let r = proxy.client().get("plain.example", "/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "web\n");
}

/// An upstream that answers `n` requests on one connection with 200 and
/// its own `Access-Control-Allow-Origin`, as an application that sets CORS
/// itself does.
fn cors_setting_upstream(n: usize) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut r = std::io::BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        for _ in 0..n {
            if ringress_test_support::upstream::read_request(&mut r).is_none() {
                return;
            }
            let answer = "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: https://app.example\r\n\
                          access-control-max-age: 5\r\nContent-Length: 3\r\n\r\napp";
            if std::io::Write::write_all(&mut w, answer.as_bytes()).is_err() {
                return;
            }
        }
    });
    (addr, h)
}

/// `enable-cors: "true"` alone, as the documentation's defaults: every
/// `OPTIONS` is a preflight answered 204 by the proxy with
/// `Access-Control-Allow-Origin: *`, credentials, the default methods,
/// headers and max-age, no upstream contacted; other requests are proxied
/// and carry the same headers.
fn enable_cors_defaults(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("enable-cors");
    let proxy = annotated(engine, &web, "api.example", &[(&key, "true")]);
    let mut c = proxy.client();
    c.send(
        b"OPTIONS /v1/items HTTP/1.1\r\nHost: api.example\r\nOrigin: https://any.example\r\n\
          Access-Control-Request-Method: PUT\r\n\r\n",
    );
    let r = c.response(false);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, PUT, POST, DELETE, PATCH, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization")
    );
    assert_eq!(r.header("access-control-max-age"), Some("1728000"));
    assert_eq!(r.header("access-control-expose-headers"), None);
    assert_eq!(r.header("content-length"), None, "a 204 has no Content-Length");
    assert!(r.body.is_empty());
    assert_eq!(web.requests.load(Ordering::SeqCst), 0, "a preflight never goes upstream");
    // Same connection: a simple request is proxied and carries the headers.
    let r = c.get("api.example", "/v1/items", "Origin: https://any.example\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "web\n");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-max-age"), Some("1728000"));
    assert_eq!(web.requests.load(Ordering::SeqCst), 1);
}

/// The documentation's origin list and wildcard: `cors-allow-origin:
/// "https://origin-site.com:4443, http://origin-site.com, https://*.example.org"`.
/// A listed origin is echoed (with `Vary: Origin`); a wildcard stands for
/// one label; any other origin gets no CORS headers, and its `OPTIONS` is
/// proxied like any request.
fn cors_allow_origin_list_and_wildcard(engine: IoEngine) {
    let web = Upstream::start("web");
    let (enable, origin) = (nginx("enable-cors"), nginx("cors-allow-origin"));
    let list = "https://origin-site.com:4443, http://origin-site.com, https://*.example.org";
    let proxy = annotated(engine, &web, "api.example", &[(&enable, "true"), (&origin, list)]);
    let mut c = proxy.client();
    for allowed in
        ["https://origin-site.com:4443", "http://ORIGIN-site.com", "https://api.example.org"]
    {
        let r = c.get("api.example", "/", &format!("Origin: {allowed}\r\n"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), Some(allowed), "{allowed}");
        assert_eq!(r.header("vary"), Some("Origin"));
    }
    for refused in [
        "https://origin-site.com",
        "https://example.org",
        "https://a.b.example.org",
        "https://evil.example/https://api.example.org",
        "xhttp://origin-site.com",
    ] {
        let r = c.get("api.example", "/", &format!("Origin: {refused}\r\n"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), None, "{refused}");
    }
    let r = c.get("api.example", "/", "");
    assert_eq!(r.header("access-control-allow-origin"), None, "no Origin, no CORS");
    // A preflight from an origin not listed is an ordinary request.
    c.send(b"OPTIONS / HTTP/1.1\r\nHost: api.example\r\nOrigin: https://evil.example\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-seen-method"), Some("OPTIONS"));
    assert_eq!(r.header("access-control-allow-origin"), None);
}

/// `cors-allow-methods`, `-headers`, `-expose-headers`, `-max-age` and
/// `cors-allow-credentials: "false"` replace the defaults; the proxy's
/// lines replace the upstream's own `Access-Control-*` lines (as
/// `more_set_headers`), whatever their case.
fn cors_settings_replace_defaults_and_upstream_lines(engine: IoEngine) {
    let (addr, upstream) = cors_setting_upstream(2);
    let names = [
        "enable-cors",
        "cors-allow-origin",
        "cors-allow-methods",
        "cors-allow-headers",
        "cors-expose-headers",
        "cors-max-age",
        "cors-allow-credentials",
    ]
    .map(nginx);
    let values = [
        "true",
        "https://web.example",
        "GET, POST",
        "X-Custom, Content-Type",
        "X-Total",
        "600",
        "false",
    ];
    let annotations: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(values).collect();
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("app", &[addr]),
            annotated_ingress("i", Some("api.example"), &[("/", "Prefix", "app")], &annotations),
        ]))
        .start();
    let mut c = proxy.client();
    let r = c.get("api.example", "/", "Origin: https://web.example\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "app");
    let origins: Vec<_> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("access-control-allow-origin"))
        .collect();
    assert_eq!(origins.len(), 1, "one Allow-Origin line: {:?}", r.headers);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://web.example"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, POST"));
    assert_eq!(r.header("access-control-allow-headers"), Some("X-Custom, Content-Type"));
    assert_eq!(r.header("access-control-expose-headers"), Some("X-Total"));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    // From an origin not listed, the upstream's own lines pass unchanged.
    let r = c.get("api.example", "/", "Origin: https://other.example\r\n");
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
    assert_eq!(r.header("access-control-max-age"), Some("5"));
    upstream.join().unwrap();
}

/// A preflight that carries a body is answered, and the connection is
/// closed rather than left out of step (the body was never read).
fn cors_preflight_with_a_body_closes(engine: IoEngine) {
    let web = Upstream::start("web");
    let key = nginx("enable-cors");
    let proxy = annotated(engine, &web, "api.example", &[(&key, "true")]);
    let mut c = proxy.client();
    c.send(b"OPTIONS / HTTP/1.1\r\nHost: api.example\r\nContent-Length: 4\r\n\r\nbody");
    let r = c.response(false);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(web.requests.load(Ordering::SeqCst), 0);
}

/// The documentation's `server-alias: "<alias 1>,<alias 2>"`: the host's
/// routes answer under each alias too (a wildcard alias included); an
/// alias that another Ingress names as its rule's host is that Ingress's
/// ("the new server configuration will take place over the alias").
fn server_alias_serves_the_host_under_more_names(engine: IoEngine) {
    let (web, other) = (Upstream::start("web"), Upstream::start("other"));
    let key = nginx("server-alias");
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[web.addr]),
            service("other", &[other.addr]),
            annotated_ingress(
                "main",
                Some("foo.example"),
                &[("/app", "Prefix", "web")],
                &[(&key, "bar.example, *.alias.example, taken.example")],
            ),
            annotated_ingress("taken", Some("taken.example"), &[("/", "Prefix", "other")], &[]),
        ]))
        .start();
    let mut c = proxy.client();
    for host in ["foo.example", "bar.example", "BAR.example:8080", "x.alias.example"] {
        let r = c.get(host, "/app/1", "");
        assert_eq!(r.status, 200, "{host}");
        assert_eq!(r.text(), "web\n", "{host}");
        assert_eq!(r.header("x-seen-host"), Some(host), "the client's Host goes upstream");
    }
    assert_eq!(c.get("bar.example", "/elsewhere", "").status, 404, "only the host's paths");
    assert_eq!(c.get("taken.example", "/app/1", "").text(), "other\n");
    assert_eq!(c.get("alias.example", "/app/1", "").status, 404, "a wildcard is one label");
}

/// `service-upstream: "true"` sends to the Service's ClusterIP and port
/// (where kube-proxy would balance) instead of its EndpointSlices'
/// addresses; the same Service without the annotation still uses them.
fn service_upstream_sends_to_the_cluster_ip(engine: IoEngine) {
    use ringress_test_support::{fixtures, manifests::doc};
    let (pod, cluster) = (Upstream::start("pod"), Upstream::start("cluster"));
    let port = cluster.addr.port();
    let mut svc = fixtures::service("default", "web");
    let spec = svc.spec.as_mut().unwrap();
    spec.cluster_ip = Some(cluster.addr.ip().to_string());
    spec.ports.as_mut().unwrap()[0].port = i32::from(port);
    let slices: Vec<String> =
        fixtures::slices_for("default", "web", &[pod.addr]).iter().map(doc).collect();
    let mut ingresses = Vec::new();
    for (name, host, annotations) in [
        ("via-ip", "ip.example", vec![(nginx("service-upstream"), "true")]),
        ("via-pods", "pods.example", vec![]),
    ] {
        let mut ing = fixtures::ingress("default", name, fixtures::CLASS_NAME, host, "/", "web");
        let rule = &mut ing.spec.as_mut().unwrap().rules.as_mut().unwrap()[0];
        let backend = rule.http.as_mut().unwrap().paths[0].backend.service.as_mut().unwrap();
        backend.port.as_mut().unwrap().number = Some(i32::from(port));
        let a: Vec<(&str, &str)> = annotations.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        ingresses.push(doc(&fixtures::with_annotations(ing, &a)));
    }
    let mut parts = vec![doc(&svc)];
    parts.extend(slices);
    parts.extend(ingresses);
    let proxy = Proxy::builder(engine).manifests(yaml(&parts)).start();
    let mut c = proxy.client();
    assert_eq!(c.get("ip.example", "/", "").text(), "cluster\n");
    assert_eq!(c.get("pods.example", "/", "").text(), "pod\n");
}

/// An upstream that answers every request with `status`, counting them.
fn status_upstream(status: u16) -> (std::net::SocketAddr, std::sync::Arc<AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            let seen = seen.clone();
            std::thread::spawn(move || {
                s.set_read_timeout(Some(DEADLINE)).unwrap();
                let mut r = std::io::BufReader::new(s.try_clone().unwrap());
                let mut w = s;
                while ringress_test_support::upstream::read_request(&mut r).is_some() {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let answer =
                        format!("HTTP/1.1 {status} Nope\r\nContent-Length: 5\r\n\r\nnope\n");
                    if std::io::Write::write_all(&mut w, answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, count)
}

/// A proxy for `host` over one Service with these endpoints.
fn over_endpoints(
    engine: IoEngine,
    addrs: &[std::net::SocketAddr],
    annotations: &[(&str, &str)],
) -> Proxy {
    Proxy::builder(engine)
        .manifests(yaml(&[
            service("pool", addrs),
            annotated_ingress("i", Some("nu.example"), &[("/", "Prefix", "pool")], annotations),
        ]))
        .start()
}

/// `proxy-next-upstream: "error timeout http_503"`: an idempotent request
/// that meets a 503 goes to the next endpoint, and the client sees the
/// good answer; a POST, once sent, is never sent again and gets the 503.
fn next_upstream_moves_idempotent_requests_past_a_503(engine: IoEngine) {
    let good = Upstream::start("good");
    let (bad, bad_count) = status_upstream(503);
    let key = nginx("proxy-next-upstream");
    let proxy = over_endpoints(engine, &[good.addr, bad], &[(&key, "error timeout http_503")]);
    let mut c = proxy.client();
    for i in 0..6 {
        let r = c.get("nu.example", &format!("/{i}"), "");
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(r.text(), "good\n");
    }
    assert!(bad_count.load(Ordering::SeqCst) > 0, "the 503 endpoint was tried");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        c.send(b"POST /p HTTP/1.1\r\nHost: nu.example\r\nContent-Length: 2\r\n\r\nhi");
        statuses.push(c.response(false).status);
    }
    assert!(statuses.contains(&503), "a POST is relayed as answered: {statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
}

/// The last attempt's answer is relayed: with every endpoint answering 503
/// and `proxy-next-upstream-tries: "2"`, two endpoints are asked, the
/// client gets the 503.
fn next_upstream_tries_bound_the_attempts(engine: IoEngine) {
    let ups: Vec<_> = (0..3).map(|_| status_upstream(503)).collect();
    let addrs: Vec<_> = ups.iter().map(|(a, _)| *a).collect();
    let (list, tries) = (nginx("proxy-next-upstream"), nginx("proxy-next-upstream-tries"));
    let proxy = over_endpoints(engine, &addrs, &[(&list, "http_503"), (&tries, "2")]);
    let r = proxy.client().get("nu.example", "/", "");
    assert_eq!(r.status, 503);
    assert_eq!(r.text(), "nope\n");
    let asked: usize = ups.iter().map(|(_, n)| n.load(Ordering::SeqCst)).sum();
    assert_eq!(asked, 2);
}

/// `proxy-next-upstream: "off"`: a refused connection is answered 502,
/// not moved to the live endpoint (without the annotation the proxy
/// moves once, and `error` moves too).
fn next_upstream_off_answers_the_first_failure(engine: IoEngine) {
    let good = Upstream::start("good");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let key = nginx("proxy-next-upstream");
    let proxy = over_endpoints(engine, &[dead, good.addr], &[(&key, "off")]);
    // (A fresh connection each: a 502 may close it.)
    let statuses: Vec<u16> =
        (0..4).map(|i| proxy.client().get("nu.example", &format!("/{i}"), "").status).collect();
    assert!(statuses.contains(&502), "{statuses:?}");

    let proxy = over_endpoints(engine, &[dead, good.addr], &[(&key, "error")]);
    let mut c = proxy.client();
    for i in 0..4 {
        assert_eq!(c.get("nu.example", &format!("/{i}"), "").status, 200);
    }
}

/// `proxy-connect-timeout: "1"`: an endpoint whose listen queue is full
/// (its SYNs are dropped, so connecting hangs) gets the client a 504 after
/// the route's timeout, not the controller-wide one (60 s here, beyond the
/// test's deadline).
fn proxy_connect_timeout_bounds_connecting(engine: IoEngine) {
    use socket2::{Domain, Socket, Type};
    let full = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    full.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    full.listen(0).unwrap();
    let addr = full.local_addr().unwrap().as_socket().unwrap();
    // Fill the queue (a backlog of 0 holds one): never accepted.
    let _queued = std::net::TcpStream::connect(addr).unwrap();
    let key = nginx("proxy-connect-timeout");
    let proxy = Proxy::builder(engine)
        .settings(|s| s.upstream_connect_timeout = std::time::Duration::from_secs(60))
        .manifests(yaml(&[
            service("hung", &[addr]),
            annotated_ingress(
                "i",
                Some("hung.example"),
                &[("/", "Prefix", "hung")],
                &[(&key, "1")],
            ),
        ]))
        .start();
    let r = proxy.client().get("hung.example", "/", "");
    assert_eq!(r.status, 504);
    drop(full);
}

/// `proxy-send-timeout: "1"`: an upstream that takes the connection but
/// stops reading the request body (its buffers full) gets the client a
/// 504 after the route's timeout, not the controller-wide one (60 s here,
/// beyond the test's deadline).
fn proxy_send_timeout_bounds_a_stalled_upload(engine: IoEngine) {
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = stalled.local_addr().unwrap();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        // Take the connection and never read from it.
        let (_s, _) = stalled.accept().unwrap();
        let _ = wait.recv_timeout(DEADLINE);
    });
    let (send, size) = (nginx("proxy-send-timeout"), nginx("proxy-body-size"));
    let proxy = Proxy::builder(engine)
        .settings(|s| s.upstream_body_timeout = std::time::Duration::from_secs(60))
        .manifests(yaml(&[
            service("stalled", &[addr]),
            annotated_ingress(
                "i",
                Some("upload.example"),
                &[("/", "Prefix", "stalled")],
                &[(&send, "1"), (&size, "0")],
            ),
        ]))
        .start();
    let mut c = proxy.client();
    let mut w = c.w.try_clone().unwrap();
    const BODY: usize = 256 << 20;
    let writer = std::thread::spawn(move || {
        let head =
            format!("POST /up HTTP/1.1\r\nHost: upload.example\r\nContent-Length: {BODY}\r\n\r\n");
        std::io::Write::write_all(&mut w, head.as_bytes()).unwrap();
        let chunk = vec![b'x'; 64 << 10];
        let mut sent = 0;
        // Ends when the proxy stops taking the body (it answered, closed).
        while sent < BODY && std::io::Write::write_all(&mut w, &chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let r = c.response(false);
    assert_eq!(r.status, 504);
    drop(c);
    let sent = writer.join().unwrap();
    assert!(sent < BODY, "the upload was cut short, not taken whole");
    done.send(()).unwrap();
    holder.join().unwrap();
}

/// The documentation's `custom-http-errors: "404,503"` with
/// `default-backend: errors`: an upstream 503 is replaced by the errors
/// Service's answer to a GET of the original URI carrying `X-Code`,
/// `X-Format`, `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`,
/// `X-Service-Name`, `X-Service-Port` and `X-Request-ID`; other statuses
/// pass; and a backend without endpoints is served by the default backend.
fn custom_http_errors_ask_the_default_backend(engine: IoEngine) {
    let (web, errors) = (Upstream::start("web"), Upstream::start("errors"));
    let (codes, fallback) = (nginx("custom-http-errors"), nginx("default-backend"));
    let proxy = Proxy::builder(engine)
        .manifests(yaml(&[
            service("web", &[web.addr]),
            service("errors", &[errors.addr]),
            service("empty", &[]),
            annotated_ingress(
                "shop",
                Some("shop.example"),
                &[("/", "Prefix", "web"), ("/gone", "Prefix", "empty")],
                &[(&codes, "404,503"), (&fallback, "errors")],
            ),
        ]))
        .start();
    let mut c = proxy.client();
    let r = c.get(
        "shop.example",
        "/cart?id=7",
        "X-Test-Status: 503\r\nAccept: application/json\r\nX-Request-ID: abc123\r\n",
    );
    assert_eq!(r.status, 200, "the default backend's own status");
    assert_eq!(r.text(), "errors\n");
    assert_eq!(r.header("x-seen-method"), Some("GET"));
    assert_eq!(r.header("x-seen-path"), Some("/cart?id=7"));
    for (h, want) in [
        ("x-seen-x-code", "503"),
        ("x-seen-x-format", "application/json"),
        ("x-seen-x-original-uri", "/cart?id=7"),
        ("x-seen-x-namespace", "default"),
        ("x-seen-x-ingress-name", "shop"),
        ("x-seen-x-service-name", "web"),
        ("x-seen-x-service-port", "80"),
        ("x-seen-x-request-id", "abc123"),
        ("x-seen-host", "shop.example"),
    ] {
        assert_eq!(r.header(h), Some(want), "{h}");
    }
    // Not listed: relayed as is, on the same connection.
    let r = c.get("shop.example", "/", "X-Test-Status: 500\r\n");
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "web\n");
    // A generated request id is 32 hexadecimal digits.
    let r = c.get("shop.example", "/", "X-Test-Status: 404\r\n");
    let id = r.header("x-seen-x-request-id").expect("an id");
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(r.header("x-seen-x-format"), Some("text/html"));
    // No endpoints: the default backend answers the request itself.
    let r = c.get("shop.example", "/gone/x", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "errors\n");
    assert_eq!(r.header("x-seen-path"), Some("/gone/x"));
}

engines!(
    custom_http_errors_ask_the_default_backend,
    proxy_send_timeout_bounds_a_stalled_upload,
    proxy_connect_timeout_bounds_connecting,
    next_upstream_moves_idempotent_requests_past_a_503,
    next_upstream_tries_bound_the_attempts,
    next_upstream_off_answers_the_first_failure,
    service_upstream_sends_to_the_cluster_ip,
    server_alias_serves_the_host_under_more_names,
    enable_cors_defaults,
    cors_allow_origin_list_and_wildcard,
    cors_settings_replace_defaults_and_upstream_lines,
    cors_preflight_with_a_body_closes,
    permanent_redirect_answers_301_without_upstream,
    permanent_redirect_code_changes_the_status,
    temporal_redirect_answers_302_and_wins_over_permanent,
    ringress_prefix_wins,
    app_root_redirects_only_the_root,
    from_to_www_redirects_the_twin_host,
    from_to_www_is_omitted_when_the_twin_is_defined,
    proxy_body_size_replaces_the_global_limit,
    upstream_vhost_sets_the_upstream_host,
    x_forwarded_prefix_is_sent_upstream,
    allowlist_refuses_clients_outside_with_403,
    denylist_refuses_listed_clients_with_403,
    source_ranges_use_the_proven_client_address,
    proxy_read_timeout_bounds_the_wait_for_a_response,
    rewrite_target_uses_capture_groups,
    use_regex_is_host_wide_longest_first,
    redirect_to_head_has_no_body,
    unimplemented_annotation_leaves_route_alone
);
