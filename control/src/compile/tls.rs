//! `spec.tls`: SNI names → Secrets (same namespace) → certificates parsed
//! once, here. A missing or malformed Secret gets a diagnostic and its
//! hosts fall back to the default certificate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

use super::host::parse_host;
use super::ownership::Owners;
use super::{namespace_of, namespaced, CompileOptions, Diagnostic, Severity};
use crate::snapshot::{Snapshot, Sourced};
use crate::table::{Certificate, HostMatch, RouteTable};

pub(crate) const TLS_CERT_KEY: &str = "tls.crt";
pub(crate) const TLS_KEY_KEY: &str = "tls.key";

/// Every host listed under `spec.tls[].hosts` of a served Ingress
/// (whether or not its Secret is usable): these hosts redirect plain
/// HTTP to https unless an annotation says otherwise.
#[derive(Default)]
pub(crate) struct TlsHosts {
    exact: std::collections::HashSet<Box<str>>,
    /// Wildcard suffix → the namespace of the first Ingress listing it.
    wildcard: HashMap<Box<str>, Box<str>>,
}

impl TlsHosts {
    /// Is a route host served over TLS? An exact host is covered by its
    /// own name or by the wildcard of its parent (when the exact host's
    /// owner allows the namespace that listed the wildcard); a wildcard
    /// host by the same wildcard; host-less rules never.
    pub(crate) fn covers(&self, host: &HostMatch, owners: &Owners) -> bool {
        match host {
            HostMatch::Exact(h) => {
                self.exact.contains(h)
                    || h.split_once('.')
                        .and_then(|(_, rest)| self.wildcard.get(rest))
                        .is_some_and(|ns| owners.owner(host).is_none_or(|owner| owner.allows(ns)))
            }
            HostMatch::Wildcard(s) => self.wildcard.contains_key(s),
            HostMatch::Any => false,
        }
    }
}

/// Parse a `kubernetes.io/tls` Secret. `Err((field, reason))`; the reason
/// never contains key material.
pub(crate) fn parse_tls_secret(
    secret: &Secret,
    provider: &CryptoProvider,
) -> Result<ParsedKey, (String, String)> {
    let value = |key: &str| -> Option<Vec<u8>> {
        let from_string = secret.string_data.as_ref().and_then(|d| d.get(key));
        let from_data = secret.data.as_ref().and_then(|d| d.get(key));
        from_string.map(|s| s.as_bytes().to_vec()).or_else(|| from_data.map(|b| b.0.clone()))
    };
    let field = |key: &str| format!("data[{key}]");
    let cert_pem =
        value(TLS_CERT_KEY).ok_or_else(|| (field(TLS_CERT_KEY), "missing".to_string()))?;
    let key_pem = value(TLS_KEY_KEY).ok_or_else(|| (field(TLS_KEY_KEY), "missing".to_string()))?;
    let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| (field(TLS_CERT_KEY), format!("not valid PEM: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err((field(TLS_CERT_KEY), "no CERTIFICATE block".to_string()));
    };
    let fingerprint: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, leaf.as_ref())
        .as_ref()
        .try_into()
        .map_err(|_| (field(TLS_CERT_KEY), "digest failed".to_string()))?;
    let key = match rustls_pemfile::private_key(&mut key_pem.as_slice()) {
        Ok(Some(key)) => key,
        Ok(None) => return Err((field(TLS_KEY_KEY), "no PRIVATE KEY block".to_string())),
        // The io::Error from the PEM reader names the section, not its bytes.
        Err(e) => return Err((field(TLS_KEY_KEY), format!("not valid PEM: {e}"))),
    };
    let certified = CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| ("data".to_string(), format!("unusable certificate or key: {e}")))?;
    Ok((Arc::new(certified), fingerprint))
}

struct Parsed {
    key: Arc<CertifiedKey>,
    fingerprint: [u8; 32],
    names: Vec<Box<str>>,
}

pub(crate) fn compile(
    ingresses: &[&Sourced<Ingress>],
    snapshot: &Snapshot,
    options: &CompileOptions,
    owners: &Owners,
    memo: &mut KeyMemo,
    table: &mut RouteTable,
    diagnostics: &mut Vec<Diagnostic>,
) -> TlsHosts {
    // The provider the data plane signs with (docs/benchmarks.md, "TLS"):
    // a key is loaded by the provider that will use it.
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let secrets: SecretIndex<'_> = snapshot
        .secrets
        .iter()
        .filter_map(|s| {
            Some(((namespace_of(&s.object.metadata), s.object.metadata.name.as_deref()?), s))
        })
        .collect();

    memo.next.clear();
    let mut parse = |ns: &str, name: &str, diagnostics: &mut Vec<Diagnostic>| {
        load(&secrets, &provider, memo, ns, name).map_err(|e| {
            let (diag, reason) = *e;
            diagnostics.extend(diag);
            reason
        })
    };

    if let Some((ns, name)) = &options.default_certificate {
        match parse(ns, name, diagnostics) {
            Ok((key, fingerprint)) => {
                table.default_cert = Some(Arc::new(Certificate {
                    key,
                    fingerprint,
                    names: Vec::new(),
                    source: format!("{ns}/{name}").into(),
                }))
            }
            Err(reason) => diagnostics.push(Diagnostic {
                severity: Severity::Error,
                kind: "Secret".into(),
                namespace: Some(ns.clone()),
                name: Some(name.clone()),
                field: String::new(),
                reason: format!("--default-certificate: {reason}"),
                origin: None,
            }),
        }
    }

    let mut hosts = TlsHosts::default();
    // SNI name → (secret key, owning Ingress); the oldest Ingress wins.
    let mut sni: BTreeMap<HostMatch, ((String, String), String)> = BTreeMap::new();
    let mut parsed: BTreeMap<(String, String), Option<Parsed>> = BTreeMap::new();
    for ing in ingresses {
        let meta = &ing.object.metadata;
        let ns = namespace_of(meta);
        let tls = ing.object.spec.as_ref().and_then(|s| s.tls.as_deref()).unwrap_or_default();
        let diag = |severity, field: String, reason: String| {
            Diagnostic::about(severity, "Ingress", meta, ing.origin.as_ref(), field, reason)
        };
        for (k, entry) in tls.iter().enumerate() {
            let secret = entry.secret_name.as_deref().filter(|s| !s.is_empty());
            for (h, host) in entry.hosts.iter().flatten().enumerate() {
                let field = format!("spec.tls[{k}].hosts[{h}]");
                let host = match parse_host(Some(host)) {
                    Ok(HostMatch::Any) => {
                        diagnostics.push(diag(Severity::Error, field, "empty host".into()));
                        continue;
                    }
                    Err(e) => {
                        diagnostics.push(diag(Severity::Error, field, e.to_string()));
                        continue;
                    }
                    Ok(host) => host,
                };
                if let Some(owner) = owners.refusing(&host, ns) {
                    diagnostics.push(diag(
                        Severity::Warning,
                        field,
                        Owners::refusal(&host, owner, ns),
                    ));
                    continue;
                }
                match &host {
                    HostMatch::Exact(h) => {
                        hosts.exact.insert(h.clone());
                    }
                    HostMatch::Wildcard(s) => {
                        hosts.wildcard.entry(s.clone()).or_insert_with(|| ns.into());
                    }
                    HostMatch::Any => {}
                };
                let Some(secret) = secret else {
                    diagnostics.push(diag(
                        Severity::Warning,
                        format!("spec.tls[{k}].secretName"),
                        format!("no secretName: {host} is served with the default certificate"),
                    ));
                    continue;
                };
                let secret_key = (ns.to_string(), secret.to_string());
                if let Some((other, owner)) = sni.get(&host) {
                    if *other != secret_key {
                        diagnostics.push(diag(
                            Severity::Warning,
                            field,
                            format!(
                                "{host} already takes its certificate from Secret {}/{} (Ingress {owner}, older); ignored here",
                                other.0, other.1
                            ),
                        ));
                    }
                    continue;
                }
                let entry = parsed.entry(secret_key.clone()).or_insert_with(|| {
                    match parse(ns, secret, diagnostics) {
                        Ok((key, fingerprint)) => {
                            Some(Parsed { key, fingerprint, names: Vec::new() })
                        }
                        Err(reason) => {
                            diagnostics.push(diag(
                                Severity::Warning,
                                format!("spec.tls[{k}].secretName"),
                                format!("{reason}; its hosts use the default certificate"),
                            ));
                            None
                        }
                    }
                });
                if let Some(p) = entry {
                    p.names.push(host.to_string().into());
                    sni.insert(host, (secret_key, namespaced(meta)));
                }
            }
        }
    }

    std::mem::swap(&mut memo.seen, &mut memo.next);
    memo.next.clear();
    let mut certs: HashMap<(String, String), Arc<Certificate>> = HashMap::new();
    for (key, p) in parsed {
        if let Some(p) = p {
            let cert = Arc::new(Certificate {
                key: p.key,
                fingerprint: p.fingerprint,
                names: p.names,
                source: format!("{}/{}", key.0, key.1).into(),
            });
            table.certificates.push(cert.clone());
            certs.insert(key, cert);
        }
    }
    for (host, (key, _)) in sni {
        let Some(cert) = certs.get(&key) else { continue };
        match host {
            HostMatch::Exact(h) => table.exact_certs.insert(h, cert.clone()),
            HostMatch::Wildcard(s) => table.wildcard_certs.insert(s, cert.clone()),
            HostMatch::Any => None,
        };
    }
    hosts
}

/// A parsed key and the SHA-256 of its leaf certificate.
pub(crate) type ParsedKey = (Arc<CertifiedKey>, [u8; 32]);
/// A diagnostic about the Secret itself (when it exists), and a reason
/// for the object that referred to it.
type LoadError = (Option<Diagnostic>, String);
type SecretIndex<'a> = HashMap<(&'a str, &'a str), &'a Sourced<Secret>>;

/// Keys parsed by an earlier compile, reused while their Secret is the
/// very same object: a compile after a change parses only the Secrets
/// that changed (parsing a key is the costliest step of a compile).
#[derive(Default)]
pub(crate) struct KeyMemo {
    seen: HashMap<(String, String), MemoKey>,
    next: HashMap<(String, String), MemoKey>,
}

/// The Secret (held, so that its address stays its own) and what it gave.
type MemoKey = (Arc<Secret>, Result<ParsedKey, Box<LoadError>>);

/// Find and parse a Secret, through the memo; on failure a diagnostic
/// about the Secret itself (when it exists) and a reason for the referrer.
fn load(
    secrets: &SecretIndex<'_>,
    provider: &CryptoProvider,
    memo: &mut KeyMemo,
    ns: &str,
    name: &str,
) -> Result<ParsedKey, Box<LoadError>> {
    let Some(secret) = secrets.get(&(ns, name)) else {
        return Err(Box::new((
            None,
            format!("Secret {ns}/{name} of type kubernetes.io/tls not found"),
        )));
    };
    let key = (ns.to_string(), name.to_string());
    if let Some(done) = memo.next.get(&key) {
        return done.1.clone();
    }
    let done = match memo.seen.remove(&key) {
        Some(m) if Arc::ptr_eq(&m.0, &secret.object) => m,
        _ => (secret.object.clone(), parse_secret(secret, provider)),
    };
    let result = done.1.clone();
    memo.next.insert(key, done);
    result
}

fn parse_secret(
    secret: &Sourced<Secret>,
    provider: &CryptoProvider,
) -> Result<ParsedKey, Box<LoadError>> {
    let (ns, name) =
        (namespace_of(&secret.object.metadata), secret.object.metadata.name.as_deref());
    let name = name.unwrap_or_default();
    parse_tls_secret(&secret.object, provider).map_err(|(field, reason)| {
        let diag = Diagnostic::about(
            Severity::Error,
            "Secret",
            &secret.object.metadata,
            secret.origin.as_ref(),
            field,
            reason.clone(),
        );
        Box::new((Some(diag), format!("Secret {ns}/{name} is not usable: {reason}")))
    })
}
