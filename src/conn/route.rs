//! Phases 2 and 3, `route` and `pick_endpoint`: pure look-ups in the
//! table and the balancer, the body limit, and the redirect to https a
//! route may answer with.

use std::net::SocketAddr;

use monoio::io::AsyncWriteRent;
use ringress_control::table::{redirect_reason, Backend, BodyLimit, Route, RoutePolicy};
use ringress_control::RouteTable;

use super::io::{consume, write_all};
use super::{After, Conn};
use crate::error::ProxyError;
use crate::http::{write_location, write_redirect, BodyFraming, RequestHead};

impl Conn {
    /// Phase 2: the route for this request's host and path (404 without
    /// one; 421 first when the Host is not served by the certificate this
    /// connection's SNI chose, `RouteTable::serves_on_sni`). Then, in this order, as nginx: the body limit (413), the
    /// redirect to https (308), a backend without endpoints (503).
    pub(super) fn route<'t>(
        &self,
        table: &'t RouteTable,
        head: &RequestHead,
    ) -> Result<&'t Route, ProxyError> {
        let host = head.host(&self.buf).unwrap_or("");
        if let Some(sni) = self.sni.as_deref() {
            if !table.serves_on_sni(sni, host) {
                return Err(ProxyError::Misdirected);
            }
        }
        let path = head.path(&self.buf);
        table.route(host, path).ok_or(ProxyError::RouteNotFound)
    }

    /// The largest request body this request may send (`None`: no limit):
    /// the route's `proxy-body-size` when its policy has one, else
    /// `--max-body-size`.
    #[inline]
    pub(super) fn body_limit(&self, route: &Route) -> Option<u64> {
        match route.policy.as_deref().and_then(|p| p.body_limit) {
            None => self.worker.settings.max_body_size,
            Some(BodyLimit::Unlimited) => None,
            Some(BodyLimit::Bytes(n)) => Some(n),
        }
    }

    /// A declared `Content-Length` over the limit is refused before any
    /// upstream is contacted (a chunked body is counted as it streams, see
    /// `forward`).
    #[inline]
    pub(super) fn check_declared_body(&self, head: &RequestHead) -> Result<(), ProxyError> {
        match (head.framing, self.max_body) {
            (BodyFraming::Length(n), Some(limit)) if n > limit => Err(ProxyError::BodyTooLarge),
            _ => Ok(()),
        }
    }

    /// Phase 3: an endpoint of `backend`, chosen per request.
    pub(super) fn pick_endpoint(&self, backend: &Backend) -> Result<SocketAddr, ProxyError> {
        self.worker.balancer.pick(backend, self.now()).ok_or(ProxyError::NoEndpoints)
    }

    /// Whether the route's policy answers this request itself, as nginx
    /// orders it: `app-root` (server level, for `/` only) before a fixed
    /// `permanent-redirect` / `temporal-redirect` (location level).
    #[inline]
    pub(super) fn policy_answers(policy: &RoutePolicy, path: &str) -> bool {
        let is_root = || path.split('?').next() == Some("/");
        policy.redirect.is_some()
            || policy.host_redirect.is_some()
            || (policy.app_root.is_some() && is_root())
    }

    /// Answer with the redirect the route's policy gives (see
    /// [`Conn::policy_answers`]).
    pub(super) async fn policy_redirect<S: AsyncWriteRent>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
        policy: &RoutePolicy,
    ) -> Result<After, ProxyError> {
        let close = self.p.must_close(head.keep_alive, self.force_close(), None);
        let date = self.worker.date();
        self.out.clear();
        let head_request = head.method_kind == crate::http::Method::Head;
        let path = head.path(&self.buf);
        let authority = head.host.map_or(&[][..], |h| h.get(&self.buf));
        let scheme: &[u8] = if self.https { b"https://" } else { b"http://" };
        if let Some(host) = &policy.host_redirect {
            // `from-to-www-redirect`: the same scheme, port and target.
            let bare = crate::http::fields::host_without_port(authority);
            let port = &authority[bare.len()..];
            let location = [scheme, host.as_bytes(), port, path.as_bytes()];
            let reason = redirect_reason(308);
            write_location(308, reason, &location, &date, close, head_request, &mut self.out);
            return self.send_answer(down, close, head, 308).await;
        }
        let code = match (&policy.app_root, &policy.redirect) {
            (Some(root), _) if path.split('?').next() == Some("/") => {
                // `$scheme://$http_host` + the root, as ingress-nginx writes it.
                let scheme = if authority.is_empty() { &[][..] } else { scheme };
                let location = [scheme, authority, root.as_bytes()];
                write_location(302, "Found", &location, &date, close, head_request, &mut self.out);
                302
            }
            (_, Some(r)) => {
                let location = [r.location.as_bytes()];
                let reason = redirect_reason(r.code);
                write_location(
                    r.code,
                    reason,
                    &location,
                    &date,
                    close,
                    head_request,
                    &mut self.out,
                );
                r.code
            }
            _ => unreachable!("policy_answers checked the policy answers"),
        };
        self.send_answer(down, close, head, code).await
    }

    /// Answer a CORS preflight (`OPTIONS` from an allowed origin) with
    /// 204 and the CORS lines already in `self.cors`, no upstream
    /// contacted.
    pub(super) async fn preflight<S: AsyncWriteRent>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
    ) -> Result<After, ProxyError> {
        let close = self.p.must_close(head.keep_alive, self.force_close(), None);
        let date = self.worker.date();
        self.out.clear();
        crate::http::write_preflight(&self.cors, &date, close, &mut self.out);
        self.send_answer(down, close, head, 204).await
    }

    /// Send the answer written into `out` for `head`, with status `code`.
    async fn send_answer<S: AsyncWriteRent>(
        &mut self,
        down: &mut S,
        close: bool,
        head: &RequestHead,
        code: u16,
    ) -> Result<After, ProxyError> {
        consume(&mut self.buf, head.head_len);
        self.p.responding();
        let limit = self.worker.settings.client_body_timeout;
        self.worker.m().response(code);
        write_all(down, &mut self.out, limit).await.map_err(ProxyError::downstream_io)?;
        Ok(if close { After::Close } else { After::KeepAlive })
    }

    pub(super) async fn redirect<S: AsyncWriteRent>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
    ) -> Result<After, ProxyError> {
        let close = self.p.must_close(head.keep_alive, self.force_close(), None);
        let date = self.worker.date();
        self.out.clear();
        let authority = head.host.map_or(&[][..], |h| h.get(&self.buf));
        write_redirect(
            authority,
            head.path.get(&self.buf),
            self.worker.settings.https_port,
            &date,
            close,
            head.method_kind == crate::http::Method::Head,
            &mut self.out,
        );
        consume(&mut self.buf, head.head_len);
        self.p.responding();
        let limit = self.worker.settings.client_body_timeout;
        self.worker.m().response(308);
        write_all(down, &mut self.out, limit).await.map_err(ProxyError::downstream_io)?;
        Ok(if close { After::Close } else { After::KeepAlive })
    }
}
