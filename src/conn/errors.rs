//! `custom-http-errors` with `default-backend`: an upstream answer whose
//! status the route lists is not relayed; the default backend is asked
//! for the page instead, with the headers ingress-nginx sends it, and its
//! answer is relayed in place (status included, as nginx's `error_page
//! code = @custom`).

use std::hash::{BuildHasher, Hasher};

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use ringress_control::table::{Route, ServicePortRef};

use super::io::write_all;
use super::{After, Conn};
use crate::error::ProxyError;
use crate::http::{Method, RequestHead};

/// What the page request needs of the original request, copied before its
/// head leaves `buf`.
pub(super) struct ErrorPage {
    target: Vec<u8>,
    host: Vec<u8>,
    /// `Accept`, sent as `X-Format` (`text/html` when absent).
    format: Vec<u8>,
    /// The client's `X-Request-ID`, else a new random one.
    request_id: Vec<u8>,
}

impl ErrorPage {
    pub(super) fn capture(head: &RequestHead, buf: &[u8]) -> ErrorPage {
        let request_id = match head.header(buf, "x-request-id") {
            Some(id) if !id.is_empty() => id.to_vec(),
            _ => new_request_id(),
        };
        ErrorPage {
            target: head.target(buf).to_vec(),
            host: head.host.map_or(&[][..], |h| h.get(buf)).to_vec(),
            format: head.header(buf, "accept").unwrap_or(b"text/html").to_vec(),
            request_id,
        }
    }
}

/// 32 hexadecimal digits, as ingress-nginx's `$req_id`: 128 bits from the
/// standard library's randomly keyed hasher.
fn new_request_id() -> Vec<u8> {
    let random = std::collections::hash_map::RandomState::new();
    let mut out = Vec::with_capacity(32);
    for salt in [0x9e37_79b9_u64, 0x7f4a_7c15] {
        let mut h = random.build_hasher();
        h.write_u64(salt);
        out.extend_from_slice(format!("{:016x}", h.finish()).as_bytes());
    }
    out
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

impl Conn {
    /// The upstream answered `code`, one of the route's
    /// `custom-http-errors`: ask the default backend for the page
    /// (`GET`, or `HEAD` for a HEAD request, of the original target) on a
    /// fresh connection and relay its answer.
    pub(super) async fn error_page<S>(
        &mut self,
        down: &mut S,
        head: &RequestHead,
        code: u16,
        route: &Route,
    ) -> Result<After, ProxyError>
    where
        S: AsyncReadRent + AsyncWriteRent,
    {
        let page = self.error_page.take().expect("set for routes that intercept");
        let policy = self.policy.clone().expect("the route's policy");
        let fallback = &policy.default_backend.as_ref().expect("checked at capture").0;
        let addr = self.pick_endpoint(fallback)?;
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(if head.method_kind == Method::Head { b"HEAD " } else { b"GET " });
        out.extend_from_slice(&page.target);
        out.extend_from_slice(b" HTTP/1.1\r\n");
        line(out, b"Host", &page.host);
        line(out, b"X-Code", itoa::Buffer::new().format(code).as_bytes());
        line(out, b"X-Format", &page.format);
        line(out, b"X-Original-URI", &page.target);
        let (ns, name) = route.ingress.split_once('/').unwrap_or(("", &route.ingress));
        line(out, b"X-Namespace", ns.as_bytes());
        line(out, b"X-Ingress-Name", name.as_bytes());
        let key = &route.backend.key;
        line(out, b"X-Service-Name", key.service.as_bytes());
        let port = match &key.port {
            ServicePortRef::Number(n) => itoa::Buffer::new().format(*n).to_string(),
            ServicePortRef::Name(n) => n.to_string(),
        };
        line(out, b"X-Service-Port", port.as_bytes());
        line(out, b"X-Request-ID", &page.request_id);
        out.extend_from_slice(b"Connection: keep-alive\r\n\r\n");
        self.worker.balancer.started(addr);
        let result = async {
            let (mut up, _) = self.checkout(addr, true).await?;
            let limit = self.worker.settings.upstream_body_timeout;
            write_all(&mut up, &mut self.out, limit)
                .await
                .map_err(|e| ProxyError::upstream_io(e, ProxyError::UpstreamTimeout))?;
            self.relay_response(down, head, up, addr, 0).await
        }
        .await;
        self.worker.balancer.finished(addr);
        result
    }
}
