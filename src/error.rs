//! The data plane's one error type. Every way a proxied request can fail is
//! a variant of [`ProxyError`]; its source (which side is to blame), the
//! status answered downstream, the metric labels and the mapping of I/O
//! failures into it are here, in one place, and nowhere else. The metric
//! series (`ringress_request_errors_total{source,status}`,
//! `ringress_upstream_errors_total{kind}`) are derived from [`Source::ALL`]
//! and [`UpstreamKind::ALL`].

use std::io;

use thiserror::Error;

use crate::http::{ChunkError, HeadError};

/// Why a read or write did not complete.
#[derive(Debug)]
pub enum IoFail {
    /// Its deadline passed (the operation was dropped).
    Timeout,
    Io(io::Error),
}

/// Which side a failure came from (for logs and metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The client or its connection.
    Downstream,
    /// The upstream endpoint or its connection.
    Upstream,
    /// The proxy itself (configuration, a broken invariant).
    Internal,
}

impl Source {
    /// Every source, in the order of their metric series.
    pub const ALL: [Source; 3] = [Source::Downstream, Source::Upstream, Source::Internal];

    /// A static label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Source::Downstream => "downstream",
            Source::Upstream => "upstream",
            Source::Internal => "internal",
        }
    }
}

/// The `kind` of an upstream failure in `ringress_upstream_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamKind {
    /// Connecting failed (refused, unreachable, timed out).
    Connect,
    /// The response or its body did not arrive in time.
    Timeout,
    /// The upstream reset or broke the connection.
    Reset,
    /// The upstream broke HTTP (bad head, bad chunk, closed early).
    Protocol,
    /// Any other I/O failure.
    Other,
}

impl UpstreamKind {
    /// Every kind, in the order of their metric series.
    pub const ALL: [UpstreamKind; 5] = [
        UpstreamKind::Connect,
        UpstreamKind::Timeout,
        UpstreamKind::Reset,
        UpstreamKind::Protocol,
        UpstreamKind::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UpstreamKind::Connect => "connect",
            UpstreamKind::Timeout => "timeout",
            UpstreamKind::Reset => "reset",
            UpstreamKind::Protocol => "protocol",
            UpstreamKind::Other => "other",
        }
    }
}

/// Why a proxied request failed.
#[derive(Debug, Error)]
pub enum ProxyError {
    /// The request head broke a rule (400, 414 or 431 per
    /// [`HeadError::status`]).
    #[error("bad request head: {0}")]
    BadRequest(HeadError),
    /// The chunked request body broke a rule (400).
    #[error("bad chunked request body: {0}")]
    BadRequestBody(ChunkError),
    /// The request body is larger than allowed (413).
    #[error("request body too large")]
    BodyTooLarge,
    /// The request head did not arrive in time (408).
    #[error("timed out reading the request head")]
    ClientHeadTimeout,
    /// The request body stalled longer than the idle timeout (408).
    #[error("request body idle for too long")]
    ClientBodyTimeout,
    /// The client closed or reset its connection mid-request (nothing is
    /// answered; 400 is only the status recorded).
    #[error("client closed the connection early")]
    DownstreamClosed,
    /// Reading from or writing to the client failed.
    #[error("downstream i/o: {0}")]
    DownstreamIo(#[source] io::Error),
    /// On a TLS connection whose SNI chose a certificate, the Host is
    /// served by another certificate or not covered by it (421).
    #[error("host not served by the certificate the SNI chose")]
    Misdirected,
    /// The client address is outside the route's source ranges (403).
    #[error("client address not allowed by the route's source ranges")]
    SourceDenied,
    /// No route matches and there is no default backend (404).
    #[error("no route for this host and path")]
    RouteNotFound,
    /// The backend has no ready endpoint, or its Service is missing (503).
    #[error("backend has no ready endpoint")]
    NoEndpoints,
    /// The upstream refused the connection (502).
    #[error("upstream refused the connection")]
    UpstreamConnectRefused,
    /// Connecting to the upstream failed otherwise (502).
    #[error("connecting upstream failed: {0}")]
    UpstreamConnectFailed(#[source] io::Error),
    /// Connecting to the upstream did not finish in time (504).
    #[error("timed out connecting upstream")]
    UpstreamConnectTimeout,
    /// The upstream reset the connection (502).
    #[error("upstream reset the connection")]
    UpstreamReset,
    /// The upstream closed before a complete response (502).
    #[error("upstream closed the connection early")]
    UpstreamClosedEarly,
    /// The upstream's response head broke a rule (502).
    #[error("bad upstream response head: {0}")]
    UpstreamBadResponse(HeadError),
    /// The upstream's chunked body broke a rule (502).
    #[error("bad chunked upstream body: {0}")]
    UpstreamChunk(ChunkError),
    /// The upstream response head did not arrive in time (504).
    #[error("timed out waiting for the upstream response")]
    UpstreamTimeout,
    /// The upstream body stalled longer than the idle timeout (504).
    #[error("upstream body idle for too long")]
    UpstreamBodyTimeout,
    /// Reading from or writing to the upstream failed (502).
    #[error("upstream i/o: {0}")]
    UpstreamIo(#[source] io::Error),
    /// The upstream answered a status the route's `proxy-next-upstream`
    /// moves on from, and another endpoint is tried (never answered: the
    /// last attempt relays its response).
    #[error("upstream answered {0}; trying the next endpoint")]
    UpstreamStatus(u16),
    /// The upstream answered a status of the route's `custom-http-errors`:
    /// the default backend's page replaces it (never answered as such).
    #[error("upstream answered {0}; serving the default backend's page")]
    Intercepted(u16),
}

impl From<HeadError> for ProxyError {
    fn from(e: HeadError) -> Self {
        ProxyError::BadRequest(e)
    }
}

impl ProxyError {
    /// A failed downstream read or write (a timeout there is the client's
    /// body or write stalling).
    pub fn downstream_io(e: IoFail) -> Self {
        match e {
            IoFail::Timeout => ProxyError::ClientBodyTimeout,
            IoFail::Io(e) => ProxyError::DownstreamIo(e),
        }
    }

    /// A failed upstream read or write; `timeout` names what timed out.
    pub fn upstream_io(e: IoFail, timeout: ProxyError) -> Self {
        match e {
            IoFail::Timeout => timeout,
            IoFail::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ) =>
            {
                ProxyError::UpstreamReset
            }
            IoFail::Io(e) => ProxyError::UpstreamIo(e),
        }
    }

    /// A failed upstream connect (`upstream::connect` reports its deadline
    /// as `TimedOut`).
    pub fn upstream_connect(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => ProxyError::UpstreamConnectRefused,
            io::ErrorKind::TimedOut => ProxyError::UpstreamConnectTimeout,
            _ => ProxyError::UpstreamConnectFailed(e),
        }
    }

    /// Which side is to blame. (Not `source`: that is
    /// `std::error::Error::source`, the cause.)
    pub fn blame(&self) -> Source {
        use ProxyError::*;
        match self {
            BadRequest(_) | BadRequestBody(_) | BodyTooLarge | ClientHeadTimeout
            | ClientBodyTimeout | DownstreamClosed | DownstreamIo(_) | Misdirected
            | SourceDenied => Source::Downstream,
            RouteNotFound | NoEndpoints => Source::Internal,
            UpstreamConnectRefused
            | UpstreamConnectFailed(_)
            | UpstreamConnectTimeout
            | UpstreamReset
            | UpstreamClosedEarly
            | UpstreamBadResponse(_)
            | UpstreamChunk(_)
            | UpstreamTimeout
            | UpstreamBodyTimeout
            | UpstreamStatus(_)
            | Intercepted(_)
            | UpstreamIo(_) => Source::Upstream,
        }
    }

    /// The status answered downstream (when a response can still be sent).
    pub fn status(&self) -> u16 {
        use ProxyError::*;
        match self {
            BadRequest(e) => e.status(),
            BadRequestBody(_) | DownstreamClosed | DownstreamIo(_) => 400,
            BodyTooLarge => 413,
            ClientHeadTimeout | ClientBodyTimeout => 408,
            RouteNotFound => 404,
            SourceDenied => 403,
            Misdirected => 421,
            NoEndpoints => 503,
            UpstreamConnectRefused
            | UpstreamConnectFailed(_)
            | UpstreamReset
            | UpstreamClosedEarly
            | UpstreamBadResponse(_)
            | UpstreamChunk(_)
            | UpstreamIo(_) => 502,
            UpstreamConnectTimeout | UpstreamTimeout | UpstreamBodyTimeout => 504,
            UpstreamStatus(code) | Intercepted(code) => *code,
        }
    }

    /// The kind counted in `ringress_upstream_errors_total`, for upstream
    /// failures.
    pub fn upstream_kind(&self) -> Option<UpstreamKind> {
        use ProxyError::*;
        Some(match self {
            UpstreamConnectRefused | UpstreamConnectFailed(_) | UpstreamConnectTimeout => {
                UpstreamKind::Connect
            }
            UpstreamTimeout | UpstreamBodyTimeout => UpstreamKind::Timeout,
            UpstreamReset => UpstreamKind::Reset,
            UpstreamClosedEarly | UpstreamBadResponse(_) | UpstreamChunk(_) => {
                UpstreamKind::Protocol
            }
            UpstreamIo(_) => UpstreamKind::Other,
            _ => return None,
        })
    }

    /// The answer as one of the proxy's own responses.
    pub fn response(&self) -> crate::http::Status {
        crate::http::Status::from_code(self.status())
            .unwrap_or(crate::http::Status::InternalServerError)
    }

    /// Whether the downstream connection must close after answering: every
    /// downstream error (the stream position is no longer trusted) and
    /// every failure after which the request body may be half read.
    pub fn closes_downstream(&self) -> bool {
        !matches!(
            self,
            ProxyError::RouteNotFound
                | ProxyError::NoEndpoints
                | ProxyError::Misdirected
                | ProxyError::SourceDenied
        )
    }

    /// A static metric label.
    pub fn label(&self) -> &'static str {
        use ProxyError::*;
        match self {
            BadRequest(e) => e.label(),
            BadRequestBody(e) => e.label(),
            BodyTooLarge => "body_too_large",
            ClientHeadTimeout => "client_head_timeout",
            ClientBodyTimeout => "client_body_timeout",
            DownstreamClosed => "downstream_closed",
            DownstreamIo(_) => "downstream_io",
            RouteNotFound => "route_not_found",
            SourceDenied => "source_denied",
            Misdirected => "misdirected_request",
            NoEndpoints => "no_endpoints",
            UpstreamConnectRefused => "upstream_connect_refused",
            UpstreamConnectFailed(_) => "upstream_connect_failed",
            UpstreamConnectTimeout => "upstream_connect_timeout",
            UpstreamReset => "upstream_reset",
            UpstreamClosedEarly => "upstream_closed_early",
            UpstreamBadResponse(_) => "upstream_bad_response",
            UpstreamChunk(_) => "upstream_chunk",
            UpstreamTimeout => "upstream_timeout",
            UpstreamBodyTimeout => "upstream_body_timeout",
            UpstreamIo(_) => "upstream_io",
            UpstreamStatus(_) => "upstream_status",
            Intercepted(_) => "upstream_intercepted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{ChunkError, HeadError};

    #[test]
    fn errors_map_to_source_status_and_label_in_one_place() {
        let cases: [(ProxyError, Source, u16, &str); 13] = [
            (ProxyError::SourceDenied, Source::Downstream, 403, "source_denied"),
            (ProxyError::Misdirected, Source::Downstream, 421, "misdirected_request"),
            (HeadError::ObsFold.into(), Source::Downstream, 400, "obs_fold"),
            (HeadError::HeadTooLarge.into(), Source::Downstream, 431, "head_too_large"),
            (
                HeadError::RequestLineTooLong.into(),
                Source::Downstream,
                414,
                "request_line_too_long",
            ),
            (
                ProxyError::BadRequestBody(ChunkError::BadSize),
                Source::Downstream,
                400,
                "chunk_bad_size",
            ),
            (ProxyError::ClientHeadTimeout, Source::Downstream, 408, "client_head_timeout"),
            (ProxyError::RouteNotFound, Source::Internal, 404, "route_not_found"),
            (ProxyError::NoEndpoints, Source::Internal, 503, "no_endpoints"),
            (ProxyError::UpstreamConnectRefused, Source::Upstream, 502, "upstream_connect_refused"),
            (
                ProxyError::UpstreamBadResponse(HeadError::BareLf),
                Source::Upstream,
                502,
                "upstream_bad_response",
            ),
            (
                ProxyError::UpstreamChunk(ChunkError::BadSize),
                Source::Upstream,
                502,
                "upstream_chunk",
            ),
            (ProxyError::UpstreamTimeout, Source::Upstream, 504, "upstream_timeout"),
        ];
        for (e, source, status, label) in cases {
            assert_eq!((e.blame(), e.status(), e.label()), (source, status, label), "{e}");
            assert_eq!(e.response().code(), status);
        }
        assert!(!ProxyError::RouteNotFound.closes_downstream());
        assert!(ProxyError::BadRequest(HeadError::BareLf).closes_downstream());
    }

    /// The metric series are indexed by `as usize`: ALL must be in
    /// discriminant order, and labels distinct.
    #[test]
    fn all_lists_are_in_index_order_with_distinct_labels() {
        for (i, s) in Source::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        for (i, k) in UpstreamKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        let mut labels: Vec<_> = UpstreamKind::ALL.iter().map(|k| k.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), UpstreamKind::ALL.len());
    }

    /// A reset or broken pipe from the upstream is a reset; a deadline is
    /// the timeout the caller names; anything else is upstream I/O.
    #[test]
    fn upstream_io_failures_map_to_their_kind() {
        let io = |k| IoFail::Io(io::Error::from(k));
        let reset = ProxyError::upstream_io(
            io(io::ErrorKind::ConnectionReset),
            ProxyError::UpstreamTimeout,
        );
        assert!(matches!(reset, ProxyError::UpstreamReset));
        let pipe =
            ProxyError::upstream_io(io(io::ErrorKind::BrokenPipe), ProxyError::UpstreamTimeout);
        assert_eq!(pipe.upstream_kind(), Some(UpstreamKind::Reset));
        let late = ProxyError::upstream_io(IoFail::Timeout, ProxyError::UpstreamBodyTimeout);
        assert!(matches!(late, ProxyError::UpstreamBodyTimeout));
        assert_eq!(late.upstream_kind(), Some(UpstreamKind::Timeout));
        let other = ProxyError::upstream_io(io(io::ErrorKind::Other), ProxyError::UpstreamTimeout);
        assert_eq!((other.upstream_kind(), other.status()), (Some(UpstreamKind::Other), 502));
    }

    /// Connect failures: refused 502, timed out 504, both of kind connect.
    #[test]
    fn connect_failures_map_to_their_status() {
        let refused = ProxyError::upstream_connect(io::ErrorKind::ConnectionRefused.into());
        let late = ProxyError::upstream_connect(io::ErrorKind::TimedOut.into());
        let other = ProxyError::upstream_connect(io::ErrorKind::HostUnreachable.into());
        assert_eq!((refused.status(), late.status(), other.status()), (502, 504, 502));
        for e in [refused, late, other] {
            assert_eq!(
                (e.blame(), e.upstream_kind()),
                (Source::Upstream, Some(UpstreamKind::Connect))
            );
        }
    }

    /// A downstream deadline is the client's stall (408); downstream
    /// failures are never counted as upstream kinds.
    #[test]
    fn downstream_io_failures_are_the_clients() {
        let late = ProxyError::downstream_io(IoFail::Timeout);
        assert_eq!(
            (late.status(), late.blame(), late.upstream_kind()),
            (408, Source::Downstream, None)
        );
        let gone = ProxyError::downstream_io(IoFail::Io(io::ErrorKind::ConnectionReset.into()));
        assert_eq!((gone.blame(), gone.upstream_kind()), (Source::Downstream, None));
    }
}
