//! What the compiler reads of a snapshot, reduced to one number, so that
//! changes it ignores (Ingress status, resourceVersions, relists that found
//! nothing new) do not publish an identical table under a new generation.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use kube::Resource;
use serde::Serialize;

use crate::snapshot::{Snapshot, Sourced};

/// Order-independent: the stores hand objects out in hash-map order.
pub(super) fn of(snapshot: &Snapshot) -> u64 {
    let mut sum = 0u64;
    sum = add(sum, 1, &snapshot.ingresses, |i| i.status = None);
    sum = add(sum, 2, &snapshot.ingress_classes, |_| {});
    sum = add(sum, 3, &snapshot.services, |_| {});
    sum = add(sum, 4, &snapshot.endpoint_slices, |_| {});
    add(sum, 5, &snapshot.secrets, |_| {})
}

fn add<K: Resource + Serialize + Clone>(
    mut sum: u64,
    kind: u8,
    objects: &[Sourced<K>],
    ignore: impl Fn(&mut K),
) -> u64 {
    for object in objects {
        let mut object = object.object.clone();
        ignore(&mut object);
        let meta = object.meta_mut();
        meta.resource_version = None;
        meta.generation = None;
        let mut h = DefaultHasher::new();
        kind.hash(&mut h);
        // Serialization of k8s-openapi types cannot fail (maps have string keys).
        serde_json::to_vec(&object).unwrap_or_default().hash(&mut h);
        sum = sum.wrapping_add(h.finish());
    }
    sum.wrapping_add(objects.len() as u64)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::{Ingress, IngressSpec, IngressStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn ingress(name: &str, rv: &str, class: &str) -> Sourced<Ingress> {
        Sourced::new(Ingress {
            metadata: ObjectMeta {
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            spec: Some(IngressSpec {
                ingress_class_name: Some(class.into()),
                ..Default::default()
            }),
            status: None,
        })
    }

    #[test]
    fn status_order_and_resource_versions_do_not_count_but_specs_do() {
        let a = Snapshot {
            ingresses: vec![ingress("a", "1", "x"), ingress("b", "2", "x")],
            ..Default::default()
        };
        let mut b = Snapshot {
            ingresses: vec![ingress("b", "7", "x"), ingress("a", "9", "x")],
            ..Default::default()
        };
        b.ingresses[0].object.status = Some(IngressStatus::default());
        assert_eq!(of(&a), of(&b));
        b.ingresses[1].object.spec.as_mut().unwrap().ingress_class_name = Some("y".into());
        assert_ne!(of(&a), of(&b));
        let c = Snapshot { ingresses: vec![ingress("a", "1", "x")], ..Default::default() };
        assert_ne!(of(&a), of(&c));
    }
}
