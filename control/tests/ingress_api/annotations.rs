//! ingress-nginx annotations as the compiler reads them: typed policy on
//! the routes, one diagnostic per invalid, snippet or ignored annotation,
//! naming the Ingress, the annotation and the value; and
//! docs/annotations.md kept equal to the code's own catalog.

use std::collections::BTreeMap;

use ringress_control::compile::annotations::{Support, CATALOG};
use ringress_control::table::Redirect;
use ringress_control::Severity;
use ringress_test_support::manifests::annotated_ingress;

use crate::support::*;

fn compiled(
    annotations: &[(&str, &str)],
) -> (ringress_control::RouteTable, Vec<ringress_control::Diagnostic>) {
    let svcs = services();
    let ing = annotated_ingress("i", Some("a.example"), &[("/", "Prefix", "svc-a")], annotations);
    compile(&[CLASS, svcs.as_str(), ing.as_str()])
}

/// A route without annotations carries no policy at all.
#[test]
fn route_without_annotations_has_no_policy() {
    let (table, diags) = compiled(&[]);
    assert!(diags.is_empty(), "{diags:#?}");
    assert!(table.route("a.example", "/").expect("routed").policy.is_none());
    assert_eq!(table.annotation_counts(), (0, 0));
}

/// `permanent-redirect` with `permanent-redirect-code` becomes a typed
/// redirect on every route of the Ingress.
#[test]
fn permanent_redirect_is_typed_policy() {
    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/permanent-redirect", "https://www.google.com"),
        ("nginx.ingress.kubernetes.io/permanent-redirect-code", "308"),
    ]);
    assert!(diags.is_empty(), "{diags:#?}");
    let policy = table.route("a.example", "/x").and_then(|r| r.policy.clone()).expect("policy");
    let want = Redirect { code: 308, location: "https://www.google.com".into() };
    assert_eq!(policy.redirect, Some(want));
}

/// An invalid redirect code is an error naming the Ingress, the annotation
/// and the value; the redirect keeps its default code (as ingress-nginx
/// falls back to 301) and the Ingress is still served.
#[test]
fn invalid_redirect_code_is_reported_and_the_default_kept() {
    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/permanent-redirect", "https://www.google.com"),
        ("nginx.ingress.kubernetes.io/permanent-redirect-code", "200"),
    ]);
    let d = diags.iter().find(|d| d.severity == Severity::Error).expect("an error");
    let text = d.to_string();
    assert!(text.contains("Ingress default/i"), "{text}");
    assert!(text.contains("nginx.ingress.kubernetes.io/permanent-redirect-code"), "{text}");
    assert!(text.contains("\"200\""), "{text}");
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    assert_eq!(policy.redirect.as_ref().map(|r| r.code), Some(301));
    assert_eq!(table.annotation_counts(), (0, 1));
}

/// An invalid value disables only that annotation: the route is still
/// there, proxied, without a policy.
#[test]
fn invalid_value_disables_only_that_annotation() {
    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/permanent-redirect", "www.google.com"),
        ("nginx.ingress.kubernetes.io/app-root", "app1"),
        ("nginx.ingress.kubernetes.io/ssl-redirect", "maybe"),
    ]);
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let route = table.route("a.example", "/").expect("still routed");
    assert!(route.policy.is_none());
    assert_eq!(route.backend.key.service.as_ref(), "svc-a");
}

/// A source range that does not parse fails closed: an error naming the
/// entry, and the route refuses every client rather than opening to all.
#[test]
fn invalid_source_range_fails_closed() {
    let (table, diags) =
        compiled(&[("nginx.ingress.kubernetes.io/whitelist-source-range", "10.0.0.0/24,nonsense")]);
    let d = diags.iter().find(|d| d.is_error()).expect("an error");
    assert!(d.reason.contains("\"nonsense\""), "{d}");
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    let ranges = policy.source.as_ref().expect("ranges");
    assert!(!ranges.permits("10.0.0.1".parse().unwrap()));
}

/// Entries are CIDRs or bare addresses; host bits are cleared as Go's
/// `net.ParseCIDR` does; IPv4-mapped IPv6 clients match IPv4 ranges.
#[test]
fn source_ranges_parse_as_ingress_nginx_reads_them() {
    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/whitelist-source-range", "10.0.0.7/24, 172.10.0.1, fd00::/8"),
        ("ringress.io/denylist-source-range", "10.0.0.9"),
    ]);
    assert!(diags.is_empty(), "{diags:#?}");
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    let ranges = policy.source.as_ref().expect("ranges");
    for (ip, permitted) in [
        ("10.0.0.200", true),
        ("::ffff:10.0.0.1", true),
        ("172.10.0.1", true),
        ("172.10.0.2", false),
        ("fd12::1", true),
        ("10.0.0.9", false),
        ("10.0.1.1", false),
    ] {
        assert_eq!(ranges.permits(ip.parse().unwrap()), permitted, "{ip}");
    }
}

/// The proxy timeouts are whole seconds, as ingress-nginx documents them
/// ("unitless and in seconds"); anything else is an error and the flag's
/// value stays.
#[test]
fn proxy_timeouts_are_seconds() {
    use std::time::Duration;
    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/proxy-connect-timeout", "10"),
        ("nginx.ingress.kubernetes.io/proxy-send-timeout", "120"),
        ("nginx.ingress.kubernetes.io/proxy-read-timeout", "10s"),
    ]);
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].field.contains("proxy-read-timeout"), "{}", errors[0]);
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    assert_eq!(policy.timeouts.connect, Some(Duration::from_secs(10)));
    assert_eq!(policy.timeouts.send, Some(Duration::from_secs(120)));
    assert_eq!(policy.timeouts.read, None);
}

/// Snippets are never executed: a warning names the typed annotation to
/// use instead, and the snippet counts as ignored.
#[test]
fn snippet_is_never_executed_and_names_the_alternative() {
    let (table, diags) =
        compiled(&[("nginx.ingress.kubernetes.io/server-snippet", "return 301 /x;")]);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].severity, Severity::Warning);
    assert!(diags[0].reason.contains("never executed"), "{}", diags[0]);
    assert!(diags[0].reason.contains("app-root"), "{}", diags[0]);
    assert!(table.route("a.example", "/").expect("routed").policy.is_none());
    assert_eq!(table.annotation_counts(), (1, 0));
}

/// Every other ingress-nginx annotation ringress does not implement, known
/// or not, is one warning per Ingress and counted; annotations of other
/// tools are not ours to judge.
#[test]
fn unimplemented_annotations_warn_once_per_ingress_and_count() {
    let svcs = services();
    let annotations = [
        ("nginx.ingress.kubernetes.io/limit-rps", "5"),
        ("nginx.ingress.kubernetes.io/no-such-thing", "1"),
        ("example.com/owner", "team-a"),
    ];
    let one =
        annotated_ingress("one", Some("a.example"), &[("/", "Prefix", "svc-a")], &annotations);
    let two =
        annotated_ingress("two", Some("b.example"), &[("/", "Prefix", "svc-b")], &annotations);
    let (table, diags) = compile(&[CLASS, svcs.as_str(), one.as_str(), two.as_str()]);
    assert_eq!(diags.len(), 4, "{diags:#?}");
    assert!(diags.iter().all(|d| d.severity == Severity::Warning));
    assert!(diags.iter().all(|d| d.field.starts_with("metadata.annotations[nginx.ingress")));
    assert_eq!(table.annotation_counts(), (4, 0));
}

/// The `ringress.io/` spelling wins when both are set.
#[test]
fn ringress_spelling_wins() {
    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/app-root", "/theirs"),
        ("ringress.io/app-root", "/ours"),
    ]);
    assert!(diags.is_empty(), "{diags:#?}");
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    assert_eq!(policy.app_root.as_deref(), Some("/ours"));
}

/// docs/annotations.md lists exactly the catalog's annotations, each with
/// the same support.
#[test]
fn annotations_doc_matches_the_catalog() {
    let doc = include_str!("../../../docs/annotations.md");
    let mut documented = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `name` | support | semantics | default | deviations |
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_string();
        let previous = documented.insert(name.clone(), cells[2].to_string());
        assert!(previous.is_none(), "{name} documented twice");
    }
    for (name, support) in CATALOG {
        let want = match support {
            Support::Supported => "yes",
            Support::Snippet(_) => "never (snippet)",
            Support::Ignored => "no",
        };
        let got = documented.remove(*name);
        assert_eq!(got.as_deref(), Some(want), "docs/annotations.md row for {name}");
    }
    assert!(documented.is_empty(), "documented but not in the catalog: {documented:?}");
}

/// `use-regex` on one Ingress makes the host's paths regexes; a path that
/// is not a valid regex is an error naming it, and only it is skipped.
#[test]
fn use_regex_with_an_invalid_path_skips_only_that_path() {
    let svcs = services();
    let ing = annotated_ingress(
        "i",
        Some("a.example"),
        &[
            ("/ok/[0-9]+", "ImplementationSpecific", "svc-a"),
            ("/bad(", "ImplementationSpecific", "svc-b"),
        ],
        &[("nginx.ingress.kubernetes.io/use-regex", "true")],
    );
    let (table, diags) = compile(&[CLASS, svcs.as_str(), ing.as_str()]);
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].field.ends_with("paths[1].path"), "{}", errors[0]);
    assert!(errors[0].reason.contains("\"/bad(\""), "{}", errors[0]);
    assert_eq!(service_for(&table, "a.example", "/OK/12/x").as_deref(), Some("svc-a"));
    assert_eq!(service_for(&table, "a.example", "/ok/x"), None);
}

/// `rewrite-target` must be a path; a URL (nginx would redirect) is an
/// error and the path is still routed, as a regex, unrewritten.
#[test]
fn rewrite_target_must_be_a_path() {
    let (table, diags) =
        compiled(&[("nginx.ingress.kubernetes.io/rewrite-target", "https://elsewhere/$1")]);
    assert_eq!(diags.iter().filter(|d| d.is_error()).count(), 1, "{diags:#?}");
    let route = table.route("a.example", "/x").expect("routed");
    assert!(route.policy.is_none());
}

/// `enable-cors` compiles to a CORS policy with ingress-nginx's defaults;
/// without `enable-cors: "true"` the `cors-*` annotations change nothing.
#[test]
fn cors_defaults_and_enable_flag() {
    use ringress_control::table::CorsAnswer;
    let (table, diags) = compiled(&[("nginx.ingress.kubernetes.io/enable-cors", "true")]);
    assert!(diags.is_empty(), "{diags:#?}");
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    let cors = policy.cors.as_ref().expect("cors");
    assert_eq!(cors.answer(None), Some(CorsAnswer::Any));
    let lines = String::from_utf8(cors.lines.to_vec()).unwrap();
    assert_eq!(
        lines,
        "Access-Control-Allow-Credentials: true\r\n\
         Access-Control-Allow-Methods: GET, PUT, POST, DELETE, PATCH, OPTIONS\r\n\
         Access-Control-Allow-Headers: DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization\r\n\
         Access-Control-Max-Age: 1728000\r\n"
    );

    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/enable-cors", "false"),
        ("nginx.ingress.kubernetes.io/cors-allow-origin", "https://a.example"),
    ]);
    assert!(diags.is_empty(), "{diags:#?}");
    assert!(table.route("a.example", "/").expect("routed").policy.is_none());
}

/// Invalid CORS values are errors naming the value: an origin that does
/// not parse is left out (the others stay), a bad method list or max-age
/// falls back to the default; a list with no valid origin allows none.
#[test]
fn invalid_cors_values_are_reported() {
    use ringress_control::table::CorsAnswer;
    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/enable-cors", "true"),
        (
            "nginx.ingress.kubernetes.io/cors-allow-origin",
            "https://ok.example, https://bad.example/path, ftp//x",
        ),
        ("nginx.ingress.kubernetes.io/cors-allow-methods", "GET; DROP"),
        ("nginx.ingress.kubernetes.io/cors-max-age", "soon"),
    ]);
    let errors: Vec<String> =
        diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(errors.iter().any(|e| e.contains("\"https://bad.example/path\"")), "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.contains("cors-max-age") && e.contains("1728000")),
        "{errors:#?}"
    );
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    let cors = policy.cors.as_ref().expect("cors");
    let ok = b"https://ok.example".as_slice();
    assert_eq!(cors.answer(Some(ok)), Some(CorsAnswer::Echo(ok)));
    assert_eq!(cors.answer(Some(b"https://bad.example")), None);
    let lines = String::from_utf8(cors.lines.to_vec()).unwrap();
    assert!(lines.contains("Methods: GET, PUT, POST, DELETE, PATCH, OPTIONS\r\n"), "{lines}");
    assert!(lines.contains("Max-Age: 1728000\r\n"), "{lines}");

    let (table, _) = compiled(&[
        ("nginx.ingress.kubernetes.io/enable-cors", "true"),
        ("nginx.ingress.kubernetes.io/cors-allow-origin", "not an origin"),
    ]);
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    assert_eq!(policy.cors.as_ref().expect("cors").answer(Some(b"not an origin")), None);
}

/// `server-alias` names that cannot be served are warnings naming the
/// alias, and the rest are served: a name a rule already has, a name an
/// older Ingress's alias took; a value that is not a host is an error.
#[test]
fn server_alias_conflicts_are_reported() {
    let svcs = services();
    let alias = "nginx.ingress.kubernetes.io/server-alias";
    let first = annotated_ingress(
        "first",
        Some("a.example"),
        &[("/", "Prefix", "svc-a")],
        &[(alias, "b.example, shared.example, 10.0.0.1, ok.example")],
    );
    let second = annotated_ingress(
        "second",
        Some("c.example"),
        &[("/", "Prefix", "svc-a")],
        &[(alias, "shared.example")],
    );
    let named = annotated_ingress("named", Some("b.example"), &[("/", "Prefix", "svc-a")], &[]);
    let (table, diags) =
        compile(&[CLASS, svcs.as_str(), first.as_str(), second.as_str(), named.as_str()]);
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("default/first")
                && t.contains("alias b.example is the host of a rule")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("default/second")
                && t.contains("shared.example is already an alias")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|t| t.contains("default/first") && t.contains("10.0.0.1")),
        "{text:#?}"
    );
    for host in ["ok.example", "shared.example"] {
        let route = table.route(host, "/").expect(host);
        assert_eq!(route.ingress.as_ref(), "default/first", "{host}");
    }
    assert_eq!(table.route("b.example", "/").expect("b").ingress.as_ref(), "default/named");
}

/// `proxy-next-upstream` and its companions compile as ingress-nginx reads
/// them: any one makes the policy, the others at their defaults; `off`
/// moves nothing; an unsupported condition is an error naming it and the
/// default `error timeout` is used.
#[test]
fn next_upstream_parses_as_ingress_nginx_reads_it() {
    use ringress_control::table::NextUpstream;
    let policy_of = |annotations: &[(&str, &str)]| {
        let (table, diags) = compiled(annotations);
        let route = table.route("a.example", "/").expect("routed");
        (route.policy.as_ref().and_then(|p| p.next_upstream), diags)
    };
    let (nu, diags) = policy_of(&[("nginx.ingress.kubernetes.io/proxy-next-upstream-tries", "5")]);
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(nu, Some(NextUpstream { tries: 5, ..NextUpstream::DEFAULT }));

    let (nu, _) = policy_of(&[
        ("nginx.ingress.kubernetes.io/proxy-next-upstream", "error http_502 http_504"),
        ("nginx.ingress.kubernetes.io/proxy-next-upstream-timeout", "10"),
    ]);
    let nu = nu.expect("policy");
    assert!(nu.error && !nu.timeout);
    assert_eq!(nu.statuses, 1 | 4);
    assert_eq!(nu.within, Some(std::time::Duration::from_secs(10)));

    let (nu, _) = policy_of(&[("nginx.ingress.kubernetes.io/proxy-next-upstream", "off")]);
    let nu = nu.expect("policy");
    assert!(!nu.error && !nu.timeout && nu.statuses == 0);

    let (nu, diags) =
        policy_of(&[("nginx.ingress.kubernetes.io/proxy-next-upstream", "error invalid_header")]);
    assert_eq!(nu, Some(NextUpstream::DEFAULT));
    let d = diags.iter().find(|d| d.is_error()).expect("an error");
    assert!(d.reason.contains("\"invalid_header\""), "{d}");
}

/// `custom-http-errors` and `default-backend` compile to the policy's
/// codes and default backend (the Service's first port); without
/// `default-backend` the codes use `--default-backend-service`; invalid
/// codes and names are errors naming them, and a missing Service is a
/// warning (the policy then has no default backend).
#[test]
fn custom_errors_and_default_backend_compile() {
    use ringress_control::{compile_yaml, CompileOptions};
    let (table, diags) = compiled(&[
        ("nginx.ingress.kubernetes.io/custom-http-errors", "404, 503,999,abc"),
        ("nginx.ingress.kubernetes.io/default-backend", "svc-b"),
    ]);
    let errors: Vec<String> =
        diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.contains("\"999\""))
            && errors.iter().any(|e| e.contains("\"abc\""))
    );
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    assert_eq!(&*policy.custom_errors, &[404, 503]);
    let fallback = &policy.default_backend.as_ref().expect("a default backend").0;
    assert_eq!(&*fallback.key.service, "svc-b");
    assert_eq!(fallback.endpoints.len(), 1);

    let (_, diags) = compiled(&[("nginx.ingress.kubernetes.io/default-backend", "Not_A_Name")]);
    assert!(
        diags.iter().any(|d| d.is_error() && d.reason.contains("\"Not_A_Name\"")),
        "{diags:#?}"
    );

    let (table, diags) = compiled(&[("nginx.ingress.kubernetes.io/default-backend", "missing")]);
    assert!(diags
        .iter()
        .any(|d| d.severity == Severity::Warning && d.reason.contains("default/missing")));
    assert!(table.route("a.example", "/").expect("routed").policy.is_none());

    let svcs = services();
    let ing = annotated_ingress(
        "i",
        Some("a.example"),
        &[("/", "Prefix", "svc-a")],
        &[("nginx.ingress.kubernetes.io/custom-http-errors", "502")],
    );
    let options = CompileOptions {
        default_backend_service: Some(("default".into(), "svc-c".into())),
        ..CompileOptions::default()
    };
    let yaml = ringress_test_support::manifests::docs(&[CLASS, &svcs, &ing]);
    let (table, _) = compile_yaml(&yaml, &options);
    let policy = table.route("a.example", "/").and_then(|r| r.policy.clone()).expect("policy");
    assert_eq!(&*policy.default_backend.as_ref().expect("the flag's").0.key.service, "svc-c");
}
