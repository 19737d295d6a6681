//! The data plane's one error type. Every way a proxied request can fail is
//! a variant of [`ProxyError`]; its source (which side is to blame), the
//! status answered downstream and the metric label are mapped here, in one
//! place, and nowhere else.

use std::io;

use thiserror::Error;

use crate::http::{ChunkError, HeadError};

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
    /// A static label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Source::Downstream => "downstream",
            Source::Upstream => "upstream",
            Source::Internal => "internal",
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
    /// The proxy broke one of its own invariants (500).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl From<HeadError> for ProxyError {
    fn from(e: HeadError) -> Self {
        ProxyError::BadRequest(e)
    }
}

impl ProxyError {
    /// Which side is to blame.
    pub fn source(&self) -> Source {
        use ProxyError::*;
        match self {
            BadRequest(_) | BadRequestBody(_) | BodyTooLarge | ClientHeadTimeout
            | ClientBodyTimeout | DownstreamClosed | DownstreamIo(_) => Source::Downstream,
            RouteNotFound | NoEndpoints | Internal(_) => Source::Internal,
            UpstreamConnectRefused
            | UpstreamConnectFailed(_)
            | UpstreamConnectTimeout
            | UpstreamReset
            | UpstreamClosedEarly
            | UpstreamBadResponse(_)
            | UpstreamChunk(_)
            | UpstreamTimeout
            | UpstreamBodyTimeout
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
            NoEndpoints => 503,
            UpstreamConnectRefused
            | UpstreamConnectFailed(_)
            | UpstreamReset
            | UpstreamClosedEarly
            | UpstreamBadResponse(_)
            | UpstreamChunk(_)
            | UpstreamIo(_) => 502,
            UpstreamConnectTimeout | UpstreamTimeout | UpstreamBodyTimeout => 504,
            Internal(_) => 500,
        }
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
        !matches!(self, ProxyError::RouteNotFound | ProxyError::NoEndpoints)
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
            Internal(_) => "internal",
        }
    }
}
