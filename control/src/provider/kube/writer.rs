//! The leader's writer: Ingress status ([`crate::status`]) and Events
//! ([`crate::events`]) from each compile, written only while this replica
//! leads.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use kube::Client;
use tokio::sync::watch;

use super::{Compiled, KubeConfig};
use crate::events::EventRecorder;
use crate::status;

/// The leader's writer: after each compile, on becoming leader, and every
/// `status_resync`, write status and Events if we lead.
pub(crate) async fn run_writer(
    client: Client,
    config: KubeConfig,
    mut leader: watch::Receiver<bool>,
    mut compiled: watch::Receiver<Arc<Compiled>>,
) {
    let identity = config.election.as_ref().map(|e| e.identity.clone()).unwrap_or_default();
    let mut events = EventRecorder::new(client.clone(), identity);
    let stats = config.stats.clone();
    let mut writer = status::StatusWriter::default();
    // A pass that held writes back (one per Ingress per second) comes
    // again sooner than the resync.
    let mut next_pass = config.status_resync;
    loop {
        tokio::select! {
            r = leader.changed() => if r.is_err() { return },
            r = compiled.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(next_pass) => {}
        }
        next_pass = config.status_resync;
        let leading = *leader.borrow_and_update();
        stats.leader.store(leading, Ordering::Relaxed);
        if !leading || !stats.is_synced() {
            continue;
        }
        let current = compiled.borrow_and_update().clone();
        if let Some(target) = &config.publish {
            match writer.sync(&client, target, &current.snapshot, &config.compile).await {
                Ok(pass) => {
                    stats.status_updates.fetch_add(pass.written as u64, Ordering::Relaxed);
                    stats.status_passes.fetch_add(1, Ordering::Relaxed);
                    if let Some(wait) = pass.again_in {
                        next_pass = wait.min(config.status_resync);
                    }
                }
                Err(error) => {
                    stats.status_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "writing Ingress status failed; retrying later");
                }
            }
        }
        let created = events.record(&current.diagnostics, &current.snapshot).await;
        stats.events_created.fetch_add(created as u64, Ordering::Relaxed);
    }
}
