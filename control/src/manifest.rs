//! Kubernetes manifests as text → [`Snapshot`] objects.
//!
//! A YAML file holds any number of `---`-separated documents (JSON is YAML,
//! so JSON documents work there too); a `.json` file holds one or more
//! concatenated JSON documents. A `kind: List` is unpacked. Documents are
//! parsed one by one, so a broken document costs only itself. Kinds other
//! than the five ringress reads are ignored with a debug log; Secrets other
//! than `kubernetes.io/tls` likewise.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::compile::{Diagnostic, Severity};
use crate::snapshot::{Origin, Snapshot, Sourced};

pub(crate) const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

/// Parse YAML text (one or more documents) into `snapshot`. `file` names
/// the origin in diagnostics.
pub fn parse_str(text: &str, file: Option<&Path>, snapshot: &mut Snapshot) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let file = origin_file(file);
    for (document, (line, chunk)) in split_yaml(text).into_iter().enumerate() {
        let origin = Origin { file: file.clone(), document, line };
        match serde_yaml::from_str::<serde_yaml::Value>(chunk) {
            Ok(serde_yaml::Value::Null) => {}
            Ok(value) => match serde_json::to_value(&value) {
                Ok(json) => add_object(json, &origin, "", snapshot, &mut diagnostics),
                Err(e) => {
                    diagnostics.push(syntax(&origin, format!("not a Kubernetes object: {e}")))
                }
            },
            Err(e) => {
                let at = e.location().map(|l| l.line() + line.saturating_sub(1));
                let mut reason = e.to_string();
                if let Some(i) = reason.find(" at line ") {
                    reason.truncate(i);
                }
                let reason = match at {
                    Some(at) => format!("YAML syntax error at line {at}: {reason}"),
                    None => format!("YAML syntax error: {reason}"),
                };
                diagnostics.push(syntax(&origin, reason));
            }
        }
    }
    diagnostics
}

/// One shared path for every object of a file (empty: no file).
fn origin_file(file: Option<&Path>) -> std::sync::Arc<Path> {
    std::sync::Arc::from(file.unwrap_or(Path::new("")))
}

/// Parse concatenated JSON documents into `snapshot`.
pub(crate) fn parse_json_str(
    text: &str,
    file: Option<&Path>,
    snapshot: &mut Snapshot,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let file = origin_file(file);
    let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for (document, value) in stream.enumerate() {
        let origin = Origin { file: file.clone(), document, line: 0 };
        match value {
            Ok(json) => add_object(json, &origin, "", snapshot, &mut diagnostics),
            Err(e) => {
                let origin = Origin { line: e.line(), ..origin };
                diagnostics.push(syntax(&origin, format!("JSON syntax error: {e}")));
                // The stream cannot resynchronise after a syntax error.
                break;
            }
        }
    }
    diagnostics
}

fn syntax(origin: &Origin, reason: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        kind: String::new(),
        namespace: None,
        name: None,
        field: String::new(),
        reason,
        origin: Some(origin.clone()),
    }
}

/// Split YAML text at document markers (`---` at the start of a line; a
/// `...` line ends a document). Returns each non-blank document with the
/// 1-based line it starts on.
fn split_yaml(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    let mut push = |from: usize, to: usize, line: usize| {
        let chunk = &text[from..to];
        let blank = chunk.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l.starts_with('%')
        });
        if !blank {
            docs.push((line, chunk));
        }
    };
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\r', '\n']);
        let marker = bare == "---"
            || bare.starts_with("--- ")
            || bare.starts_with("---\t")
            || bare == "..."
            || bare.starts_with("... ");
        if marker {
            push(start, offset, start_line);
            // `--- value` keeps `value` in the new document.
            if bare.len() > 3 && bare.starts_with("---") {
                start = offset + 3;
                start_line = n + 1;
            } else {
                start = offset + line.len();
                start_line = n + 2;
            }
        }
        offset += line.len();
    }
    push(start.min(text.len()), text.len(), start_line);
    docs
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Sort one decoded document into the snapshot.
fn add_object(
    json: Value,
    origin: &Origin,
    prefix: &str,
    snapshot: &mut Snapshot,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let kind = str_at(&json, &["kind"]).unwrap_or("").to_string();
    let api_version = str_at(&json, &["apiVersion"]).unwrap_or("").to_string();
    let name = str_at(&json, &["metadata", "name"]).map(str::to_string);
    let namespace = str_at(&json, &["metadata", "namespace"]).map(str::to_string);
    let error = |field: String, reason: String| Diagnostic {
        severity: Severity::Error,
        kind: kind.clone(),
        namespace: namespace.clone().or_else(|| name.as_ref().map(|_| "default".to_string())),
        name: name.clone(),
        field,
        reason,
        origin: Some(origin.clone()),
    };
    if !json.is_object() {
        diagnostics.push(error(prefix.trim_end_matches('.').into(), "not a mapping".into()));
        return;
    }
    let expected = match kind.as_str() {
        "List" | "IngressList" | "ServiceList" | "EndpointSliceList" | "SecretList"
        | "IngressClassList" => {
            let Value::Object(mut map) = json else { return };
            let items = match map.remove("items") {
                Some(Value::Array(items)) => items,
                Some(_) => {
                    diagnostics.push(error(format!("{prefix}items"), "must be a list".into()));
                    return;
                }
                None => Vec::new(),
            };
            for (i, item) in items.into_iter().enumerate() {
                add_object(item, origin, &format!("{prefix}items[{i}]."), snapshot, diagnostics);
            }
            return;
        }
        "Ingress" | "IngressClass" => "networking.k8s.io/v1",
        "Service" | "Secret" => "v1",
        "EndpointSlice" => "discovery.k8s.io/v1",
        "" => {
            diagnostics.push(error(format!("{prefix}kind"), "missing".into()));
            return;
        }
        other => {
            tracing::debug!(kind = other, file = %origin.file.display(), document = origin.document, "kind not read by ringress; ignored");
            return;
        }
    };
    if api_version != expected {
        diagnostics.push(error(
            format!("{prefix}apiVersion"),
            format!("\"{api_version}\" is not supported for {kind}; use {expected}"),
        ));
        return;
    }
    if name.as_deref().is_none_or(str::is_empty) {
        diagnostics.push(error(format!("{prefix}metadata.name"), "required".into()));
        return;
    }
    let origin = Some(origin.clone());
    let result = match kind.as_str() {
        "Ingress" => {
            decode(json).map(|o| snapshot.ingresses.push(Sourced { object: Arc::new(o), origin }))
        }
        "IngressClass" => {
            decode(json).map(|o| snapshot.ingress_classes.push(Sourced { object: Arc::new(o), origin }))
        }
        "Service" => decode(json).map(|o| snapshot.services.push(Sourced { object: Arc::new(o), origin })),
        "EndpointSlice" => {
            decode(json).map(|o| snapshot.endpoint_slices.push(Sourced { object: Arc::new(o), origin }))
        }
        _ => decode::<k8s_openapi::api::core::v1::Secret>(json).map(|o| {
            if o.type_.as_deref() == Some(TLS_SECRET_TYPE) {
                snapshot.secrets.push(Sourced { object: Arc::new(o), origin });
            } else {
                tracing::debug!(secret = ?o.metadata.name, "Secret is not of type kubernetes.io/tls; ignored");
            }
        }),
    };
    if let Err((field, reason)) = result {
        diagnostics.push(error(format!("{prefix}{field}"), reason));
    }
}

fn decode<T: DeserializeOwned>(json: Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(json).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        (field, e.into_inner().to_string())
    })
}

/// Report and drop objects defined twice (same kind, namespace and name);
/// the first definition read stays.
pub(crate) fn dedup(snapshot: &mut Snapshot) -> Vec<Diagnostic> {
    let (diagnostics, dropped) = duplicates(snapshot);
    dropped.apply(snapshot);
    diagnostics
}

/// Which objects [`dedup`] drops: indices into each of a snapshot's lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Dropped {
    ingresses: Vec<usize>,
    ingress_classes: Vec<usize>,
    services: Vec<usize>,
    endpoint_slices: Vec<usize>,
    secrets: Vec<usize>,
}

impl Dropped {
    /// Drop them (from a snapshot with the same objects at the same places
    /// as the one they were found in).
    pub(crate) fn apply(&self, snapshot: &mut Snapshot) {
        drop_at(&mut snapshot.ingresses, &self.ingresses);
        drop_at(&mut snapshot.ingress_classes, &self.ingress_classes);
        drop_at(&mut snapshot.services, &self.services);
        drop_at(&mut snapshot.endpoint_slices, &self.endpoint_slices);
        drop_at(&mut snapshot.secrets, &self.secrets);
    }
}

/// The objects of `snapshot` defined twice, reported, and where they are.
pub(crate) fn duplicates(snapshot: &Snapshot) -> (Vec<Diagnostic>, Dropped) {
    let mut diagnostics = Vec::new();
    let d = &mut diagnostics;
    let dropped = Dropped {
        ingresses: duplicates_of(&snapshot.ingresses, "Ingress", |o| &o.metadata, d),
        ingress_classes: duplicates_of(
            &snapshot.ingress_classes,
            "IngressClass",
            |o| &o.metadata,
            d,
        ),
        services: duplicates_of(&snapshot.services, "Service", |o| &o.metadata, d),
        endpoint_slices: duplicates_of(
            &snapshot.endpoint_slices,
            "EndpointSlice",
            |o| &o.metadata,
            d,
        ),
        secrets: duplicates_of(&snapshot.secrets, "Secret", |o| &o.metadata, d),
    };
    (diagnostics, dropped)
}

fn duplicates_of<T>(
    items: &[Sourced<T>],
    kind: &str,
    meta: impl Fn(&T) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<usize> {
    // The first definition of each (namespace, name), by index.
    let mut first: crate::table::FastMap<(&str, &str), usize> =
        crate::table::FastMap::with_capacity_and_hasher(items.len(), Default::default());
    let mut dropped = Vec::new();
    for (k, item) in items.iter().enumerate() {
        let m = meta(&item.object);
        // IngressClass is cluster-scoped: its namespace plays no part.
        let ns = if kind == "IngressClass" { "" } else { crate::compile::namespace_of(m) };
        let key = (ns, m.name.as_deref().unwrap_or_default());
        match first.get(&key) {
            None => {
                first.insert(key, k);
            }
            Some(&f) => {
                let where_ = match &items[f].origin {
                    Some(o) => format!(" in {} (document {})", o.file.display(), o.document),
                    None => String::new(),
                };
                diagnostics.push(Diagnostic::about(
                    Severity::Error,
                    kind,
                    m,
                    item.origin.as_ref(),
                    "metadata.name",
                    format!("defined twice; the first definition{where_} is used"),
                ));
                dropped.push(k);
            }
        }
    }
    dropped
}

/// Remove the items at `indices` (ascending).
fn drop_at<T>(items: &mut Vec<T>, indices: &[usize]) {
    if indices.is_empty() {
        return;
    }
    let mut k = 0;
    let mut next = indices.iter().peekable();
    items.retain(|_| {
        let drop = next.peek() == Some(&&k);
        if drop {
            next.next();
        }
        k += 1;
        !drop
    });
}

#[cfg(test)]
mod tests {
    use super::split_yaml;

    #[test]
    fn documents_split_at_markers_with_their_start_lines() {
        let text = "---\na: 1\n---\n# only a comment\n---\nb: 2\n...\n--- {c: 3}\n";
        let docs = split_yaml(text);
        assert_eq!(docs, vec![(2, "a: 1\n"), (6, "b: 2\n"), (8, " {c: 3}\n")]);
    }
}
