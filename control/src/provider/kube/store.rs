//! Each watched kind's objects, one shared copy each, and what every
//! watch event changed of what the compiler reads.
//!
//! kube's reflector store is not used, for three reasons:
//! - it copies every arriving object once more (`Arc::new(obj.clone())`);
//!   here the event's own object is stored;
//! - a relist (after `410 Gone` or a dropped watch) builds a complete
//!   second store beside the first, every object new, so that the cluster
//!   is held twice and the compile memo, which recognises unchanged
//!   objects by their `Arc`, recognises none of them. Here an object that
//!   comes back from a list exactly as the store holds it keeps the store's
//!   `Arc`: the relist holds only what changed, and compiles nothing when
//!   nothing did;
//! - each event is classified at once (did it change anything the compiler
//!   reads?), so that the compile loop never has to fingerprint 30,000
//!   objects to learn that only an Ingress status moved.

use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use kube::Resource;

use crate::table::FastMap;

/// `(namespace, name)`; the namespace is empty for cluster-scoped kinds.
pub(super) type Key = (Box<str>, Box<str>);

pub(super) fn key_of(meta: &ObjectMeta) -> Key {
    (
        meta.namespace.as_deref().unwrap_or_default().into(),
        meta.name.as_deref().unwrap_or_default().into(),
    )
}

/// A kind as the compiler reads it.
pub(super) trait Watched: Resource + Clone + PartialEq + Send + Sync + 'static {
    /// Equal in everything the compiler reads: what the API server alone
    /// moves (`resourceVersion`, `generation`, managed fields) and a
    /// kind's status do not count.
    fn same_for_compiler(a: &Self, b: &Self) -> bool;
}

/// Metadata equal but for the fields the API server moves on every write.
fn same_meta(a: &ObjectMeta, b: &ObjectMeta) -> bool {
    let bare = |m: &ObjectMeta| ObjectMeta {
        resource_version: None,
        generation: None,
        managed_fields: None,
        ..m.clone()
    };
    bare(a) == bare(b)
}

impl Watched for Ingress {
    fn same_for_compiler(a: &Self, b: &Self) -> bool {
        a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
    }
}

impl Watched for IngressClass {
    fn same_for_compiler(a: &Self, b: &Self) -> bool {
        a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
    }
}

impl Watched for Service {
    fn same_for_compiler(a: &Self, b: &Self) -> bool {
        a.spec == b.spec && same_meta(&a.metadata, &b.metadata)
    }
}

impl Watched for EndpointSlice {
    fn same_for_compiler(a: &Self, b: &Self) -> bool {
        a.address_type == b.address_type
            && a.endpoints == b.endpoints
            && a.ports == b.ports
            && same_meta(&a.metadata, &b.metadata)
    }
}

impl Watched for Secret {
    fn same_for_compiler(a: &Self, b: &Self) -> bool {
        a.type_ == b.type_
            && a.data == b.data
            && a.string_data == b.string_data
            && same_meta(&a.metadata, &b.metadata)
    }
}

/// What one watch event did to the store.
pub(super) enum Outcome<K> {
    /// Nothing the store holds moved (the same object again, or one more
    /// object of a list in progress).
    Nothing,
    /// One object appeared, changed or went away. `relevant` is false when
    /// only what the compiler ignores moved (the store still takes it: the
    /// status writer reads it).
    Object { before: Option<Arc<K>>, after: Option<Arc<K>>, relevant: bool },
    /// A list completed and now is the store. `relevant`: something the
    /// compiler reads differs from before.
    Listed { relevant: bool },
}

/// One kind's objects. Written by its watch task, read (as a list of
/// shared objects) by the compile loop.
pub(super) struct Store<K> {
    inner: Arc<Mutex<Inner<K>>>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<K> Default for Store<K> {
    fn default() -> Self {
        Self { inner: Arc::new(Mutex::new(Inner { objects: FastMap::default(), listing: None })) }
    }
}

struct Inner<K> {
    objects: FastMap<Key, Arc<K>>,
    /// A list in progress: what it has brought so far, and whether any of
    /// it differs from `objects`.
    listing: Option<Listing<K>>,
}

struct Listing<K> {
    objects: FastMap<Key, Arc<K>>,
    relevant: bool,
}

impl<K: Watched> Store<K> {
    fn lock(&self) -> MutexGuard<'_, Inner<K>> {
        // A panic while holding the lock leaves a map that is whole (every
        // write is one insert or remove); keep using it.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every object, shared.
    pub(super) fn state(&self) -> Vec<Arc<K>> {
        self.lock().objects.values().cloned().collect()
    }

    /// The object stored under `key`, if any.
    #[cfg(test)]
    pub(super) fn get(&self, key: &Key) -> Option<Arc<K>> {
        self.lock().objects.get(key).cloned()
    }

    /// Apply one watch event (taking its object).
    pub(super) fn apply(&self, event: Event<K>) -> Outcome<K> {
        let mut inner = self.lock();
        match event {
            Event::Apply(object) => {
                let key = key_of(object.meta());
                let before = inner.objects.get(&key).cloned();
                if before.as_deref() == Some(&object) {
                    return Outcome::Nothing;
                }
                let relevant = before.as_deref().is_none_or(|b| !K::same_for_compiler(b, &object));
                let after = Arc::new(object);
                inner.objects.insert(key, after.clone());
                Outcome::Object { before, after: Some(after), relevant }
            }
            Event::Delete(object) => {
                let before = inner.objects.remove(&key_of(object.meta()));
                match before {
                    Some(before) => {
                        Outcome::Object { before: Some(before), after: None, relevant: true }
                    }
                    None => Outcome::Nothing,
                }
            }
            Event::Init => {
                inner.listing = Some(Listing { objects: FastMap::default(), relevant: false });
                Outcome::Nothing
            }
            Event::InitApply(object) => {
                let key = key_of(object.meta());
                let Inner { objects, listing } = &mut *inner;
                let listing = listing.get_or_insert_with(|| Listing {
                    objects: FastMap::default(),
                    relevant: false,
                });
                let kept = match objects.get(&key) {
                    // Listed again as it is: the same shared copy.
                    Some(before) if **before == object => before.clone(),
                    Some(before) => {
                        listing.relevant |= !K::same_for_compiler(before, &object);
                        Arc::new(object)
                    }
                    None => {
                        listing.relevant = true;
                        Arc::new(object)
                    }
                };
                listing.objects.insert(key, kept);
                Outcome::Nothing
            }
            Event::InitDone => {
                let listing = inner
                    .listing
                    .take()
                    .unwrap_or_else(|| Listing { objects: FastMap::default(), relevant: false });
                // Every listed key that was not stored already counted as a
                // change; with as many objects as before, none went away.
                let gone = listing.objects.len() != inner.objects.len();
                inner.objects = listing.objects;
                Outcome::Listed { relevant: listing.relevant || gone }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::{IngressSpec, IngressStatus};

    use super::*;

    fn ingress(name: &str, rv: &str, class: &str) -> Ingress {
        Ingress {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("web".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            spec: Some(IngressSpec {
                ingress_class_name: Some(class.into()),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn key(name: &str) -> Key {
        ("web".into(), name.into())
    }

    fn relevant(o: Outcome<Ingress>) -> Option<bool> {
        match o {
            Outcome::Object { relevant, .. } => Some(relevant),
            Outcome::Listed { relevant } => Some(relevant),
            Outcome::Nothing => None,
        }
    }

    /// A new object and a spec change count; a status write or a new
    /// resourceVersion alone does not; the same object again is nothing.
    #[test]
    fn status_and_resource_versions_do_not_count_but_specs_do() {
        let store = Store::<Ingress>::default();
        assert_eq!(relevant(store.apply(Event::Apply(ingress("a", "1", "x")))), Some(true));
        assert_eq!(relevant(store.apply(Event::Apply(ingress("a", "1", "x")))), None);
        let mut status = ingress("a", "2", "x");
        status.status = Some(IngressStatus::default());
        assert_eq!(relevant(store.apply(Event::Apply(status))), Some(false));
        assert!(store.get(&key("a")).unwrap().status.is_some(), "the store took the status");
        assert_eq!(relevant(store.apply(Event::Apply(ingress("a", "3", "y")))), Some(true));
        assert_eq!(relevant(store.apply(Event::Delete(ingress("a", "3", "y")))), Some(true));
        assert_eq!(relevant(store.apply(Event::Delete(ingress("a", "3", "y")))), None);
    }

    /// A relist that finds every object as it was keeps the very same
    /// shared copies and changes nothing; one that finds a changed, a new
    /// or a missing object does.
    #[test]
    fn a_relist_keeps_unchanged_objects_and_tells_what_changed() {
        let store = Store::<Ingress>::default();
        let list = |store: &Store<Ingress>, objects: Vec<Ingress>| {
            store.apply(Event::Init);
            for o in objects {
                store.apply(Event::InitApply(o));
            }
            match store.apply(Event::InitDone) {
                Outcome::Listed { relevant } => relevant,
                _ => panic!("a completed list"),
            }
        };
        assert!(list(&store, vec![ingress("a", "1", "x"), ingress("b", "1", "x")]));
        let a = store.get(&key("a")).unwrap();
        assert!(!list(&store, vec![ingress("a", "1", "x"), ingress("b", "1", "x")]));
        assert!(Arc::ptr_eq(&a, &store.get(&key("a")).unwrap()), "the same copy is kept");
        assert!(!list(&store, vec![ingress("a", "2", "x"), ingress("b", "1", "x")]), "a new rv");
        assert_eq!(store.get(&key("a")).unwrap().metadata.resource_version.as_deref(), Some("2"));
        assert!(list(&store, vec![ingress("a", "2", "y"), ingress("b", "1", "x")]));
        assert!(list(&store, vec![ingress("a", "2", "y")]), "b went away");
        assert!(store.get(&key("b")).is_none());
        assert!(list(&store, vec![ingress("a", "2", "y"), ingress("c", "1", "x")]), "b for c");
        assert_eq!(store.state().len(), 2);
    }
}
