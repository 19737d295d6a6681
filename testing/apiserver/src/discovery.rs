//! API discovery, so that `kubectl` can talk to this server: `/version`,
//! `/api`, `/apis` and the resource list of each group version, in the
//! unaggregated (v1) format that every client still accepts.

use serde_json::{json, Value};

/// `(group version, [(plural, kind, namespaced, short names, verbs)])`.
type Group = (&'static str, &'static [(&'static str, &'static str, bool, &'static [&'static str])]);

const READ_WRITE: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];

/// What this server serves, by group version.
const GROUPS: &[Group] = &[
    (
        "v1",
        &[
            ("configmaps", "ConfigMap", true, &["cm"]),
            ("events", "Event", true, &["ev"]),
            ("namespaces", "Namespace", false, &["ns"]),
            ("secrets", "Secret", true, &[]),
            ("services", "Service", true, &["svc"]),
        ],
    ),
    (
        "networking.k8s.io/v1",
        &[("ingressclasses", "IngressClass", false, &[]), ("ingresses", "Ingress", true, &["ing"])],
    ),
    ("discovery.k8s.io/v1", &[("endpointslices", "EndpointSlice", true, &[])]),
    ("coordination.k8s.io/v1", &[("leases", "Lease", true, &[])]),
];

/// The answer to a discovery path, or `None` when `path` is not one.
pub(crate) fn answer(path: &str) -> Option<Value> {
    let path = path.trim_end_matches('/');
    match path {
        "/version" => Some(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-ringress-test",
            "platform": "linux/amd64"
        })),
        "/api" => Some(json!({"kind": "APIVersions", "versions": ["v1"]})),
        "/apis" => Some(group_list()),
        _ => {
            let gv = path.strip_prefix("/api/").or_else(|| path.strip_prefix("/apis/"))?;
            GROUPS.iter().find(|(g, _)| *g == gv).map(|(g, r)| resource_list(g, r))
        }
    }
}

fn group_list() -> Value {
    let groups: Vec<Value> = GROUPS
        .iter()
        .filter_map(|(gv, _)| gv.split_once('/'))
        .map(|(group, version)| {
            let v = json!({"groupVersion": format!("{group}/{version}"), "version": version});
            json!({"name": group, "versions": [v.clone()], "preferredVersion": v})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(gv: &str, resources: &[(&str, &str, bool, &[&str])]) -> Value {
    let mut list = Vec::new();
    for (plural, kind, namespaced, short) in resources {
        let singular = kind.to_ascii_lowercase();
        list.push(json!({
            "name": plural, "singularName": singular, "namespaced": namespaced,
            "kind": kind, "verbs": READ_WRITE, "shortNames": short
        }));
        if *plural == "ingresses" {
            list.push(json!({
                "name": "ingresses/status", "singularName": "", "namespaced": true,
                "kind": kind, "verbs": ["get", "patch", "update"]
            }));
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_is_discoverable() {
        let apis = answer("/apis").unwrap();
        let groups: Vec<&str> = apis["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(groups, ["networking.k8s.io", "discovery.k8s.io", "coordination.k8s.io"]);
        let ing = answer("/apis/networking.k8s.io/v1").unwrap();
        let names: Vec<&str> = ing["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ingressclasses", "ingresses", "ingresses/status"]);
        for (gv, resources) in GROUPS {
            for (plural, kind, namespaced, _) in *resources {
                let r = crate::store::Resource::new(gv, plural);
                assert_eq!(r.kind(), Some(*kind), "{gv} {plural}");
                assert_eq!(r.namespaced(), *namespaced, "{gv} {plural}");
            }
        }
        assert!(answer("/api/v1").is_some());
        assert!(answer("/apis/apps/v1").is_none());
        assert!(answer("/api/v1/namespaces/default/services").is_none());
    }
}
