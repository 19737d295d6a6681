//! The request router: URL paths of the Kubernetes REST API onto the store.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::response::{json_response, status_response, Body};
use crate::store::{merge_patch, Refusal, Resource, Selector, Selectors};
use crate::{RequestRecord, Shared, Signal};

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A parsed API path.
struct Target {
    resource: Resource,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => (version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (plural, None, None),
        [plural, name] => (plural, Some(name.to_string()), None),
        [plural, name, sub] => (plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    let resource = Resource::new(&api_version, plural);
    resource.kind()?;
    Some(Target { resource, namespace, name, subresource })
}

pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn refusal(r: Refusal) -> Response<Body> {
    status_response(r.code, r.reason, &r.message)
}

async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let uri = req.uri().to_string();
    let user = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let mut unhung = shared.unhung.subscribe();
    while shared.hangs(user.as_deref(), req.uri().path()) {
        if unhung.changed().await.is_err() {
            break;
        }
    }
    let response = route(shared, req).await;
    shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push(RequestRecord {
        method: method.to_string(),
        uri,
        user,
        status: response.status().as_u16(),
    });
    response
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = query_pairs(req.uri().query().unwrap_or(""));
    let param = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
    if req.method() == Method::GET {
        if let Some(found) = crate::discovery::answer(&path) {
            return json_response(200, &found);
        }
    }
    let Some(target) = parse_path(&path) else {
        return status_response(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        );
    };
    let reading = req.method() == Method::GET;
    if let Some(code) =
        shared.injected(req.method().as_str(), &path, Some(&target.resource.plural), reading)
    {
        let reason = if code == 403 { "Forbidden" } else { "InternalError" };
        let message = format!("injected {code} for {} {path}", req.method());
        return status_response(code, reason, &message);
    }
    let ns = target.namespace.clone().unwrap_or_default();
    let watching = matches!(param("watch").as_deref(), Some("true" | "1"));
    match (req.method().clone(), &target.name, watching) {
        (Method::GET, None, true) => {
            let selectors = match selectors(&param) {
                Ok(s) => s,
                Err(e) => return status_response(400, "BadRequest", &e),
            };
            crate::watch::start(shared, target.resource, target.namespace, selectors, &param)
        }
        (Method::GET, None, false) => list(shared, &target, &param),
        (Method::GET, Some(name), _) => match shared.store().get(&target.resource, &ns, name) {
            Some(v) => json_response(200, v),
            None => status_response(
                404,
                "NotFound",
                &format!("{} \"{name}\" not found", target.resource.plural),
            ),
        },
        (Method::POST, None, _) => {
            let Some(body) = read_json(req).await else {
                return status_response(400, "BadRequest", "invalid JSON");
            };
            write(shared, &target.resource, &ns, body, Some(false), 201)
        }
        (Method::PUT, Some(name), _) => {
            let Some(mut body) = read_json(req).await else {
                return status_response(400, "BadRequest", "invalid JSON");
            };
            if body["metadata"]["name"].as_str() != Some(name.as_str()) {
                return status_response(
                    400,
                    "BadRequest",
                    "the name of the object does not match the URL",
                );
            }
            if target.subresource.as_deref() == Some("status") {
                let Some(mut current) = shared.store().get(&target.resource, &ns, name).cloned()
                else {
                    return status_response(404, "NotFound", "not found");
                };
                current["status"] = body["status"].take();
                current["metadata"]["resourceVersion"] = body["metadata"]["resourceVersion"].take();
                body = current;
            }
            write(shared, &target.resource, &ns, body, Some(true), 200)
        }
        (Method::PATCH, Some(name), _) => {
            let content_type =
                req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            // `kubectl apply` sends strategic merge patches. For the kinds
            // served here (no list merged by key) one is a merge patch plus
            // `$` directives, which are dropped.
            let strategic = content_type == "application/strategic-merge-patch+json";
            if content_type != "application/merge-patch+json" && !strategic {
                return status_response(
                    415,
                    "UnsupportedMediaType",
                    &format!("unsupported patch type {content_type}"),
                );
            }
            let Some(mut patch) = read_json(req).await else {
                return status_response(400, "BadRequest", "invalid JSON");
            };
            if strategic {
                strip_directives(&mut patch);
            }
            let Some(mut current) = shared.store().get(&target.resource, &ns, name).cloned() else {
                return status_response(
                    404,
                    "NotFound",
                    &format!("{} \"{name}\" not found", target.resource.plural),
                );
            };
            if target.subresource.as_deref() == Some("status") {
                // The status subresource takes only status from the patch.
                merge_patch(
                    &mut current,
                    &json!({"status": patch.get("status").cloned().unwrap_or(Value::Null)}),
                );
            } else {
                merge_patch(&mut current, &patch);
            }
            if let Some(meta) = current["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
            write(shared, &target.resource, &ns, current, Some(true), 200)
        }
        (Method::DELETE, Some(name), _) => {
            let mut store = shared.store();
            match store.delete(&target.resource, &ns, name) {
                Ok(recorded) => {
                    let object = recorded.object.clone();
                    let _ = shared.signals.send(Signal::Change(recorded));
                    json_response(200, &object)
                }
                Err(r) => refusal(r),
            }
        }
        _ => status_response(405, "MethodNotAllowed", "method not allowed"),
    }
}

/// Remove strategic-merge-patch directives (`$patch`, `$retainKeys`,
/// `$setElementOrder/…`, `$deleteFromPrimitiveList/…`) at every level.
fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('$'));
            map.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

fn selectors(param: &impl Fn(&str) -> Option<String>) -> Result<Selectors, String> {
    Ok(Selectors {
        labels: Selector::parse(&param("labelSelector").unwrap_or_default())?,
        fields: Selector::parse(&param("fieldSelector").unwrap_or_default())?,
    })
}

fn list(
    shared: &Arc<Shared>,
    target: &Target,
    param: &impl Fn(&str) -> Option<String>,
) -> Response<Body> {
    let selectors = match selectors(param) {
        Ok(s) => s,
        Err(e) => return status_response(400, "BadRequest", &e),
    };
    let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let store = shared.store();
    // A continue token is "<list resourceVersion>:<last namespace/name>".
    let (list_rv, after) = match param("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let Some((rv, after)) = token
                .split_once(':')
                .and_then(|(rv, a)| Some((rv.parse::<u64>().ok()?, a.to_string())))
            else {
                return status_response(400, "BadRequest", "invalid continue token");
            };
            if rv < store.compacted {
                return status_response(
                    410,
                    "Expired",
                    "The provided continue parameter is too old",
                );
            }
            (rv, Some(after))
        }
        None => (store.rv, None),
    };
    let mut items = Vec::new();
    let mut next = None;
    for (pos, object) in store.list(&target.resource, target.namespace.as_deref(), after.as_deref())
    {
        if !selectors.matches(object) {
            continue;
        }
        if limit.is_some_and(|l| items.len() == l) {
            next = Some(format!("{list_rv}:{}", items_last(&items)));
            break;
        }
        items.push((pos, object.clone()));
    }
    let kind = target.resource.kind().unwrap_or("Unknown");
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let Some(next) = next {
        metadata["continue"] = Value::String(next);
    }
    let items: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    json_response(
        200,
        &json!({"kind": format!("{kind}List"), "apiVersion": target.resource.api_version, "metadata": metadata, "items": items}),
    )
}

fn items_last(items: &[(String, Value)]) -> &str {
    items.last().map(|(pos, _)| pos.as_str()).unwrap_or("")
}

fn write(
    shared: &Arc<Shared>,
    resource: &Resource,
    ns: &str,
    body: Value,
    must_exist: Option<bool>,
    ok: u16,
) -> Response<Body> {
    let mut store = shared.store();
    match store.write(resource, ns, body, must_exist) {
        Ok((recorded, stored)) => {
            let _ = shared.signals.send(Signal::Change(recorded));
            json_response(ok, &stored)
        }
        Err(r) => refusal(r),
    }
}

async fn read_json(req: Request<Incoming>) -> Option<Value> {
    let bytes = req.into_body().collect().await.ok()?.to_bytes();
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_the_rest_api() {
        let t =
            parse_path("/apis/networking.k8s.io/v1/namespaces/web/ingresses/site/status").unwrap();
        assert_eq!(t.resource, Resource::new("networking.k8s.io/v1", "ingresses"));
        assert_eq!(t.namespace.as_deref(), Some("web"));
        assert_eq!(t.name.as_deref(), Some("site"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse_path("/apis/networking.k8s.io/v1/ingressclasses").unwrap();
        assert!(t.namespace.is_none() && t.name.is_none());
        let t = parse_path("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!(t.resource.plural, "namespaces");
        assert_eq!(t.name.as_deref(), Some("kube-system"));
        assert!(parse_path("/apis/x/v1/widgets").is_none());
    }

    #[test]
    fn query_strings_as_kube_writes_them() {
        let q = query_pairs("&limit=500&fieldSelector=type%3Dkubernetes.io%2Ftls");
        assert_eq!(
            q,
            vec![
                ("limit".into(), "500".into()),
                ("fieldSelector".into(), "type=kubernetes.io/tls".into())
            ]
        );
    }
}
