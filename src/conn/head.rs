//! Phase 1, `read_head`, and the request buffers an idle connection
//! gives back to the worker's pool.

use std::time::{Duration, Instant};

use super::io::{read_more, IoFail};
use super::Conn;
use crate::buffers;
use crate::error::ProxyError;
use crate::http::normalize::normalize_request_path;
use crate::http::upgrade::restrict_upgrade;
use crate::http::{HeadScan, RequestHead};
use crate::stream::DownstreamStream;

/// How long a connection idle when the drain starts may still send its
/// next request (answered with `Connection: close`) before it is closed.
const DRAIN_IDLE_GRACE: Duration = Duration::from_secs(1);

impl Conn {
    /// Phase 1: wait for the next request head and parse it, then
    /// normalise its path (what is routed on and forwarded, see
    /// `http::normalize`) and keep only the allowed protocols of an
    /// upgrade offer (see `http::upgrade`). `Ok(None)`: the connection
    /// ends quietly (client closed, idle timeout, drain).
    pub(super) async fn read_head<S: DownstreamStream>(
        &mut self,
        down: &mut S,
    ) -> Result<Option<RequestHead>, ProxyError> {
        let (keepalive_timeout, head_timeout) =
            (self.worker.settings.keepalive_timeout, self.worker.settings.client_head_timeout);
        let mut deadline: Option<Instant> = None;
        // Only the bytes each read adds are scanned; the parser runs when a
        // line end or a blank line arrives (see `HeadScan`), so a head
        // trickling in a byte per segment costs linear work, not a re-parse
        // per read.
        let mut scan = HeadScan::new();
        loop {
            if !self.buf.is_empty() {
                if let Some(mut head) = scan.parse_request(&self.buf, &self.limits)? {
                    // `out` is free until the upstream head is written: it is
                    // the scratch space of a path that needs normalising.
                    normalize_request_path(&mut self.buf, &mut head, &mut self.out)?;
                    let allowed = &self.worker.settings.allowed_upgrades;
                    restrict_upgrade(&mut self.buf, &mut head, allowed);
                    return Ok(Some(head));
                }
                // Part of a head: from now on the head timeout runs.
                deadline.get_or_insert_with(|| Instant::now() + head_timeout);
            }
            let n = if self.buf.is_empty() && deadline.is_none() {
                // Idle between requests: the keep-alive timeout applies, and
                // a drain ends the wait. The large buffers wait in the pool.
                self.release_buffers();
                down.release_idle();
                let r = {
                    let mut read =
                        std::pin::pin!(read_more(down, &mut self.idle, keepalive_timeout));
                    monoio::select! {
                        r = &mut read => r,
                        _ = self.guard.draining() => {
                            // Draining: a request already on its way (a client
                            // that wrote as the drain began) is still read and
                            // answered, with `Connection: close`; a client that
                            // stays quiet gets a moment, not the keep-alive
                            // timeout.
                            match monoio::time::timeout(DRAIN_IDLE_GRACE, &mut read).await {
                                Ok(r) => r,
                                Err(_) => return Ok(None),
                            }
                        },
                    }
                };
                let n = match r {
                    Ok(n) => n,
                    Err(_) => return Ok(None),
                };
                self.take_buffers();
                n
            } else {
                let deadline = *deadline.get_or_insert_with(|| Instant::now() + head_timeout);
                let left = deadline.saturating_duration_since(Instant::now());
                match read_more(down, &mut self.buf, left).await {
                    Ok(n) => n,
                    Err(IoFail::Timeout) => return Err(ProxyError::ClientHeadTimeout),
                    Err(IoFail::Io(_)) => return Ok(None),
                }
            };
            if n == 0 {
                // Closed between requests, or mid-head: nobody to answer.
                return Ok(None);
            }
        }
    }

    /// Give `buf`, `out` and `ubuf` back to the worker's pool (`buf` is
    /// empty: nothing of a request is pending).
    pub(super) fn release_buffers(&mut self) {
        buffers::release(&mut self.buf);
        buffers::release(&mut self.out);
        buffers::release(&mut self.ubuf);
    }

    /// The connection starts with `early`, the bytes read after its PROXY
    /// header that the stream kind left (the start of the first request
    /// head): they become `buf`. Empty, it goes back to the pool.
    pub(super) fn start_with(&mut self, early: Vec<u8>) {
        if early.is_empty() {
            buffers::give(early);
            return;
        }
        self.buf = early;
        buffers::ensure(&mut self.out);
        buffers::ensure(&mut self.ubuf);
    }

    /// Bytes arrived on an idle connection: take the request buffers from
    /// the pool and move what arrived into `buf`.
    pub(super) fn take_buffers(&mut self) {
        buffers::ensure(&mut self.buf);
        buffers::ensure(&mut self.out);
        buffers::ensure(&mut self.ubuf);
        self.buf.extend_from_slice(&self.idle);
        self.idle.clear();
    }
}
