//! `fail`: the one place a failure becomes a response and a count.

use monoio::io::AsyncWriteRent;

use super::io::write_all;
use super::Conn;
use crate::error::ProxyError;
use crate::http::{write_status_response, RequestHead};

impl Conn {
    /// The one place a failure becomes a response and a count. Returns
    /// whether the connection must close.
    pub(super) async fn fail<S: AsyncWriteRent>(
        &mut self,
        down: &mut S,
        e: &ProxyError,
        head: Option<&RequestHead>,
    ) -> bool {
        let m = self.worker.m();
        m.error(e.blame(), e.status());
        if let Some(kind) = e.upstream_kind() {
            m.upstream_errors[kind as usize].inc();
        }
        tracing::debug!(error = %e, label = e.label(), status = e.status(), "request failed");
        let keep_alive = head.is_some_and(|h| h.keep_alive);
        let close = self.p.must_close(keep_alive, self.force_close(), Some(e));
        if self.p.can_answer(e) {
            let head_request = head.is_some_and(|h| h.method_kind == crate::http::Method::Head);
            let date = self.worker.date();
            self.out.clear();
            write_status_response(e.response(), &date, close, head_request, &mut self.out);
            let limit = self.worker.settings.client_body_timeout;
            m.response(e.status());
            let _ = write_all(down, &mut self.out, limit).await;
        }
        close
    }
}
