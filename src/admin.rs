//! The admin server, on the control thread (tokio): `/healthz`, `/readyz`,
//! `/routes` (the live table as JSON) and `/metrics` (Prometheus text).
//! It reads worker counters and the published table; it never touches a
//! worker's own state.

use std::sync::Arc;

use ringress_control::table::{PathType, Route};
use ringress_control::{RouteTable, TableHandle};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::metrics::Metrics;

/// Largest admin request head read.
const MAX_ADMIN_HEAD: usize = 8 * 1024;

/// What the admin server reports on.
#[derive(Clone)]
pub struct AdminState {
    pub table: TableHandle,
    pub metrics: Arc<Metrics>,
    /// The Kubernetes provider's counters, when it runs.
    pub provider: Option<Arc<ringress_control::provider::kube::KubeStats>>,
}

/// Serve admin requests on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: AdminState) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, &state).await;
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(mut stream: TcpStream, state: &AdminState) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_ADMIN_HEAD];
    let mut len = 0;
    let path = loop {
        let n =
            tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf[len..]))
                .await
                .map_err(|_| std::io::ErrorKind::TimedOut)??;
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
    let (status, ctype, body) = answer(&path, state);
    respond(&mut stream, status, ctype, &body).await
}

/// The answer to `GET path`: status, content type, body.
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
            if state.table.is_live() && state.metrics.all_workers_loaded() {
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
            let generation = state.table.load().generation();
            let mut text = state.metrics.render(generation, state.table.reloads());
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
