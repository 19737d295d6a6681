//! Where the request in progress stands, and every decision that depends
//! on it: whether it may be sent again ([`Progress::can_retry`]), whether a
//! failure can still be answered ([`Progress::can_answer`]), whether the
//! connection closes after it ([`Progress::must_close`]) and whether that
//! close lingers ([`Progress::must_linger`]).
//!
//! The phases move it forward only (a relayed `1xx` is already
//! [`Progress::Responding`], and stays so when the final head arrives). A
//! new phase adds its state here, with its row in the tests below.

use crate::error::{ProxyError, Source};

/// Whether the request body has been taken from the connection whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body, or every byte of it read from downstream.
    Complete,
    /// Body bytes may still be unread on the downstream connection.
    Pending,
}

/// The request's progress, one state per step of its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for a head, or refusing one that could not be read.
    ReadingHead,
    /// The head is parsed and still in `buf`: `route`, `pick_endpoint`,
    /// connecting. Nothing was sent either way.
    HeadRead(Body),
    /// `forward` took the head from `buf`; `out` holds the upstream head and
    /// the buffered body and is being written (`Complete`: that is the whole
    /// request, so `out` can be sent again).
    Sending(Body),
    /// Body bytes beyond the buffered ones are read from downstream and
    /// passed up: the request can no longer be sent again.
    StreamingBody,
    /// The whole request went up (`replayable`: in the one write of `out`).
    Sent { replayable: bool },
    /// A response byte arrived from upstream; none went downstream.
    Answered(Body),
    /// A response byte was written downstream (a relayed `1xx`, the final
    /// head, the proxy's redirect): no other answer is possible.
    Responding(Body),
}

impl Progress {
    /// The state once the head is parsed.
    pub fn head_read(has_body: bool) -> Self {
        Progress::HeadRead(if has_body { Body::Pending } else { Body::Complete })
    }

    /// Whether the head is still at the front of `buf` (every state after
    /// `HeadRead` has taken it).
    pub fn head_in_buf(self) -> bool {
        matches!(self, Progress::ReadingHead | Progress::HeadRead(_))
    }

    /// The request body as this state leaves it.
    pub fn body(self) -> Body {
        use Progress::*;
        match self {
            ReadingHead | Sent { .. } => Body::Complete,
            StreamingBody => Body::Pending,
            HeadRead(b) | Sending(b) | Answered(b) | Responding(b) => b,
        }
    }

    /// A response byte arrived from upstream.
    pub fn answered(&mut self) {
        if !matches!(self, Progress::Responding(_)) {
            *self = Progress::Answered(self.body());
        }
    }

    /// A response byte is about to go downstream.
    pub fn responding(&mut self) {
        *self = Progress::Responding(self.body());
    }

    /// Whether an upstream answer may be waiting after the upstream stopped
    /// taking the body (it answered early, 413 or 401, and closed).
    pub fn may_have_early_answer(self) -> bool {
        self == Progress::StreamingBody
    }

    /// Whether a request that failed with `e` on a pooled connection may be
    /// sent again on a fresh one: an idempotent method (RFC 9110 §9.2.2; a
    /// POST may have been acted on, body or not), an upstream failure, and
    /// the whole request still in `out` with nothing answered.
    pub fn can_retry(self, idempotent: bool, e: &ProxyError) -> bool {
        idempotent
            && matches!(e.blame(), Source::Upstream)
            && matches!(
                self,
                Progress::Sending(Body::Complete) | Progress::Sent { replayable: true }
            )
    }

    /// Whether a failure can still be answered downstream: nothing was
    /// written there yet, and the client has not gone.
    pub fn can_answer(self, e: &ProxyError) -> bool {
        !matches!(self, Progress::Responding(_)) && !matches!(e, ProxyError::DownstreamClosed)
    }

    /// Whether the connection closes after this request. `keep_alive`: the
    /// client asked to keep it; `forced`: the proxy closes anyway (drain,
    /// `--keepalive-requests`); `e`: the failure, if any. A head that could
    /// not be read always closes; so does a body left unread.
    pub fn must_close(self, keep_alive: bool, forced: bool, e: Option<&ProxyError>) -> bool {
        self == Progress::ReadingHead
            || e.is_some_and(ProxyError::closes_downstream)
            || forced
            || !keep_alive
            || self.body() == Body::Pending
    }

    /// Whether a closing connection reads what the client still sends
    /// before it closes (`io::lingering_close`): after a refused head,
    /// after a failure the upstream is not to blame for (`e`: the failure
    /// the connection closes for), and while body bytes may be unread.
    pub fn must_linger(self, e: Option<&ProxyError>) -> bool {
        self == Progress::ReadingHead
            || e.is_some_and(|e| !matches!(e.blame(), Source::Upstream))
            || self.body() == Body::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::Body::*;
    use super::Progress::{self, *};
    use crate::error::ProxyError;

    const EVERY: [Progress; 12] = [
        ReadingHead,
        HeadRead(Complete),
        HeadRead(Pending),
        Sending(Complete),
        Sending(Pending),
        StreamingBody,
        Sent { replayable: true },
        Sent { replayable: false },
        Answered(Complete),
        Answered(Pending),
        Responding(Complete),
        Responding(Pending),
    ];

    fn upstream() -> ProxyError {
        ProxyError::UpstreamReset
    }

    /// A pooled connection is replayed only while `out` holds the whole
    /// request and nothing came back: a body only partly in `out` (the rest
    /// still downstream) or streamed cannot be sent again.
    #[test]
    fn retry_only_while_the_whole_request_is_in_out_and_unanswered() {
        for p in EVERY {
            let want = matches!(p, Sending(Complete) | Sent { replayable: true });
            assert_eq!(p.can_retry(true, &upstream()), want, "{p:?}");
        }
    }

    /// A POST (or any non-idempotent method) is never replayed, and a
    /// downstream failure is no reason to try another upstream connection.
    #[test]
    fn retry_never_for_a_non_idempotent_method_or_a_downstream_failure() {
        for p in EVERY {
            assert!(!p.can_retry(false, &upstream()), "{p:?}");
            assert!(!p.can_retry(true, &ProxyError::DownstreamClosed), "{p:?}");
        }
    }

    /// The proxy answers a failure itself until a response byte went
    /// downstream, and never to a client that has gone.
    #[test]
    fn answer_until_a_response_byte_went_downstream() {
        for p in EVERY {
            let want = !matches!(p, Responding(_));
            assert_eq!(p.can_answer(&upstream()), want, "{p:?}");
            assert!(!p.can_answer(&ProxyError::DownstreamClosed), "{p:?}");
        }
    }

    /// A kept-alive client with nothing forced stays open exactly when the
    /// head was read and no body byte is left unread.
    #[test]
    fn keep_alive_unless_the_head_was_refused_or_body_bytes_are_unread() {
        for p in EVERY {
            let want = p == ReadingHead || p.body() == Pending;
            assert_eq!(p.must_close(true, false, None), want, "{p:?}");
            assert_eq!(
                p.body() == Pending,
                matches!(
                    p,
                    HeadRead(Pending)
                        | Sending(Pending)
                        | StreamingBody
                        | Answered(Pending)
                        | Responding(Pending)
                ),
                "{p:?}"
            );
        }
    }

    /// A 404 or 503 keeps the connection; any other failure, a client
    /// without keep-alive and a forced close (drain, request limit) close
    /// it, in every state.
    #[test]
    fn close_for_the_error_the_client_or_the_proxy() {
        for p in EVERY {
            assert!(p.must_close(true, false, Some(&upstream())), "{p:?}");
            assert!(p.must_close(false, false, None), "{p:?}");
            assert!(p.must_close(true, true, None), "{p:?}");
            let want = p == ReadingHead || p.body() == Pending;
            assert_eq!(p.must_close(true, false, Some(&ProxyError::RouteNotFound)), want, "{p:?}");
        }
    }

    /// Lingering protects an answer from the reset that unread input
    /// causes: always after a refused head, after a downstream or internal
    /// failure, and while body bytes may be unread; never after an upstream
    /// failure with the whole request read.
    #[test]
    fn linger_after_a_refused_head_a_downstream_failure_or_an_unread_body() {
        for p in EVERY {
            let pending = p == ReadingHead || p.body() == Pending;
            assert_eq!(p.must_linger(None), pending, "{p:?}");
            assert_eq!(p.must_linger(Some(&upstream())), pending, "{p:?}");
            assert!(p.must_linger(Some(&ProxyError::DownstreamClosed)), "{p:?}");
            assert!(p.must_linger(Some(&ProxyError::RouteNotFound)), "{p:?}");
        }
    }

    /// The phases only move forward: an answer from upstream after a
    /// relayed `1xx` leaves the request responding, and each step keeps
    /// what it knows of the body.
    #[test]
    fn progress_moves_forward_and_keeps_the_body() {
        let mut p = Responding(Complete);
        p.answered();
        assert_eq!(p, Responding(Complete));
        let mut p = StreamingBody;
        p.answered();
        assert_eq!(p, Answered(Pending));
        p.responding();
        assert_eq!(p, Responding(Pending));
        let mut p = Sent { replayable: false };
        p.answered();
        assert_eq!(p, Answered(Complete));
        assert_eq!(Progress::head_read(true), HeadRead(Pending));
        assert_eq!(Progress::head_read(false), HeadRead(Complete));
        assert!(HeadRead(Pending).head_in_buf() && !Sending(Pending).head_in_buf());
        assert!(StreamingBody.may_have_early_answer() && !Sending(Pending).may_have_early_answer());
    }
}
