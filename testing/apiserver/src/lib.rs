//! # ringress-test-apiserver
//!
//! A test fixture: an in-memory Kubernetes API server on `127.0.0.1:0`
//! speaking the real protocol over HTTP/1.1, so the controller can be
//! tested through an ordinary kubeconfig exactly as against a cluster.
//!
//! # Layout
//!
//! - [`store`]: objects as JSON, one global resourceVersion counter, the
//!   change history, label/field selectors, JSON merge patch.
//! - `http`: the request router: GET (get, list with `limit`/`continue`,
//!   `watch=true`), POST, PUT (409 on a stale resourceVersion), PATCH (merge,
//!   strategic merge without list-merge keys, `/status` subresource), DELETE.
//! - `discovery`: `/version`, `/api`, `/apis` and the resource lists, so
//!   that `kubectl` works against it (`ringress-test-apiserver` binary).
//! - `watch`: newline-delimited JSON watch events over chunked transfer,
//!   BOOKMARKs, `timeoutSeconds`, and the 410 `ERROR` event for an expired
//!   resourceVersion (HTTP 200, as the real API server answers).
//! - `response`: the JSON and `Status` response bodies `http` and `watch`
//!   both answer with.
//!
//! Faults are injected through [`ApiServer`]: [`ApiServer::expire`],
//! [`ApiServer::drop_watches`], [`ApiServer::fail_next`],
//! [`ApiServer::forbid`].

mod discovery;
mod http;
mod response;
pub mod store;
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

pub use store::Resource;
use store::{Recorded, Store};

/// What happened to the store, sent to every open watch.
#[derive(Debug, Clone)]
pub(crate) enum Signal {
    Change(Recorded),
    /// End every watch with a 410 ERROR event.
    Expire,
    /// Abort every watch connection mid-stream.
    Drop,
}

/// One request as the server saw it, for assertions.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The bearer token the client sent (kubeconfig `users[].user.token`).
    pub user: Option<String>,
    pub status: u16,
}

/// An injected failure: the next `count` requests whose method matches and
/// whose path contains `path_contains` get `status`.
#[derive(Debug, Clone)]
struct Fault {
    method: Option<String>,
    path_contains: String,
    status: u16,
    count: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    failures: Vec<Fault>,
    /// (bearer token, path part): matching requests get no answer until
    /// [`ApiServer::unhang`].
    hangs: Vec<(String, String)>,
    /// Plurals whose list and watch answer 403.
    forbidden: Vec<String>,
}

pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) signals: broadcast::Sender<Signal>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) requests: Mutex<Vec<RequestRecord>>,
    pub(crate) bookmark_interval: Duration,
    /// Bumped by [`ApiServer::unhang`]: hung requests look again.
    pub(crate) unhung: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a request from `user` for `path` is to hang now.
    pub(crate) fn hangs(&self, user: Option<&str>, path: &str) -> bool {
        let faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.hangs.iter().any(|(u, p)| Some(u.as_str()) == user && path.contains(p.as_str()))
    }

    /// The status an injected fault gives this request, if any.
    pub(crate) fn injected(
        &self,
        method: &str,
        path: &str,
        plural: Option<&str>,
        reading: bool,
    ) -> Option<u16> {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        if reading && plural.is_some_and(|p| faults.forbidden.iter().any(|f| f == p)) {
            return Some(403);
        }
        let hit = faults.failures.iter_mut().find(|f| {
            f.count > 0
                && f.method.as_deref().is_none_or(|m| m == method)
                && path.contains(&f.path_contains)
        })?;
        hit.count -= 1;
        let status = hit.status;
        faults.failures.retain(|f| f.count > 0);
        Some(status)
    }
}

/// A running fake API server. Dropping it stops accepting connections and
/// ends every open watch.
pub struct ApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    /// Bind `127.0.0.1:0` and serve on the current tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_bookmarks(Duration::from_millis(500)).await
    }

    /// As [`ApiServer::start`], with BOOKMARK events every `interval` on
    /// watches that allow them.
    pub async fn start_with_bookmarks(interval: Duration) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().expect("a valid address"), interval).await
    }

    /// Bind `addr` (port 0 for any free port) and serve on the current
    /// tokio runtime, with BOOKMARK events every `interval`.
    pub async fn start_on(addr: SocketAddr, interval: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (signals, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            signals,
            faults: Mutex::new(Faults::default()),
            requests: Mutex::new(Vec::new()),
            bookmark_interval: interval,
            unhung: tokio::sync::watch::channel(0).0,
        });
        let accept = tokio::spawn(http::accept_loop(listener, shared.clone()));
        Ok(Self { addr, shared, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Write a kubeconfig pointing at this server, authenticating with
    /// `token` (the token shows up as [`RequestRecord::user`]).
    pub fn write_kubeconfig(&self, path: &Path, token: &str) -> std::io::Result<()> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n\
             users:\n- name: {token}\n  user:\n    token: {token}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: {token}\n\
             current-context: fake\n",
            url = self.url()
        );
        std::fs::write(path, text)
    }

    /// Create or replace a typed object; returns it as stored.
    pub fn apply<K: k8s_openapi::Resource + Serialize>(&self, object: &K) -> Value {
        let value = serde_json::to_value(object).expect("k8s-openapi types serialize");
        let resource = Resource::new(K::API_VERSION, K::URL_PATH_SEGMENT);
        self.apply_json(&resource, value)
    }

    /// Create or replace an object given as JSON.
    pub fn apply_json(&self, resource: &Resource, mut value: Value) -> Value {
        let namespace = value["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
        if let Some(meta) = value["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
        }
        let mut store = self.shared.store();
        let (recorded, stored) = store
            .write(resource, &namespace, value, None)
            .unwrap_or_else(|r| panic!("apply: {}", r.message));
        let _ = self.shared.signals.send(Signal::Change(recorded));
        stored
    }

    /// Delete a typed object by namespace (ignored when cluster-scoped) and name.
    pub fn delete<K: k8s_openapi::Resource>(&self, namespace: &str, name: &str) {
        let resource = Resource::new(K::API_VERSION, K::URL_PATH_SEGMENT);
        let mut store = self.shared.store();
        let recorded = store
            .delete(&resource, namespace, name)
            .unwrap_or_else(|r| panic!("delete: {}", r.message));
        let _ = self.shared.signals.send(Signal::Change(recorded));
    }

    /// The stored object, typed.
    pub fn get<K: k8s_openapi::Resource + serde::de::DeserializeOwned>(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<K> {
        let resource = Resource::new(K::API_VERSION, K::URL_PATH_SEGMENT);
        let store = self.shared.store();
        let value = store.get(&resource, namespace, name)?.clone();
        Some(serde_json::from_value(value).expect("stored objects deserialize"))
    }

    /// Every stored object of a kind, typed.
    pub fn list<K: k8s_openapi::Resource + serde::de::DeserializeOwned>(&self) -> Vec<K> {
        let resource = Resource::new(K::API_VERSION, K::URL_PATH_SEGMENT);
        let store = self.shared.store();
        let values: Vec<Value> =
            store.list(&resource, None, None).map(|(_, v)| v.clone()).collect();
        values
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("stored objects deserialize"))
            .collect()
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().rv
    }

    /// Compact history: every resourceVersion seen so far becomes too old.
    /// Open watches get the HTTP 200 `ERROR` event with code 410 and end;
    /// resuming from an old resourceVersion gets the same answer.
    pub fn expire(&self) {
        let mut store = self.shared.store();
        store.rv += 1;
        store.compacted = store.rv;
        store.history.clear();
        let _ = self.shared.signals.send(Signal::Expire);
    }

    /// Abort every open watch connection mid-stream (no chunked terminator).
    pub fn drop_watches(&self) {
        let _ = self.shared.signals.send(Signal::Drop);
    }

    /// Answer the next `count` requests with `method` (any if `None`) whose
    /// path contains `path_contains` with a Status of code `status`.
    pub fn fail_next(&self, method: Option<&str>, path_contains: &str, status: u16, count: usize) {
        let mut faults = self.shared.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.failures.push(Fault {
            method: method.map(str::to_string),
            path_contains: path_contains.to_string(),
            status,
            count,
        });
    }

    /// Leave every request that the client with bearer `token` makes for a
    /// path containing `path_contains` unanswered (the connection open, no
    /// byte sent) until [`ApiServer::unhang`]: an API server that hangs.
    pub fn hang(&self, token: &str, path_contains: &str) {
        let mut faults = self.shared.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.hangs.push((token.to_string(), path_contains.to_string()));
    }

    /// Answer hung requests again (those waiting are served now).
    pub fn unhang(&self) {
        self.shared.faults.lock().unwrap_or_else(|e| e.into_inner()).hangs.clear();
        self.shared.unhung.send_modify(|n| *n += 1);
    }

    /// Refuse (403) list and watch of `plural` until [`ApiServer::allow`].
    pub fn forbid(&self, plural: &str) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forbidden
            .push(plural.to_string());
    }

    pub fn allow(&self, plural: &str) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forbidden
            .retain(|p| p != plural);
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.accept.abort();
        let _ = self.shared.signals.send(Signal::Drop);
    }
}
