//! Leader election on a `coordination.k8s.io/v1` Lease, the client-go way.
//!
//! Every replica serves traffic; only the leader writes Ingress status and
//! Events, so replicas never fight over them. The scheme:
//!
//! - get the Lease; on 404 create it holding it ourselves (a 409 means
//!   another replica created it first);
//! - if another holder renewed it less than `leaseDurationSeconds` ago
//!   (measured on our own clock from when we last saw the record change,
//!   so clock skew between nodes does not matter), stay a follower;
//! - otherwise update it with us as holder, carrying the resourceVersion
//!   we read: a 409 Conflict means someone else won this round;
//! - the leader renews every `renew_period`; it steps down when it could
//!   not renew for `renew_deadline`, and releases the Lease (empty holder)
//!   when it shuts down, so a follower takes over at its next retry.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;
use tokio::sync::watch;
use tokio::time::Instant;

/// Default Lease name.
pub const DEFAULT_LEASE_NAME: &str = "ringress-leader";

#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The controller's own namespace (`POD_NAMESPACE`).
    pub namespace: String,
    pub name: String,
    /// Holder identity (`POD_NAME`); unique per replica.
    pub identity: String,
    pub lease_duration: Duration,
    /// How often the leader renews.
    pub renew_period: Duration,
    /// The leader steps down when it could not renew for this long; every
    /// API call of a round is bounded by what is left of it.
    pub renew_deadline: Duration,
    /// How often a follower tries to acquire (plus up to 1.2 times as much
    /// jitter, as client-go's `JitterFactor`).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// client-go's timings, scaled from `lease_duration` (15 s by default:
    /// renew deadline 10 s, renew and retry every 2 s).
    pub fn new(namespace: &str, identity: &str, lease_duration: Duration) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: DEFAULT_LEASE_NAME.to_string(),
            identity: identity.to_string(),
            lease_duration,
            renew_period: lease_duration * 2 / 15,
            renew_deadline: lease_duration * 2 / 3,
            retry_period: lease_duration * 2 / 15,
        }
    }
}

/// `period` plus a random part of up to 1.2 times `period`, so followers
/// do not retry in step.
fn jittered(period: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    period + period.mul_f64(1.2 * unit)
}

/// The Lease record as last observed, and when (on our clock).
struct Observed {
    resource_version: Option<String>,
    at: Instant,
}

pub(crate) struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<Observed>,
}

impl Elector {
    pub(crate) fn new(client: Client, config: LeaseConfig) -> Self {
        Self { api: Api::namespaced(client, &config.namespace), config, observed: None }
    }

    fn seconds(d: Duration) -> i32 {
        i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// One round: acquire or renew. `Ok(true)` when we hold the Lease.
    pub(crate) async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let me = self.config.identity.clone();
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(Self::seconds(self.config.lease_duration)),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.is_already_exists() || s.is_conflict() => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let rv = lease.metadata.resource_version.clone();
        if self.observed.as_ref().is_none_or(|o| o.resource_version != rv) {
            self.observed = Some(Observed { resource_version: rv, at: Instant::now() });
        }
        let observed_at = self.observed.as_ref().map_or_else(Instant::now, |o| o.at);
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.lease_duration, Duration::from_secs);
        let ours = holder.as_deref() == Some(me.as_str());
        if !ours && holder.is_some() && observed_at.elapsed() < duration {
            return Ok(false);
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(me),
            lease_duration_seconds: Some(Self::seconds(self.config.lease_duration)),
            acquire_time: if ours { spec.acquire_time } else { Some(now.clone()) },
            renew_time: Some(now),
            lease_transitions: Some(spec.lease_transitions.unwrap_or(0) + i32::from(!ours)),
            ..spec
        });
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Give the Lease up if we hold it: empty holder, so a follower takes
    /// over at its next retry instead of waiting for the lease to expire.
    pub(crate) async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else { return Ok(()) };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            renew_time: Some(MicroTime(Timestamp::now())),
            ..spec
        });
        self.api.replace(&self.config.name, &PostParams::default(), &lease).await.map(|_| ())
    }
}

/// Run the election until `stop` changes (or its sender is dropped),
/// reporting leadership on `leader`. Releases the Lease on the way out.
pub(crate) async fn run(
    client: Client,
    config: LeaseConfig,
    leader: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut elector = Elector::new(client, config.clone());
    let mut last_renew: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        // A leader's round must end before its renew deadline; a follower's
        // is bounded by a whole renew deadline. An API call that hangs is
        // dropped at the bound, and a leader that could not renew in time
        // stops leading before its Lease can expire for the others.
        let leading = *leader.borrow();
        let budget = match last_renew {
            Some(at) if leading => {
                (at + config.renew_deadline).saturating_duration_since(Instant::now())
            }
            _ => config.renew_deadline,
        };
        let round = tokio::select! {
            r = tokio::time::timeout(budget, elector.try_acquire_or_renew()) => r,
            _ = stop.changed() => break,
        };
        let holding = match round {
            Err(_elapsed) => {
                tracing::warn!(
                    lease = %format!("{}/{}", config.namespace, config.name),
                    "lease update did not answer within the renew deadline{}",
                    if leading { "; stepping down" } else { "" }
                );
                false
            }
            Ok(Ok(true)) => {
                last_renew = Some(Instant::now());
                true
            }
            Ok(Ok(false)) => false,
            Ok(Err(error)) => {
                let keep = *leader.borrow()
                    && last_renew.is_some_and(|t| t.elapsed() < config.renew_deadline);
                tracing::warn!(
                    %error,
                    lease = %format!("{}/{}", config.namespace, config.name),
                    "lease update failed{}",
                    if keep { "; still leading until the renew deadline" } else { "" }
                );
                keep
            }
        };
        if holding != *leader.borrow() {
            if holding {
                tracing::info!(identity = %config.identity, "acquired the lease; writing status");
            } else {
                tracing::info!(identity = %config.identity, "not the leader; status writes stop");
            }
            leader.send_replace(holding);
        }
        let pause = if holding { config.renew_period } else { jittered(config.retry_period) };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => break,
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        match tokio::time::timeout(config.renew_deadline, elector.release()).await {
            Ok(Ok(())) => tracing::info!(identity = %config.identity, "released the lease"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not release the lease; it expires on its own")
            }
            Err(_) => tracing::warn!("releasing the lease did not answer; it expires on its own"),
        }
    }
}
