//! Path matching. The rows of the "Examples" table under "Path types" /
//! "Multiple matches" in the Kubernetes Ingress documentation, one test per
//! row, followed by the rules around them.

use crate::support::*;

const H: &str = "example.com";

fn one(path: &str, path_type: &str, request: &str) -> Option<String> {
    let ing = ingress("ing", Some(H), &[(path, path_type, "svc-a")]);
    routed(&[&ing], H, request)
}

/// Row: Prefix `/` matches all paths.
#[test]
fn row_prefix_root_matches_all_paths() {
    for request in ["/", "/foo", "/foo/bar/", "/a/b/c/d/e"] {
        assert_eq!(one("/", "Prefix", request), some("svc-a"), "{request}");
    }
}

/// Row: Exact `/foo`, request `/foo`: yes.
#[test]
fn row_exact_foo_matches_foo() {
    assert_eq!(one("/foo", "Exact", "/foo"), some("svc-a"));
}

/// Row: Exact `/foo`, request `/bar`: no.
#[test]
fn row_exact_foo_does_not_match_bar() {
    assert_eq!(one("/foo", "Exact", "/bar"), None);
}

/// Row: Exact `/foo`, request `/foo/`: no.
#[test]
fn row_exact_foo_does_not_match_foo_slash() {
    assert_eq!(one("/foo", "Exact", "/foo/"), None);
}

/// Row: Exact `/foo/`, request `/foo`: no.
#[test]
fn row_exact_foo_slash_does_not_match_foo() {
    assert_eq!(one("/foo/", "Exact", "/foo"), None);
}

/// Row: Prefix `/foo`, requests `/foo` and `/foo/`: yes.
#[test]
fn row_prefix_foo_matches_foo_and_foo_slash() {
    assert_eq!(one("/foo", "Prefix", "/foo"), some("svc-a"));
    assert_eq!(one("/foo", "Prefix", "/foo/"), some("svc-a"));
}

/// Row: Prefix `/foo/`, requests `/foo` and `/foo/`: yes.
#[test]
fn row_prefix_foo_slash_matches_foo_and_foo_slash() {
    assert_eq!(one("/foo/", "Prefix", "/foo"), some("svc-a"));
    assert_eq!(one("/foo/", "Prefix", "/foo/"), some("svc-a"));
}

/// Row: Prefix `/aaa/bb`, request `/aaa/bbb`: no.
#[test]
fn row_prefix_aaa_bb_does_not_match_aaa_bbb() {
    assert_eq!(one("/aaa/bb", "Prefix", "/aaa/bbb"), None);
}

/// Row: Prefix `/aaa/bbb`, request `/aaa/bbb`: yes.
#[test]
fn row_prefix_aaa_bbb_matches_aaa_bbb() {
    assert_eq!(one("/aaa/bbb", "Prefix", "/aaa/bbb"), some("svc-a"));
}

/// Row: Prefix `/aaa/bbb/`, request `/aaa/bbb`: yes, ignores trailing slash.
#[test]
fn row_prefix_with_trailing_slash_ignores_it() {
    assert_eq!(one("/aaa/bbb/", "Prefix", "/aaa/bbb"), some("svc-a"));
}

/// Row: Prefix `/aaa/bbb`, request `/aaa/bbb/`: yes, matches trailing slash.
#[test]
fn row_prefix_matches_request_trailing_slash() {
    assert_eq!(one("/aaa/bbb", "Prefix", "/aaa/bbb/"), some("svc-a"));
}

/// Row: Prefix `/aaa/bbb`, request `/aaa/bbb/ccc`: yes, matches subpath.
#[test]
fn row_prefix_matches_subpath() {
    assert_eq!(one("/aaa/bbb", "Prefix", "/aaa/bbb/ccc"), some("svc-a"));
}

/// Row: Prefix `/aaa/bbb`, request `/aaa/bbbxyz`: no, does not match string prefix.
#[test]
fn row_prefix_does_not_match_string_prefix() {
    assert_eq!(one("/aaa/bbb", "Prefix", "/aaa/bbbxyz"), None);
}

/// Row: Prefix `/` and `/aaa`, request `/aaa/ccc`: yes, matches `/aaa` prefix.
#[test]
fn row_prefixes_root_and_aaa_choose_aaa_for_aaa_ccc() {
    let ing = ingress("ing", Some(H), &[("/", "Prefix", "svc-a"), ("/aaa", "Prefix", "svc-b")]);
    assert_eq!(routed(&[&ing], H, "/aaa/ccc"), some("svc-b"));
}

/// Row: Prefix `/`, `/aaa` and `/aaa/bbb`, request `/aaa/bbb`: yes, matches `/aaa/bbb` prefix.
#[test]
fn row_prefixes_root_aaa_aaa_bbb_choose_aaa_bbb() {
    let ing = ingress(
        "ing",
        Some(H),
        &[("/", "Prefix", "svc-a"), ("/aaa", "Prefix", "svc-b"), ("/aaa/bbb", "Prefix", "svc-c")],
    );
    assert_eq!(routed(&[&ing], H, "/aaa/bbb"), some("svc-c"));
}

/// Row: Prefix `/`, `/aaa` and `/aaa/bbb`, request `/ccc`: yes, matches `/` prefix.
#[test]
fn row_prefixes_root_aaa_aaa_bbb_choose_root_for_ccc() {
    let ing = ingress(
        "ing",
        Some(H),
        &[("/", "Prefix", "svc-a"), ("/aaa", "Prefix", "svc-b"), ("/aaa/bbb", "Prefix", "svc-c")],
    );
    assert_eq!(routed(&[&ing], H, "/ccc"), some("svc-a"));
}

/// Row: Prefix `/aaa`, request `/ccc`: no, uses default backend.
#[test]
fn row_prefix_aaa_does_not_match_ccc_and_uses_default_backend() {
    let ing = ingress("ing", Some(H), &[("/aaa", "Prefix", "svc-a")]);
    let def = default_backend("fallback", "svc-e");
    let svcs = services();
    let table = table(&[CLASS, &svcs, &ing, &def]);
    let route = table.route(H, "/ccc").expect("the default backend answers");
    assert!(route.is_default);
    assert_eq!(&*route.backend.key.service, "svc-e");
    assert_eq!(one("/aaa", "Prefix", "/ccc"), None, "without a default backend: 404");
}

/// Row: Mixed, `/foo` (Prefix) and `/foo` (Exact), request `/foo`: yes, prefers Exact.
#[test]
fn row_mixed_prefix_and_exact_prefer_exact() {
    let ing = ingress("ing", Some(H), &[("/foo", "Prefix", "svc-a"), ("/foo", "Exact", "svc-b")]);
    assert_eq!(routed(&[&ing], H, "/foo"), some("svc-b"));
    assert_eq!(routed(&[&ing], H, "/foo/x"), some("svc-a"));
}

/// "Exact: Matches the URL path exactly and with case sensitivity."
#[test]
fn exact_is_case_sensitive() {
    assert_eq!(one("/Foo", "Exact", "/Foo"), some("svc-a"));
    assert_eq!(one("/Foo", "Exact", "/foo"), None);
}

/// Prefix matching is element-wise and case-sensitive.
#[test]
fn prefix_is_case_sensitive() {
    assert_eq!(one("/foo", "Prefix", "/FOO/bar"), None);
}

/// ImplementationSpecific: ringress matches it as Prefix (documented).
#[test]
fn implementation_specific_behaves_as_prefix() {
    assert_eq!(one("/foo", "ImplementationSpecific", "/foo/bar"), some("svc-a"));
    assert_eq!(one("/foo", "ImplementationSpecific", "/foobar"), None);
}

/// The query string never takes part in matching.
#[test]
fn query_string_is_ignored() {
    assert_eq!(one("/foo", "Exact", "/foo?x=/bar"), some("svc-a"));
    assert_eq!(one("/foo", "Prefix", "/foo?bar"), some("svc-a"));
    assert_eq!(one("/foo", "Prefix", "/foobar?/foo"), None);
}

/// "If two or more paths still match, the path with the longest matching
/// path takes precedence": a longer Prefix beats a shorter Exact-free match,
/// and an Exact only wins where it matches.
#[test]
fn longest_matching_path_wins() {
    let ing = ingress(
        "ing",
        Some(H),
        &[("/a", "Prefix", "svc-a"), ("/a/b/c", "Prefix", "svc-b"), ("/a/b", "Exact", "svc-c")],
    );
    assert_eq!(routed(&[&ing], H, "/a/b/c/d"), some("svc-b"));
    assert_eq!(routed(&[&ing], H, "/a/b"), some("svc-c"));
    assert_eq!(routed(&[&ing], H, "/a/b/"), some("svc-a"));
}
