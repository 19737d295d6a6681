//! `spec.tls`: hosts with a Secret in the Ingress's namespace give the
//! certificate for those SNI names; a missing or malformed Secret is
//! reported and the host falls back to the default certificate. Plus the
//! https redirect flag.

use ringress_control::{compile_yaml, CompileOptions, Severity};

use ringress_test_support::fixtures;

use crate::support::*;

const SECURE_CRT: &str = include_str!("../../testdata/tls/secure.crt");
const SECURE_KEY: &str = include_str!("../../testdata/tls/secure.key");
const OTHER_CRT: &str = include_str!("../../testdata/tls/other.crt");
const OTHER_KEY: &str = include_str!("../../testdata/tls/other.key");
/// `openssl x509 -in secure.crt -outform der | sha256sum`
const SECURE_SHA256: &str = "4e3698bae0e918d21082e6f0a9f2020abb872fe6e9d23b7ff922f6247e00e0f3";

/// An Ingress with one rule per host (every path to `svc-a`), all of
/// them listed under `tls` with `secret`.
fn tls_ingress(name: &str, hosts: &[&str], secret: &str, annotations: &[(&str, &str)]) -> String {
    let mut ingress = fixtures::ingress_rule("default", name, "ringress", None, &[]);
    let spec = ingress.spec.as_mut().expect("spec");
    spec.rules = Some(
        hosts
            .iter()
            .map(|h| {
                let one = fixtures::ingress_rule(
                    "default",
                    name,
                    "ringress",
                    Some(h),
                    &[("/", "Prefix", "svc-a")],
                );
                one.spec.and_then(|s| s.rules).expect("one rule").remove(0)
            })
            .collect(),
    );
    doc(&fixtures::with_annotations(fixtures::with_tls(ingress, hosts, secret), annotations))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// TLS hosts (exact and wildcard) get the certificate of their Secret,
/// parsed once; SNI compares case-insensitively; the fingerprint is the
/// SHA-256 of the leaf certificate's DER.
#[test]
fn tls_hosts_get_the_certificate_of_their_secret() {
    let secret = tls_secret("secure-tls", SECURE_CRT, SECURE_KEY);
    let ing =
        tls_ingress("ing", &["secure.example.com", "*.secure.example.com"], "secure-tls", &[]);
    let svcs = services();
    let t = table(&[CLASS, &svcs, &secret, &ing]);
    let cert = t.certificate("Secure.Example.com").expect("exact SNI");
    assert_eq!(hex(&cert.fingerprint), SECURE_SHA256);
    assert_eq!(&*cert.source, "default/secure-tls");
    assert_eq!(
        cert.names,
        vec!["secure.example.com".into(), "*.secure.example.com".into()] as Vec<Box<str>>
    );
    let wild = t.certificate("api.secure.example.com").expect("wildcard SNI");
    assert!(std::sync::Arc::ptr_eq(cert, wild), "one Certificate per Secret");
    assert!(t.certificate("a.b.secure.example.com").is_none());
    assert!(t.certificate("other.example.com").is_none());
    assert_eq!(t.certificates().count(), 1);
    assert!(!format!("{cert:?}").contains("PRIVATE"), "Debug never prints key material");
}

/// A Secret that does not exist: a diagnostic on the Ingress, and the
/// host falls back to the default certificate (no SNI entry).
#[test]
fn missing_secret_falls_back_to_default_certificate() {
    let ing = tls_ingress("ing", &["secure.example.com"], "absent", &[]);
    let svcs = services();
    let (t, diags) = compile(&[CLASS, &svcs, &ing]);
    assert!(t.certificate("secure.example.com").is_none());
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].field, "spec.tls[0].secretName");
    assert!(diags[0].reason.contains("default/absent"), "{}", diags[0].reason);
    assert!(t.route("secure.example.com", "/").is_some(), "routing is unaffected");
}

/// A malformed Secret (not PEM, or a key that does not match the
/// certificate): an error on the Secret, a warning on the Ingress, default
/// certificate for its hosts; no key material in any message.
#[test]
fn malformed_secret_is_reported_without_key_material() {
    for (crt, key) in
        [("garbage", SECURE_KEY), (SECURE_CRT, "nothing here"), (SECURE_CRT, OTHER_KEY)]
    {
        let secret = tls_secret("secure-tls", crt, key);
        let ing = tls_ingress("ing", &["secure.example.com"], "secure-tls", &[]);
        let svcs = services();
        let (t, diags) = compile(&[CLASS, &svcs, &secret, &ing]);
        assert!(t.certificate("secure.example.com").is_none());
        let on_secret: Vec<_> = diags.iter().filter(|d| d.kind == "Secret").collect();
        assert_eq!(on_secret.len(), 1, "{diags:#?}");
        assert_eq!(on_secret[0].severity, Severity::Error);
        assert!(on_secret[0].field.starts_with("data"), "{}", on_secret[0].field);
        for d in &diags {
            let text = d.to_string();
            assert!(!text.contains("BEGIN") && !text.contains(&SECURE_KEY[30..60]), "{text}");
        }
    }
}

/// `--default-certificate NAMESPACE/NAME` gives the default certificate.
#[test]
fn default_certificate_option_loads_the_secret() {
    let secret = tls_secret("fallback", SECURE_CRT, SECURE_KEY);
    let options = CompileOptions {
        default_certificate: Some(("default".into(), "fallback".into())),
        ..CompileOptions::default()
    };
    let (t, diags) = compile_yaml(&secret, &options);
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(hex(&t.default_certificate().expect("default").fingerprint), SECURE_SHA256);
    let (t, diags) = compile_yaml("", &options);
    assert!(t.default_certificate().is_none());
    assert_eq!(diags[0].severity, Severity::Error);
}

/// Routes of a host listed under `spec.tls` of any served Ingress redirect
/// plain HTTP to https; others do not.
#[test]
fn tls_host_routes_redirect_to_https() {
    let secret = tls_secret("secure-tls", SECURE_CRT, SECURE_KEY);
    let tls = tls_ingress("tls", &["secure.example.com"], "secure-tls", &[]);
    let more = ingress("more", Some("secure.example.com"), &[("/api", "Prefix", "svc-b")]);
    let plain = ingress("plain", Some("plain.example.com"), &[("/", "Prefix", "svc-b")]);
    let svcs = services();
    let t = table(&[CLASS, &svcs, &secret, &tls, &more, &plain]);
    assert!(t.route("secure.example.com", "/").unwrap().redirect_to_https);
    assert!(
        t.route("secure.example.com", "/api").unwrap().redirect_to_https,
        "any served Ingress's tls"
    );
    assert!(!t.route("plain.example.com", "/").unwrap().redirect_to_https);
}

/// `ringress.io/ssl-redirect: "false"` (or the ingress-nginx spelling)
/// disables the redirect; `nginx.ingress.kubernetes.io/force-ssl-redirect:
/// "true"` forces it even without TLS.
#[test]
fn redirect_annotations_disable_or_force_it() {
    let secret = tls_secret("secure-tls", SECURE_CRT, SECURE_KEY);
    let svcs = services();
    for key in ["ringress.io/ssl-redirect", "nginx.ingress.kubernetes.io/ssl-redirect"] {
        let ing = tls_ingress("ing", &["secure.example.com"], "secure-tls", &[(key, "false")]);
        let t = table(&[CLASS, &svcs, &secret, &ing]);
        assert!(!t.route("secure.example.com", "/").unwrap().redirect_to_https, "{key}");
    }
    let forced = fixtures::ingress_rule(
        "default",
        "forced",
        "ringress",
        Some("plain.example.com"),
        &[("/", "Prefix", "svc-b")],
    );
    let forced = doc(&fixtures::with_annotations(
        forced,
        &[("nginx.ingress.kubernetes.io/force-ssl-redirect", "true")],
    ));
    let t = table(&[CLASS, &svcs, &forced]);
    assert!(t.route("plain.example.com", "/").unwrap().redirect_to_https);
}

/// The 421 rule (`RouteTable::serves_on_sni`): on a connection whose SNI
/// chose a certificate, a Host served by another certificate, or one the
/// chosen certificate does not cover, is misdirected; the same name, a name
/// the certificate covers by SAN (wildcard included) and the same
/// certificate under another Secret are served; an SNI that chose no
/// certificate and a Host that names no virtual host are unaffected.
#[test]
fn host_must_be_served_by_the_certificate_sni_chose() {
    let secure = tls_secret("secure-tls", SECURE_CRT, SECURE_KEY);
    let copy = tls_secret("secure-copy", SECURE_CRT, SECURE_KEY);
    let other = tls_secret("other-tls", OTHER_CRT, OTHER_KEY);
    let a = tls_ingress("a", &["secure.example.com"], "secure-tls", &[]);
    let b = tls_ingress("b", &["www.secure.example.com"], "secure-copy", &[]);
    let c = tls_ingress("c", &["other.example.com"], "other-tls", &[]);
    let svcs = services();
    let t = table(&[CLASS, &svcs, &secure, &copy, &other, &a, &b, &c]);
    let sni = "secure.example.com";
    assert!(t.serves_on_sni(sni, "secure.example.com"));
    assert!(t.serves_on_sni(sni, "SECURE.Example.com.:443"), "case, trailing dot and port");
    assert!(t.serves_on_sni(sni, "api.secure.example.com"), "covered by the SAN wildcard");
    assert!(t.serves_on_sni(sni, "www.secure.example.com"), "same certificate, other Secret");
    assert!(!t.serves_on_sni(sni, "other.example.com"), "served by another certificate");
    assert!(!t.serves_on_sni(sni, "plain.example.com"), "not covered, default certificate");
    assert!(!t.serves_on_sni(sni, "a.b.secure.example.com"), "a wildcard is one label deep");
    assert!(!t.serves_on_sni("other.example.com", "secure.example.com"));
    assert!(t.serves_on_sni("unknown.example.com", "other.example.com"), "SNI chose none");
    assert!(t.serves_on_sni(sni, ""), "no host: host-less rules only");
    assert!(t.serves_on_sni(sni, "[::1]:443"), "an IP literal names no virtual host");
}
