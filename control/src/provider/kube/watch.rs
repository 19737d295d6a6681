//! One watcher + reflector per kind, with errors counted and a back-off
//! that only resets on progress.

use std::fmt::Debug;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Resource;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::store::{Outcome, Store, Watched};
use super::{Backoff, KubeStats};

/// Wakes the compile loop: to compile (something the table is made of
/// changed), or only to hand the status writer the stores as they are now
/// (an Ingress's status moved).
#[derive(Default)]
pub(super) struct Wake {
    notify: Notify,
    compile: std::sync::atomic::AtomicBool,
}

impl Wake {
    pub(super) fn compile(&self) {
        self.compile.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub(super) fn touch(&self) {
        self.notify.notify_one();
    }

    pub(super) async fn notified(&self) {
        self.notify.notified().await
    }

    /// Whether a compile was asked for since the last call.
    pub(super) fn take_compile(&self) -> bool {
        self.compile.swap(false, Ordering::AcqRel)
    }
}

/// Does a change from `before` to `after` (either absent: created, deleted)
/// concern an object the compiler reads (see `interest`)?
pub(super) type Judge<K> = Arc<dyn Fn(Option<&K>, Option<&K>) -> bool + Send + Sync>;

/// The watcher and store for one kind, plus how to name it in logs.
pub(super) struct Watch<K: Resource + Clone + 'static>
where
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    pub(super) api: Api<K>,
    pub(super) config: watcher::Config,
    pub(super) store: Store<K>,
    pub(super) judge: Judge<K>,
    /// Whether the status writer reads this object (every Ingress, the
    /// `--publish-service`): a change the compiler ignores still hands it
    /// the new objects.
    pub(super) status_reads: Arc<dyn Fn(&K) -> bool + Send + Sync>,
    /// `ingresses.networking.k8s.io` — the RBAC resource name, for logs.
    pub(super) rbac_name: &'static str,
    pub(super) scope: String,
    pub(super) backoff: Backoff,
    /// Set once this kind completed its first full list.
    pub(super) synced: Arc<std::sync::atomic::AtomicBool>,
    /// What is kept of each arriving object (by default [`strip`]).
    pub(super) trim: Arc<dyn Fn(&mut K) + Send + Sync>,
    /// When notified, the watch lists again from scratch (the store is
    /// swapped when that list completes).
    pub(super) relist: Option<Arc<Notify>>,
}

/// Remove what the compiler never reads, so the stores stay small:
/// managed fields and the `kubectl apply` last-applied copy.
pub(crate) fn strip<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

impl<K> Watch<K>
where
    K: Watched + DeserializeOwned + Debug,
    K::DynamicType: std::hash::Hash + Eq + Clone + Default,
{
    /// Drive the watcher for ever, applying events to the store and
    /// waking the compiler when the store changed. Errors are logged,
    /// counted and followed by a growing pause; they never end the loop.
    pub(super) async fn run(mut self, changed: Arc<Wake>, stats: Arc<KubeStats>) {
        let mut failing = false;
        loop {
            let trim = self.trim.clone();
            let stream =
                watcher::watcher(self.api.clone(), self.config.clone()).modify(move |o| trim(o));
            let mut stream = std::pin::pin!(stream);
            loop {
                let next = stream.next();
                let item = match self.relist.clone() {
                    Some(relist) => tokio::select! {
                        item = next => item,
                        _ = relist.notified() => {
                            tracing::debug!(kind = self.rbac_name, "relisting on request");
                            break;
                        }
                    },
                    None => next.await,
                };
                let Some(item) = item else { return };
                self.handle(item, &mut failing, &changed, &stats).await;
            }
        }
    }

    /// One item of the watch stream: an event into the store, or an error
    /// logged and followed by a pause.
    async fn handle(
        &mut self,
        item: Result<Event<K>, watcher::Error>,
        failing: &mut bool,
        changed: &Wake,
        stats: &KubeStats,
    ) {
        match item {
            Ok(event) => {
                let progress = !matches!(event, Event::Init | Event::InitApply(_));
                if matches!(event, Event::Init) {
                    stats.relists.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(kind = self.rbac_name, "listing");
                }
                let done = matches!(event, Event::InitDone);
                let outcome = self.store.apply(event);
                if progress {
                    if *failing {
                        tracing::info!(kind = self.rbac_name, "watch recovered");
                        *failing = false;
                    }
                    self.backoff.reset();
                }
                let first = done && !self.synced.swap(true, Ordering::AcqRel);
                if first {
                    tracing::info!(kind = self.rbac_name, "initial list complete");
                }
                match outcome {
                    Outcome::Nothing => {}
                    Outcome::Object { before, after, relevant } => {
                        if relevant && (self.judge)(before.as_deref(), after.as_deref()) {
                            changed.compile();
                        } else if before.iter().chain(&after).any(|o| (self.status_reads)(o)) {
                            changed.touch();
                        }
                    }
                    // The first list always compiles (the loop waits for
                    // every kind); a relist only when it found a change. Every
                    // completed list wakes the loop, which may be waiting for
                    // one (a Secret relist).
                    Outcome::Listed { relevant } if relevant || first => changed.compile(),
                    Outcome::Listed { .. } => changed.touch(),
                }
            }
            Err(error) => {
                *failing = true;
                stats.watch_errors.fetch_add(1, Ordering::Relaxed);
                let pause = self.backoff.next_delay();
                self.log_error(&error, pause, stats);
                tokio::time::sleep(pause).await;
            }
        }
    }

    fn log_error(&self, error: &watcher::Error, pause: Duration, stats: &KubeStats) {
        let status = match error {
            watcher::Error::InitialListFailed(kube::Error::Api(s))
            | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.as_ref()),
            watcher::Error::WatchError(s) => Some(s.as_ref()),
            _ => None,
        };
        let verb = match error {
            watcher::Error::InitialListFailed(_) => "list",
            _ => "watch",
        };
        match status {
            Some(s) if s.is_forbidden() => {
                stats.forbidden.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    kind = self.rbac_name,
                    scope = %self.scope,
                    retry_in = ?pause,
                    "forbidden: the service account may not {verb} {} ({}); grant list and watch \
                     on {} (see deploy/base/rbac.yaml)",
                    self.rbac_name,
                    self.scope,
                    self.rbac_name,
                );
            }
            Some(s) if s.code == 410 => {
                tracing::info!(
                    kind = self.rbac_name,
                    "resourceVersion expired; relisting, keeping the current table"
                );
            }
            _ => {
                tracing::warn!(kind = self.rbac_name, retry_in = ?pause, %error, "watch error; keeping the current table");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::Ingress;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};

    use super::strip;

    /// Managed fields and the last-applied copy are dropped before an
    /// object is stored; the annotations the compiler reads stay.
    #[test]
    fn strip_drops_what_the_compiler_never_reads() {
        let mut ingress = Ingress {
            metadata: ObjectMeta {
                managed_fields: Some(vec![ManagedFieldsEntry::default()]),
                annotations: Some(
                    [
                        ("kubectl.kubernetes.io/last-applied-configuration", "{…}"),
                        ("kubernetes.io/ingress.class", "ringress"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Ingress::default()
        };
        strip(&mut ingress);
        assert!(ingress.metadata.managed_fields.is_none());
        let annotations = ingress.metadata.annotations.unwrap();
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations["kubernetes.io/ingress.class"], "ringress");
    }
}
