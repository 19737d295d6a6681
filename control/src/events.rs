//! Kubernetes Events (core/v1) for invalid Ingresses, from the compiler's
//! diagnostics. Each problem is reported once while it lasts; when it goes
//! away and comes back it is reported again. Written by the leader only.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;

use crate::compile::{Diagnostic, Severity};
use crate::snapshot::Snapshot;

/// `reason` of the Events we create.
pub(crate) const REASON_INVALID: &str = "InvalidIngress";
pub(crate) const REASON_WARNING: &str = "IngressWarning";
/// `source.component` / `reportingComponent`.
pub(crate) const COMPONENT: &str = "ringress";

/// (namespace, name, uid, field, reason): one reported problem.
type Problem = (String, String, String, String, String);

pub(crate) struct EventRecorder {
    client: Client,
    instance: String,
    reported: HashSet<Problem>,
}

impl EventRecorder {
    pub(crate) fn new(client: Client, instance: String) -> Self {
        Self { client, instance, reported: HashSet::new() }
    }

    /// Create an Event for every Ingress diagnostic not reported yet;
    /// returns how many were created.
    pub(crate) async fn record(
        &mut self,
        diagnostics: &[Diagnostic],
        snapshot: &Snapshot,
    ) -> usize {
        let mut now_present = HashSet::new();
        let mut created = 0;
        for d in diagnostics.iter().filter(|d| d.kind == "Ingress") {
            let (Some(ns), Some(name)) = (&d.namespace, &d.name) else { continue };
            let ingress = snapshot.ingresses.iter().map(|i| &i.object).find(|i| {
                i.metadata.namespace.as_deref() == Some(ns)
                    && i.metadata.name.as_deref() == Some(name)
            });
            let uid = ingress.and_then(|i| i.metadata.uid.clone()).unwrap_or_default();
            let problem =
                (ns.clone(), name.clone(), uid.clone(), d.field.clone(), d.reason.clone());
            now_present.insert(problem.clone());
            if self.reported.contains(&problem) {
                continue;
            }
            let rv = ingress.and_then(|i| i.metadata.resource_version.clone());
            match self.create(d, ns, name, uid, rv).await {
                Ok(()) => {
                    created += 1;
                    self.reported.insert(problem);
                }
                Err(error) => {
                    tracing::warn!(%error, ingress = %format!("{ns}/{name}"), "could not create Event");
                }
            }
        }
        self.reported.retain(|p| now_present.contains(p));
        created
    }

    async fn create(
        &self,
        d: &Diagnostic,
        ns: &str,
        name: &str,
        uid: String,
        resource_version: Option<String>,
    ) -> Result<(), kube::Error> {
        let now = Time(Timestamp::now());
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{name}.")),
                namespace: Some(ns.to_string()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("networking.k8s.io/v1".into()),
                kind: Some("Ingress".into()),
                namespace: Some(ns.to_string()),
                name: Some(name.to_string()),
                uid: (!uid.is_empty()).then_some(uid),
                resource_version,
                ..ObjectReference::default()
            },
            reason: Some(
                if d.severity == Severity::Error { REASON_INVALID } else { REASON_WARNING }.into(),
            ),
            message: Some(format!("{}: {}", d.field, d.reason)),
            type_: Some("Warning".into()),
            count: Some(1),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            source: Some(EventSource { component: Some(COMPONENT.into()), host: None }),
            reporting_component: Some(crate::CONTROLLER_NAME.into()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
        api.create(&PostParams::default(), &event).await.map(|_| ())
    }
}
