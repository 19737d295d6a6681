//! After `101 Switching Protocols` (WebSocket): copy bytes both ways until
//! each side has closed its half, or until no byte has moved either way for
//! the idle timeout (`--tunnel-idle-timeout`), when both halves close.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Split, Splitable};
use monoio::net::TcpStream;

/// Buffer of each direction.
const TUNNEL_BUF: usize = 16 * 1024;

/// Copy `down` ↔ `up`. `to_up` holds client bytes that arrived after the
/// request head, `to_down` upstream bytes that arrived after the 101 head.
/// Returns true when the tunnel was closed for being idle.
pub async fn run<S>(
    down: S,
    up: TcpStream,
    to_up: Vec<u8>,
    to_down: Vec<u8>,
    idle: Duration,
) -> bool
where
    S: AsyncReadRent + AsyncWriteRent + Split + 'static,
{
    let (down_r, down_w) = down.into_split();
    let (up_r, up_w) = up.into_split();
    let activity = Activity::new(idle);
    let upward = monoio::spawn(copy(down_r, up_w, to_up, activity.clone()));
    let idle_down = copy(up_r, down_w, to_down, activity).await;
    let idle_up = upward.await;
    idle_down || idle_up
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
}

/// Copy until end of stream, an error or the idle timeout, then close the
/// writer's half. Returns true when it stopped for being idle.
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
    'copy: loop {
        if !buf.is_empty() {
            // A peer that takes none of these bytes for the whole idle
            // limit ends the tunnel. The limit runs from this write's
            // start, not from the shared activity: a write cut short
            // cannot be resumed (how much went out is lost with it), so it
            // must not be cut while the other direction keeps the tunnel
            // alive.
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
        loop {
            let Some(left) = activity.remaining() else {
                idle = true;
                break 'copy;
            };
            match monoio::time::timeout(left, r.read(buf)).await {
                Ok((Ok(0) | Err(_), _)) => break 'copy,
                Ok((Ok(_), b)) => {
                    buf = b;
                    activity.touch();
                    continue 'copy;
                }
                // The read was dropped with its buffer; the other direction
                // may have moved meanwhile, so look again.
                Err(_) => buf = Vec::with_capacity(TUNNEL_BUF),
            }
        }
    }
    let _ = w.shutdown().await;
    idle
}
