//! Ingress status: `status.loadBalancer.ingress` of every Ingress we serve,
//! from `--publish-service` (that Service's own load-balancer status and
//! external IPs) or `--publish-address`. Written by the leader only,
//! through the `/status` subresource, and only when it differs.
//! Ingresses of other classes are never touched.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};
use kube::api::{Api, Patch, PatchParams};
use kube::Client;

use crate::snapshot::Snapshot;

/// Where the addresses in Ingress status come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishTarget {
    /// `--publish-service NAMESPACE/NAME`.
    Service { namespace: String, name: String },
    /// `--publish-address ADDR`, repeated: IPs become `ip`, anything else
    /// `hostname`.
    Addresses(Vec<String>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--publish-service: expected NAMESPACE/NAME, got {0:?}")]
pub struct PublishServiceError(pub String);

impl PublishTarget {
    pub fn service(text: &str) -> Result<Self, PublishServiceError> {
        match text.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Self::Service { namespace: ns.to_string(), name: name.to_string() })
            }
            _ => Err(PublishServiceError(text.to_string())),
        }
    }
}

/// The status entries for `--publish-address` values.
pub(crate) fn from_addresses(addresses: &[String]) -> Vec<IngressLoadBalancerIngress> {
    addresses
        .iter()
        .map(|a| match a.parse::<IpAddr>() {
            Ok(_) => IngressLoadBalancerIngress { ip: Some(a.clone()), ..Default::default() },
            Err(_) => {
                IngressLoadBalancerIngress { hostname: Some(a.clone()), ..Default::default() }
            }
        })
        .collect()
}

/// The status entries for a published Service: its load-balancer ingress
/// points, then its `spec.externalIPs`.
pub(crate) fn from_service(service: &Service) -> Vec<IngressLoadBalancerIngress> {
    let mut out: Vec<IngressLoadBalancerIngress> = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .map(|i| IngressLoadBalancerIngress {
            ip: i.ip.clone(),
            hostname: i.hostname.clone(),
            ..Default::default()
        })
        .collect();
    let external =
        service.spec.as_ref().and_then(|s| s.external_ips.as_ref()).into_iter().flatten();
    for ip in external {
        let entry = IngressLoadBalancerIngress { ip: Some(ip.clone()), ..Default::default() };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// The status entries currently on an Ingress.
pub(crate) fn current(ingress: &Ingress) -> Vec<IngressLoadBalancerIngress> {
    ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default()
}

/// Resolve the desired entries: `None` when the published Service does not
/// exist (then status is left alone rather than cleared).
async fn desired(
    client: &Client,
    target: &PublishTarget,
    snapshot: &Snapshot,
) -> Result<Option<Vec<IngressLoadBalancerIngress>>, kube::Error> {
    match target {
        PublishTarget::Addresses(a) => Ok(Some(from_addresses(a))),
        PublishTarget::Service { namespace, name } => {
            let seen = snapshot.services.iter().map(|s| &s.object).find(|s| {
                s.metadata.namespace.as_deref() == Some(namespace)
                    && s.metadata.name.as_deref() == Some(name)
            });
            if let Some(service) = seen {
                return Ok(Some(from_service(service)));
            }
            // Not in the watched namespace (or missing): ask directly.
            let api: Api<Service> = Api::namespaced(client.clone(), namespace);
            Ok(api.get_opt(name).await?.as_ref().map(from_service))
        }
    }
}

/// No Ingress's status is written more often than this.
pub(crate) const MIN_WRITE_INTERVAL: Duration = Duration::from_secs(1);

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pass {
    /// Status PATCHes that succeeded.
    pub written: usize,
    /// Writes held back by [`MIN_WRITE_INTERVAL`]: pass again after this.
    pub again_in: Option<Duration>,
}

/// The leader's status writer, remembering when it last wrote each
/// Ingress so that none is written more than once a second.
#[derive(Default)]
pub(crate) struct StatusWriter {
    last_write: HashMap<(String, String), Instant>,
}

impl StatusWriter {
    /// One pass over every Ingress: one of our classes gets our addresses;
    /// one that is not (it left our classes, or never was) loses any of our
    /// addresses it still carries. An Ingress whose status is already what
    /// it should be is not written.
    pub(crate) async fn sync(
        &mut self,
        client: &Client,
        target: &PublishTarget,
        snapshot: &Snapshot,
        options: &crate::CompileOptions,
    ) -> Result<Pass, kube::Error> {
        let Some(want) = desired(client, target, snapshot).await? else {
            tracing::warn!(?target, "published Service not found; Ingress status left as is");
            return Ok(Pass::default());
        };
        let classes = crate::compile::Classes::new(snapshot, options);
        let now = Instant::now();
        self.last_write.retain(|_, at| now.duration_since(*at) < MIN_WRITE_INTERVAL);
        let mut pass = Pass::default();
        let mut first_error = None;
        for ingress in snapshot.ingresses.iter().map(|i| &i.object) {
            let have = current(ingress);
            let should = if classes.is_ours(ingress) {
                want.clone()
            } else {
                have.iter().filter(|e| !want.contains(e)).cloned().collect()
            };
            if have == should {
                continue;
            }
            let (Some(ns), Some(name)) = (&ingress.metadata.namespace, &ingress.metadata.name)
            else {
                continue;
            };
            let key = (ns.clone(), name.clone());
            if let Some(at) = self.last_write.get(&key) {
                let wait = MIN_WRITE_INTERVAL.saturating_sub(now.duration_since(*at));
                pass.again_in = Some(pass.again_in.map_or(wait, |w| w.min(wait)));
                continue;
            }
            let api: Api<Ingress> = Api::namespaced(client.clone(), ns);
            let patch = serde_json::json!({"status": {"loadBalancer": {"ingress": should}}});
            // One failure does not hold back the other Ingresses; a deleted
            // Ingress (404) needs no status.
            match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => {
                    tracing::info!(ingress = %format!("{ns}/{name}"), "status.loadBalancer updated");
                    self.last_write.insert(key, Instant::now());
                    pass.written += 1;
                }
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => {
                    tracing::warn!(ingress = %format!("{ns}/{name}"), error = %e, "status update failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(pass),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        LoadBalancerIngress, LoadBalancerStatus, ServiceSpec, ServiceStatus,
    };

    #[test]
    fn publish_address_ip_becomes_ip_and_name_becomes_hostname() {
        let got =
            from_addresses(&["203.0.113.7".into(), "2001:db8::1".into(), "lb.example.com".into()]);
        assert_eq!(got[0].ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(got[1].ip.as_deref(), Some("2001:db8::1"));
        assert_eq!(got[2].hostname.as_deref(), Some("lb.example.com"));
        assert!(got[2].ip.is_none());
    }

    #[test]
    fn publish_service_takes_load_balancer_then_external_ips() {
        let service = Service {
            spec: Some(ServiceSpec {
                external_ips: Some(vec!["198.51.100.1".into(), "192.0.2.10".into()]),
                ..Default::default()
            }),
            status: Some(ServiceStatus {
                load_balancer: Some(LoadBalancerStatus {
                    ingress: Some(vec![
                        LoadBalancerIngress { ip: Some("192.0.2.10".into()), ..Default::default() },
                        LoadBalancerIngress {
                            hostname: Some("a.elb.example".into()),
                            ..Default::default()
                        },
                    ]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let got = from_service(&service);
        let ips: Vec<_> = got.iter().map(|i| (i.ip.as_deref(), i.hostname.as_deref())).collect();
        assert_eq!(
            ips,
            vec![
                (Some("192.0.2.10"), None),
                (None, Some("a.elb.example")),
                (Some("198.51.100.1"), None)
            ]
        );
    }

    #[test]
    fn publish_service_flag_needs_namespace_and_name() {
        assert_eq!(
            PublishTarget::service("ingress/ringress"),
            Ok(PublishTarget::Service { namespace: "ingress".into(), name: "ringress".into() })
        );
        assert!(PublishTarget::service("ringress").is_err());
        assert!(PublishTarget::service("a/b/c").is_err());
        assert!(PublishTarget::service("/b").is_err());
    }
}
