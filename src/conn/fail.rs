//! `fail`: the one place a failure becomes a response and a count.

use monoio::io::AsyncWriteRent;

use super::io::write_all;
use super::state::Progress;
use crate::error::ProxyError;
use crate::http::{write_status_response, RequestHead};
use crate::local::Worker;

/// The one place a failure becomes a response and a count. It needs the
/// worker (metrics, date, the write timeout), the connection's response
/// buffer, where the request stands (whether an answer can still be sent,
/// whether to close) and whether the connection closes anyway (a drain,
/// `--keepalive-requests`). Returns whether the connection must close.
pub(super) async fn fail<S: AsyncWriteRent>(
    worker: &Worker,
    out: &mut Vec<u8>,
    p: &Progress,
    closes_anyway: bool,
    down: &mut S,
    e: &ProxyError,
    head: Option<&RequestHead>,
) -> bool {
    let m = worker.m();
    m.error(e.blame(), e.status());
    if let Some(kind) = e.upstream_kind() {
        m.upstream_errors[kind as usize].inc();
    }
    tracing::debug!(error = %e, label = e.label(), status = e.status(), "request failed");
    let keep_alive = head.is_some_and(|h| h.keep_alive);
    let close = p.must_close(keep_alive, closes_anyway, Some(e));
    if p.can_answer(e) {
        let head_request = head.is_some_and(|h| h.method_kind == crate::http::Method::Head);
        let date = worker.date();
        out.clear();
        write_status_response(e.response(), &date, close, head_request, out);
        let limit = worker.settings.client_body_timeout;
        m.response(e.status());
        let _ = write_all(down, out, limit).await;
    }
    close
}
