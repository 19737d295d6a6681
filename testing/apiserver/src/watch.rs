//! WATCH: newline-delimited JSON events over chunked transfer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::SinkExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Response;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::response::{json_response, Body};
use crate::store::{Resource, Selectors};
use crate::{Shared, Signal};

type Chunk = Result<Frame<Bytes>, std::io::Error>;

fn line(kind: &str, object: &Value) -> Chunk {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Ok(Frame::data(Bytes::from(text)))
}

/// The ERROR event the real API server sends (inside an HTTP 200) when a
/// watch starts from a compacted resourceVersion.
fn expired(requested: u64, oldest: u64) -> Chunk {
    line(
        "ERROR",
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("too old resource version: {requested} ({oldest})"),
                "reason": "Expired", "code": 410}),
    )
}

pub(crate) fn start(
    shared: &Arc<Shared>,
    resource: Resource,
    namespace: Option<String>,
    selectors: Selectors,
    param: &impl Fn(&str) -> Option<String>,
) -> Response<Body> {
    let from = param("resourceVersion").and_then(|rv| rv.parse::<u64>().ok()).filter(|rv| *rv > 0);
    let bookmarks = param("allowWatchBookmarks").as_deref() == Some("true");
    let timeout =
        param("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
    let kind = resource.kind().unwrap_or("Unknown");
    let api_version = resource.api_version.clone();
    let interested = move |r: &Resource, object: &Value| {
        *r == resource
            && namespace
                .as_deref()
                .is_none_or(|ns| object["metadata"]["namespace"].as_str() == Some(ns))
            && selectors.matches(object)
    };

    let (mut tx, rx) = mpsc::channel::<Chunk>(256);
    let mut replay = Vec::new();
    let (mut signals, mut seen_rv);
    {
        let store = shared.store();
        signals = shared.signals.subscribe();
        seen_rv = store.rv;
        match from {
            Some(rv) if rv < store.compacted => replay.push(expired(rv, store.compacted)),
            Some(rv) => {
                for r in
                    store.history.iter().filter(|r| r.rv > rv && interested(&r.resource, &r.object))
                {
                    replay.push(line(r.change.as_str(), &r.object));
                }
            }
            None => {
                for (key, object) in store.objects.iter() {
                    if interested(&key.0, object) {
                        replay.push(line("ADDED", object));
                    }
                }
            }
        }
    }
    let expired_at_start = from.is_some_and(|rv| rv < shared.store().compacted);
    let bookmark_interval = shared.bookmark_interval;
    tokio::spawn(async move {
        for chunk in replay {
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
        if expired_at_start {
            return;
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut ticker = tokio::time::interval(bookmark_interval);
        ticker.tick().await;
        loop {
            let until_deadline = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                signal = signals.recv() => match signal {
                    Ok(Signal::Change(r)) => {
                        seen_rv = r.rv;
                        if interested(&r.resource, &r.object) && tx.send(line(r.change.as_str(), &r.object)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Signal::Expire) | Err(RecvError::Lagged(_)) => {
                        let _ = tx.send(expired(seen_rv, seen_rv + 1)).await;
                        return;
                    }
                    Ok(Signal::Drop) | Err(RecvError::Closed) => {
                        let _ = tx.send(Err(std::io::Error::other("connection dropped by test"))).await;
                        return;
                    }
                },
                _ = ticker.tick(), if bookmarks => {
                    let object = json!({"kind": kind, "apiVersion": api_version,
                                        "metadata": {"resourceVersion": seen_rv.to_string()}});
                    if tx.send(line("BOOKMARK", &object)).await.is_err() {
                        return;
                    }
                }
                _ = until_deadline => return,
            }
        }
    });
    let mut response = json_response(200, &Value::Null);
    *response.body_mut() = StreamBody::new(rx).boxed();
    response
}
