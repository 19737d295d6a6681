//! Only the TLS Secrets the controller needs keep their data: those a
//! served Ingress names under `spec.tls[].secretName` (in its own
//! namespace) and the `--default-certificate`. Every other Secret of type
//! `kubernetes.io/tls` in the watched scope is stored as metadata only —
//! its `data` and `stringData` are dropped as it arrives, before the
//! store sees it — so a cluster's other certificates and keys are neither
//! held in this process's memory nor parsed.
//!
//! The wanted set follows the Ingresses: after each change the compile
//! loop recomputes it ([`SecretFilter::update`]); when a Secret becomes
//! wanted whose data was dropped, the Secret watch relists, and the table
//! is compiled once the relist has brought the data back (never from a
//! store that lacks a wanted certificate it could have).

use std::collections::HashSet;
use std::sync::Arc;

use arc_swap::ArcSwap;
use k8s_openapi::api::core::v1::Secret;
use tokio::sync::Notify;

use super::watch::strip;
use crate::compile::{namespace_of, served, CompileOptions};
use crate::snapshot::Snapshot;

/// `(namespace, name)` of a Secret.
pub(super) type SecretKey = (String, String);

/// The Secrets to keep, shared by the Secret watch (which trims what
/// arrives) and the compile loop (which keeps the set current).
#[derive(Default)]
pub(crate) struct SecretFilter {
    wanted: ArcSwap<HashSet<SecretKey>>,
    /// Wakes the Secret watch to list again.
    pub(crate) relist: Arc<Notify>,
}

/// The Secrets the compiler will read for this snapshot.
pub(super) fn referenced(snapshot: &Snapshot, options: &CompileOptions) -> HashSet<SecretKey> {
    let mut wanted: HashSet<SecretKey> = served(snapshot, options)
        .flat_map(|ingress| {
            let ns = namespace_of(&ingress.metadata);
            let tls = ingress.spec.as_ref().and_then(|s| s.tls.as_deref()).unwrap_or_default();
            tls.iter()
                .filter_map(|t| t.secret_name.as_deref().filter(|n| !n.is_empty()))
                .map(move |name| (ns.to_string(), name.to_string()))
        })
        .collect();
    wanted.extend(options.default_certificate.iter().cloned());
    wanted
}

/// Does the Secret carry key material?
pub(crate) fn has_data(secret: &Secret) -> bool {
    secret.data.as_ref().is_some_and(|d| !d.is_empty())
        || secret.string_data.as_ref().is_some_and(|d| !d.is_empty())
}

impl SecretFilter {
    /// What the Secret watch stores of an arriving Secret: the usual strip,
    /// and no data unless the Secret is wanted.
    pub(crate) fn trim(&self, secret: &mut Secret) {
        strip(secret);
        let meta = &secret.metadata;
        let key = (namespace_of(meta).to_string(), meta.name.clone().unwrap_or_default());
        if !self.wanted.load().contains(&key) {
            secret.data = None;
            secret.string_data = None;
        }
    }

    /// Recompute the wanted set from a snapshot. `true` when a newly
    /// wanted Secret is in the store without its data: the caller relists
    /// the Secrets ([`Self::relist`]) and compiles after that, not now.
    #[cfg(test)]
    pub(crate) fn update(&self, snapshot: &Snapshot, options: &CompileOptions) -> bool {
        self.update_to(snapshot, &referenced(snapshot, options))
    }

    /// [`Self::update`] with the set already worked out.
    pub(crate) fn update_to(&self, snapshot: &Snapshot, wanted: &HashSet<SecretKey>) -> bool {
        let before = self.wanted.load();
        if **before == *wanted {
            return false;
        }
        let missing = snapshot.secrets.iter().any(|s| {
            let meta = &s.object.metadata;
            let key = (namespace_of(meta).to_string(), meta.name.clone().unwrap_or_default());
            wanted.contains(&key) && !before.contains(&key) && !has_data(&s.object)
        });
        self.wanted.store(Arc::new(wanted.clone()));
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;

    fn snapshot(yaml: &str) -> Snapshot {
        let mut s = Snapshot::default();
        let d = manifest::parse_str(yaml, None, &mut s);
        assert!(d.is_empty(), "{d:#?}");
        s
    }

    const WORLD: &str = "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: ringress}
spec: {controller: ringress.io/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ours, namespace: shop}
spec:
  ingressClassName: ringress
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: theirs, namespace: shop}
spec:
  ingressClassName: nginx
  tls: [{hosts: [other.example.com], secretName: other-tls}]
";

    fn secret(ns: &str, name: &str) -> Secret {
        let mut s: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns},
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": "CERT", "tls.key": "KEY"},
        }))
        .unwrap();
        s.metadata.namespace = Some(ns.into());
        s
    }

    /// A Secret named by a served Ingress keeps its data; one named only
    /// by another class's Ingress, or by nobody, is stored without it; the
    /// default certificate is kept.
    #[test]
    fn only_referenced_secrets_keep_their_data() {
        let filter = SecretFilter::default();
        let options = CompileOptions {
            default_certificate: Some(("ops".into(), "fallback".into())),
            ..CompileOptions::default()
        };
        assert!(!filter.update(&snapshot(WORLD), &options));
        for (ns, name, kept) in [
            ("shop", "shop-tls", true),
            ("shop", "other-tls", false),
            ("other", "shop-tls", false),
            ("ops", "fallback", true),
            ("shop", "unused", false),
        ] {
            let mut s = secret(ns, name);
            filter.trim(&mut s);
            assert_eq!(has_data(&s), kept, "{ns}/{name}");
            assert_eq!(s.metadata.name.as_deref(), Some(name), "metadata stays");
        }
    }

    /// A Secret that became wanted after its data was dropped asks for a
    /// relist, once; one that arrived after its Ingress does not.
    #[test]
    fn a_newly_wanted_secret_without_data_asks_for_a_relist() {
        let filter = SecretFilter::default();
        let options = CompileOptions::default();
        let mut early = secret("shop", "shop-tls");
        filter.trim(&mut early);
        assert!(!has_data(&early));
        let mut snap = snapshot(WORLD);
        snap.secrets.push(crate::snapshot::Sourced::new(early));
        assert!(filter.update(&snap, &options), "wanted now, data dropped: relist");
        assert!(!filter.update(&snap, &options), "the same set: nothing new");

        let filter = SecretFilter::default();
        let mut snap = snapshot(WORLD);
        assert!(!filter.update(&snap, &options));
        let mut late = secret("shop", "shop-tls");
        filter.trim(&mut late);
        assert!(has_data(&late));
        snap.secrets.push(crate::snapshot::Sourced::new(late));
        assert!(!filter.update(&snap, &options));
    }
}
