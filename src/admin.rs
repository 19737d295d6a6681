//! The admin and health servers: `/healthz`, `/readyz`, `/metrics`
//! (Prometheus text) on both, and on the admin listener only, what
//! reveals configuration: `/routes` (the live table as JSON). They read
//! worker counters and the published table; they never touch a worker's
//! own state.
//!
//! They run on a thread of their own ([`start`]), never the one that
//! compiles tables and renews the leader Lease, and each listener holds
//! at most [`MAX_CONNECTIONS`] connections, each with a whole-request
//! deadline of [`REQUEST_DEADLINE`]. At the cap a new connection does not
//! wait: the oldest connection still open gives way to it, so clients
//! holding connections open with a trickle of bytes cannot keep a probe
//! or a scrape out.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ringress_control::table::{PathType, Route};
use ringress_control::{RouteTable, TableHandle};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::metrics::Metrics;

/// Largest admin request head read.
const MAX_ADMIN_HEAD: usize = 8 * 1024;

/// Connections one listener holds at once; the oldest gives way to a new
/// one beyond this.
pub const MAX_CONNECTIONS: usize = 256;

/// How long one connection may take from accept to the end of its answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `--health`: `/healthz`, `/readyz` and `/metrics` only, safe to
    /// expose to probes and scrapers beyond the pod.
    Health,
    /// `--admin`: those plus everything that reveals configuration
    /// (`/routes`); meant for the pod's loopback.
    Admin,
}

impl Scope {
    fn serves(self, path: &str) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Health => matches!(path, "/healthz" | "/readyz" | "/metrics"),
        }
    }
}

/// What the admin server reports on.
#[derive(Clone)]
pub struct AdminState {
    pub table: TableHandle,
    pub metrics: Arc<Metrics>,
    /// The Kubernetes provider's counters, when it runs.
    pub provider: Option<Arc<ringress_control::provider::kube::KubeStats>>,
    /// Set at the shutdown signal: `/readyz` answers 503 from then on.
    pub shutting_down: Arc<std::sync::atomic::AtomicBool>,
}

/// The admin thread: its listeners are served until [`AdminThread::stop`].
pub struct AdminThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AdminThread {
    /// Stop serving and wait for the thread to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for AdminThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serve `listeners` (already bound) on a thread of their own, with its
/// own tokio runtime.
pub fn start(
    listeners: Vec<(Scope, std::net::TcpListener)>,
    state: AdminState,
) -> std::io::Result<AdminThread> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    for (_, l) in &listeners {
        l.set_nonblocking(true)?;
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("ringress-admin".into()).spawn(move || {
        runtime.block_on(async move {
            let mut servers = tokio::task::JoinSet::new();
            for (scope, listener) in listeners {
                match TcpListener::from_std(listener) {
                    Ok(listener) => {
                        servers.spawn(serve_as(scope, listener, state.clone()));
                    }
                    Err(e) => tracing::error!(error = %e, ?scope, "admin listener unusable"),
                }
            }
            let _ = stopped.await;
            servers.shutdown().await;
        })
    })?;
    Ok(AdminThread { stop: Some(stop), thread: Some(thread) })
}

/// Serve every admin path on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: AdminState) {
    serve_as(Scope::Admin, listener, state).await
}

/// Serve `scope`'s paths on `listener` until the task is dropped: at most
/// [`MAX_CONNECTIONS`] at once (the oldest gives way beyond), each within
/// [`REQUEST_DEADLINE`].
pub async fn serve_as(scope: Scope, listener: TcpListener, state: AdminState) {
    // Connections in accept order; finished ones are pruned lazily.
    let mut open: VecDeque<tokio::task::AbortHandle> = VecDeque::new();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            // Reap finished connections so the set stays bounded.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        match accepted {
            Ok((stream, _)) => {
                open.retain(|h| !h.is_finished());
                while open.len() >= MAX_CONNECTIONS {
                    if let Some(oldest) = open.pop_front() {
                        oldest.abort();
                    }
                }
                let state = state.clone();
                let handle = tasks.spawn(async move {
                    let _ =
                        tokio::time::timeout(REQUEST_DEADLINE, handle(stream, scope, &state)).await;
                });
                open.push_back(handle);
            }
            Err(e) => {
                tracing::warn!(error = %e, ?scope, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(mut stream: TcpStream, scope: Scope, state: &AdminState) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_ADMIN_HEAD];
    let mut len = 0;
    let path = loop {
        // The whole connection runs under REQUEST_DEADLINE (serve_as).
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                if req.method != Some("GET") && req.method != Some("HEAD") {
                    return respond(&mut stream, 405, "text/plain", "method not allowed\n").await;
                }
                break req.path.unwrap_or("/").split('?').next().unwrap_or("/").to_string();
            }
            Ok(httparse::Status::Partial) if len < buf.len() => continue,
            _ => return respond(&mut stream, 400, "text/plain", "bad request\n").await,
        }
    };
    let (status, ctype, body) = if scope.serves(&path) {
        answer(&path, state)
    } else {
        (404, "text/plain", "not found\n".into())
    };
    respond(&mut stream, status, ctype, &body).await
}

/// The answer to `GET path` on the admin listener: status, content type,
/// body.
pub fn answer(path: &str, state: &AdminState) -> (u16, &'static str, String) {
    match path {
        "/healthz" => {
            if state.metrics.all_workers_running() {
                (200, "text/plain", "ok\n".into())
            } else {
                let (alive, all) = (state.metrics.workers_alive(), state.metrics.workers.len());
                (503, "text/plain", format!("{alive} of {all} workers running\n"))
            }
        }
        "/readyz" => {
            if state.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
                (503, "text/plain", "shutting down\n".into())
            } else if state.table.is_live() && state.metrics.all_workers_loaded() {
                (200, "text/plain", "ready\n".into())
            } else if !state.table.is_live() {
                (503, "text/plain", "no route table yet\n".into())
            } else {
                (503, "text/plain", "workers have not loaded the table yet\n".into())
            }
        }
        "/routes" => {
            let table = state.table.load();
            (200, "application/json", routes_json(&table, state.table.reloads()).to_string())
        }
        "/metrics" => {
            let table = state.table.load();
            let mut text = state.metrics.render(table.generation(), state.table.reloads());
            crate::metrics::render_annotations(&table, &mut text);
            if let Some(provider) = &state.provider {
                text.push_str(&provider.render());
            }
            (200, "text/plain; version=0.0.4", text)
        }
        _ => (404, "text/plain", "not found\n".into()),
    }
}

/// The live table as JSON: generation, hosts with their routes, default
/// route, certificates (names and source only, never key material).
pub fn routes_json(table: &RouteTable, reloads: u64) -> Value {
    let hosts: Vec<Value> = table
        .virtual_hosts()
        .into_iter()
        .map(|vh| {
            let routes: Vec<Value> = vh.routes().iter().map(route_json).collect();
            json!({ "host": vh.host().to_string(), "routes": routes })
        })
        .collect();
    let certificates: Vec<Value> =
        table.certificates().map(|c| json!({ "names": c.names, "source": c.source })).collect();
    json!({
        "generation": table.generation(),
        "reloads": reloads,
        "hosts": hosts,
        "default": table.default_route().map(route_json),
        "certificates": certificates,
    })
}

fn route_json(r: &Route) -> Value {
    let path_type = match r.path_type {
        PathType::Exact => "Exact",
        PathType::Prefix => "Prefix",
        PathType::ImplementationSpecific => "ImplementationSpecific",
    };
    let endpoints: Vec<String> = r.backend.endpoints.iter().map(|e| e.addr.to_string()).collect();
    json!({
        "path": r.path,
        "path_type": path_type,
        "backend": r.backend.key.to_string(),
        "endpoints": endpoints,
        "ingress": r.ingress,
        "redirect_to_https": r.redirect_to_https,
    })
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
