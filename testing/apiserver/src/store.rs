//! The in-memory object store: one global resourceVersion counter, every
//! object as JSON, and the history of changes a watch replays from.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// The kinds this server knows: `(plural, kind, namespaced)`.
const KINDS: &[(&str, &str, bool)] = &[
    ("ingresses", "Ingress", true),
    ("ingressclasses", "IngressClass", false),
    ("services", "Service", true),
    ("endpointslices", "EndpointSlice", true),
    ("secrets", "Secret", true),
    ("leases", "Lease", true),
    ("events", "Event", true),
    ("configmaps", "ConfigMap", true),
    ("namespaces", "Namespace", false),
];

/// A resource type: `apiVersion` (`v1`, `networking.k8s.io/v1`) and plural.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    pub api_version: String,
    pub plural: String,
}

impl Resource {
    pub fn new(api_version: &str, plural: &str) -> Self {
        Self { api_version: api_version.to_string(), plural: plural.to_string() }
    }

    pub fn kind(&self) -> Option<&'static str> {
        KINDS.iter().find(|(p, _, _)| *p == self.plural).map(|(_, k, _)| *k)
    }

    pub fn namespaced(&self) -> bool {
        KINDS.iter().find(|(p, _, _)| *p == self.plural).is_some_and(|(_, _, n)| *n)
    }
}

/// Where one object lives: resource, namespace (`""` when cluster-scoped), name.
pub type Key = (Resource, String, String);

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// One recorded change, replayed to watches that start from an older
/// resourceVersion.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub rv: u64,
    pub resource: Resource,
    pub change: Change,
    pub object: Value,
}

#[derive(Debug, Default)]
pub struct Store {
    pub rv: u64,
    /// Watches and continue tokens older than this are answered 410.
    pub compacted: u64,
    pub objects: BTreeMap<Key, Value>,
    pub history: Vec<Recorded>,
    uid: u64,
}

/// Why a write was refused, as a Kubernetes Status reason and code.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(code: u16, reason: &'static str, message: String) -> Self {
        Self { code, reason, message }
    }
}

impl Store {
    /// Create (`must_exist == Some(false)`), replace (`Some(true)`) or
    /// either (`None`). A replace carrying a resourceVersion that is not the
    /// stored one is a 409 Conflict, as the real API server answers.
    pub fn write(
        &mut self,
        resource: &Resource,
        namespace: &str,
        mut object: Value,
        must_exist: Option<bool>,
    ) -> Result<(Recorded, Value), Refusal> {
        let kind = resource
            .kind()
            .ok_or_else(|| Refusal::new(404, "NotFound", "unknown resource".into()))?;
        if !object.is_object() {
            return Err(Refusal::new(400, "BadRequest", "body is not a JSON object".into()));
        }
        let meta = object
            .as_object_mut()
            .expect("checked above")
            .entry("metadata")
            .or_insert_with(|| json!({}));
        let Some(meta) = meta.as_object_mut() else {
            return Err(Refusal::new(400, "BadRequest", "metadata is not an object".into()));
        };
        if meta.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
            let Some(prefix) = meta.get("generateName").and_then(Value::as_str) else {
                return Err(Refusal::new(422, "Invalid", "metadata.name: Required value".into()));
            };
            self.uid += 1;
            meta.insert("name".into(), Value::String(format!("{prefix}{:05}", self.uid)));
        }
        let name = meta["name"].as_str().unwrap_or_default().to_string();
        if resource.namespaced() {
            meta.insert("namespace".into(), Value::String(namespace.to_string()));
        } else {
            meta.remove("namespace");
        }
        let key = (
            resource.clone(),
            if resource.namespaced() { namespace.to_string() } else { String::new() },
            name,
        );
        let existing = self.objects.get(&key);
        match (must_exist, existing) {
            (Some(false), Some(_)) => {
                return Err(Refusal::new(
                    409,
                    "AlreadyExists",
                    format!("{} \"{}\" already exists", resource.plural, key.2),
                ))
            }
            (Some(true), None) => {
                return Err(Refusal::new(
                    404,
                    "NotFound",
                    format!("{} \"{}\" not found", resource.plural, key.2),
                ))
            }
            _ => {}
        }
        if let (Some(old), Some(sent)) =
            (existing, meta.get("resourceVersion").and_then(Value::as_str))
        {
            let current = old["metadata"]["resourceVersion"].as_str().unwrap_or_default();
            if must_exist == Some(true) && !sent.is_empty() && sent != current {
                return Err(Refusal::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                        resource.plural, key.2
                    ),
                ));
            }
        }
        let change = if existing.is_some() { Change::Modified } else { Change::Added };
        match existing {
            Some(old) => {
                for field in ["uid", "creationTimestamp"] {
                    if let Some(v) = old["metadata"].get(field) {
                        meta.insert(field.into(), v.clone());
                    }
                }
            }
            None => {
                self.uid += 1;
                meta.entry("uid").or_insert_with(|| {
                    Value::String(format!("00000000-0000-4000-8000-{:012}", self.uid))
                });
                meta.entry("creationTimestamp")
                    .or_insert_with(|| Value::String("2026-01-01T00:00:00Z".into()));
            }
        }
        self.rv += 1;
        meta.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        let map = object.as_object_mut().expect("checked above");
        map.insert("apiVersion".into(), Value::String(resource.api_version.clone()));
        map.insert("kind".into(), Value::String(kind.to_string()));
        self.objects.insert(key, object.clone());
        let recorded =
            Recorded { rv: self.rv, resource: resource.clone(), change, object: object.clone() };
        self.history.push(recorded.clone());
        Ok((recorded, object))
    }

    pub fn delete(
        &mut self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Recorded, Refusal> {
        let ns = if resource.namespaced() { namespace } else { "" };
        let key = (resource.clone(), ns.to_string(), name.to_string());
        let Some(mut object) = self.objects.remove(&key) else {
            return Err(Refusal::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", resource.plural),
            ));
        };
        self.rv += 1;
        object["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        let recorded =
            Recorded { rv: self.rv, resource: resource.clone(), change: Change::Deleted, object };
        self.history.push(recorded.clone());
        Ok(recorded)
    }

    pub fn get(&self, resource: &Resource, namespace: &str, name: &str) -> Option<&Value> {
        let ns = if resource.namespaced() { namespace } else { "" };
        self.objects.get(&(resource.clone(), ns.to_string(), name.to_string()))
    }

    /// Objects of `resource` (in `namespace` if given) sorted by key, after
    /// `after` (a `namespace/name` continue position).
    pub fn list<'a>(
        &'a self,
        resource: &'a Resource,
        namespace: Option<&'a str>,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = (String, &'a Value)> + 'a {
        self.objects
            .iter()
            .filter(move |((r, ns, _), _)| r == resource && namespace.is_none_or(|want| want == ns))
            .map(|((_, ns, name), v)| (format!("{ns}/{name}"), v))
            .filter(move |(pos, _)| after.is_none_or(|a| pos.as_str() > a))
    }
}

/// A parsed label or field selector: `k=v`, `k==v`, `k!=v`, `k`, `!k`,
/// comma-separated (all must hold).
#[derive(Debug, Clone, Default)]
pub struct Selector(Vec<Term>);

#[derive(Debug, Clone)]
enum Term {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    Absent(String),
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for raw in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let term = if let Some((k, v)) = raw.split_once("!=") {
                Term::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = raw.split_once("==").or_else(|| raw.split_once('=')) {
                Term::Eq(k.trim().into(), v.trim().into())
            } else if raw.contains(' ') || raw.contains('(') {
                return Err(format!("unsupported selector term {raw:?}"));
            } else if let Some(k) = raw.strip_prefix('!') {
                Term::Absent(k.into())
            } else {
                Term::Exists(raw.into())
            };
            terms.push(term);
        }
        Ok(Self(terms))
    }

    /// Match labels: `get(key)` returns the label value.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|t| match t {
            Term::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
            Term::Ne(k, v) => get(k).as_deref() != Some(v.as_str()),
            Term::Exists(k) => get(k).is_some(),
            Term::Absent(k) => get(k).is_none(),
        })
    }
}

pub fn label_of(object: &Value, key: &str) -> Option<String> {
    object["metadata"]["labels"].get(key).and_then(Value::as_str).map(str::to_string)
}

/// A field by dotted path (`metadata.name`, `type`, `spec.nodeName`).
pub fn field_of(object: &Value, path: &str) -> Option<String> {
    let mut v = object;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object above");
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The label and field selectors of one list or watch request.
pub(crate) struct Selectors {
    pub(crate) labels: Selector,
    pub(crate) fields: Selector,
}

impl Selectors {
    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.labels.matches(|k| label_of(object, k)) && self.fields.matches(|k| field_of(object, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_replaces_lists_and_removes_nulls() {
        let mut t = json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        merge_patch(&mut t, &json!({"a": {"c": [3], "e": "x"}, "d": null}));
        assert_eq!(t, json!({"a": {"b": 1, "c": [3], "e": "x"}}));
    }

    #[test]
    fn selector_terms() {
        let s = Selector::parse("app=web,tier!=db,env,!legacy").unwrap();
        let labels = |k: &str| match k {
            "app" => Some("web".to_string()),
            "env" => Some("prod".to_string()),
            _ => None,
        };
        assert!(s.matches(labels));
        assert!(!Selector::parse("app=api").unwrap().matches(labels));
        assert!(Selector::parse("x in (a,b)").is_err());
    }

    #[test]
    fn replace_with_stale_resource_version_conflicts() {
        let mut store = Store::default();
        let r = Resource::new("coordination.k8s.io/v1", "leases");
        let (_, created) =
            store.write(&r, "ns", json!({"metadata": {"name": "l"}}), Some(false)).unwrap();
        let mut stale = created.clone();
        stale["metadata"]["resourceVersion"] = json!("0");
        let err = store.write(&r, "ns", stale, Some(true)).unwrap_err();
        assert_eq!(err.code, 409);
        assert!(store.write(&r, "ns", created, Some(true)).is_ok());
        assert_eq!(
            store
                .write(&r, "ns", json!({"metadata": {"name": "l"}}), Some(false))
                .unwrap_err()
                .code,
            409
        );
    }
}
