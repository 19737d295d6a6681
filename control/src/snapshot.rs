//! Plain data in: every Kubernetes object a provider currently sees.
//!
//! Providers (manifests directory, Kubernetes reflectors) fill a [`Snapshot`];
//! the compiler reads it and never does I/O.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

/// Where an object came from, for diagnostics (a manifests file and the
/// index of the document inside it). `None` for objects read from a cluster.
#[derive(Debug, Clone, Eq)]
pub struct Origin {
    /// Shared by every object of the file (a snapshot copies it per object).
    pub file: Arc<std::path::Path>,
    /// Index of the document in the file, from 0, counting non-empty
    /// documents only.
    pub document: usize,
    /// 1-based line where the document starts (0 when unknown).
    pub line: usize,
}

/// The same file is most often the very same shared path (a comparison of
/// two 30,000-object snapshots compares as many origins).
impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.document == other.document
            && self.line == other.line
            && (Arc::ptr_eq(&self.file, &other.file) || self.file == other.file)
    }
}

/// An object together with where it came from. The object is shared, not
/// copied: a provider's store, the snapshots made from it and the status
/// writer all hold the same one.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub object: Arc<T>,
    pub origin: Option<Origin>,
}

impl<T> Sourced<T> {
    #[cfg(test)]
    pub(crate) fn new(object: T) -> Self {
        Self { object: Arc::new(object), origin: None }
    }

    /// An object already shared (a reflector store's), from a cluster.
    pub(crate) fn shared(object: Arc<T>) -> Self {
        Self { object, origin: None }
    }
}

/// The same object (by identity, as a store hands out an unchanged one
/// again), or an equal one.
impl<T: PartialEq> PartialEq for Sourced<T> {
    fn eq(&self, other: &Self) -> bool {
        (Arc::ptr_eq(&self.object, &other.object) || self.object == other.object)
            && self.origin == other.origin
    }
}

/// Every object the compiler reads. Order does not matter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub ingresses: Vec<Sourced<Ingress>>,
    pub ingress_classes: Vec<Sourced<IngressClass>>,
    pub services: Vec<Sourced<Service>>,
    pub endpoint_slices: Vec<Sourced<EndpointSlice>>,
    /// Only Secrets of type `kubernetes.io/tls`.
    pub secrets: Vec<Sourced<Secret>>,
}
