//! After `101 Switching Protocols` (WebSocket): copy bytes both ways until
//! each side has closed its half, or until no byte has moved either way for
//! the idle timeout (`--tunnel-idle-timeout`), when both halves close.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use crate::stream::DownstreamStream;

/// Buffer of each direction.
const TUNNEL_BUF: usize = 16 * 1024;

/// Copy `down` ↔ `up`. `to_up` holds client bytes that arrived after the
/// request head, `to_down` upstream bytes that arrived after the 101 head.
/// Returns true when the tunnel was closed for being idle.
///
/// Both directions run in this one task, beside an idle watch. Reads have
/// no deadline of their own: when nothing has moved either way for `idle`,
/// the watch wins and both directions are dropped mid-operation, which
/// closes both connections. A read is never cut and then resumed (a cut
/// read may have lost bytes on io_uring, and leaves a TLS stream unusable:
/// see [`crate::stream`]).
pub async fn run<S: DownstreamStream>(
    down: S,
    up: TcpStream,
    to_up: Vec<u8>,
    to_down: Vec<u8>,
    idle: Duration,
) -> bool {
    let (down_r, down_w) = down.into_halves();
    let (up_r, up_w) = up.into_halves();
    let activity = Activity::new(idle);
    let upward = copy(down_r, up_w, to_up, activity.clone());
    let downward = copy(up_r, down_w, to_down, activity.clone());
    let both = async { monoio::join!(upward, downward) };
    monoio::select! {
        (idle_up, idle_down) = both => idle_up || idle_down,
        _ = activity.expired() => true,
    }
}

/// When a byte last moved either way; both directions share it, so a
/// direction that is quiet while the other is busy stays open.
#[derive(Clone)]
struct Activity {
    last: Rc<Cell<Instant>>,
    idle: Duration,
}

impl Activity {
    fn new(idle: Duration) -> Self {
        Self { last: Rc::new(Cell::new(Instant::now())), idle }
    }

    fn touch(&self) {
        self.last.set(Instant::now());
    }

    /// Time left before the tunnel counts as idle; `None` once it is.
    fn remaining(&self) -> Option<Duration> {
        let left = self.idle.checked_sub(self.last.get().elapsed())?;
        (!left.is_zero()).then_some(left)
    }

    /// Resolves once nothing has moved either way for the idle limit.
    async fn expired(&self) {
        while let Some(left) = self.remaining() {
            monoio::time::sleep(left).await;
        }
    }
}

/// Copy until end of stream, an error or a write stalled for the idle
/// limit, then close the writer's half. Returns true when it stopped for a
/// stalled write.
async fn copy<R: AsyncReadRent, W: AsyncWriteRent>(
    mut r: R,
    mut w: W,
    pending: Vec<u8>,
    activity: Activity,
) -> bool {
    let mut buf = pending;
    if buf.capacity() < TUNNEL_BUF {
        buf.reserve(TUNNEL_BUF - buf.len());
    }
    let mut idle = false;
    loop {
        if !buf.is_empty() {
            // A peer that takes none of these bytes for the whole idle
            // limit ends this direction, however busy the other one is.
            // The limit runs from this write's start (the touch), so the
            // idle watch cannot cut it earlier either.
            activity.touch();
            match monoio::time::timeout(activity.idle, w.write_all(buf)).await {
                Ok((Ok(_), b)) => buf = b,
                Ok((Err(_), _)) => break,
                Err(_) => {
                    idle = true;
                    break;
                }
            }
            activity.touch();
            buf.clear();
        }
        match r.read(buf).await {
            (Ok(0) | Err(_), _) => break,
            (Ok(_), b) => {
                buf = b;
                activity.touch();
            }
        }
    }
    let _ = w.shutdown().await;
    idle
}
