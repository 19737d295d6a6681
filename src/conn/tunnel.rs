//! After `101 Switching Protocols` (WebSocket): copy bytes both ways until
//! each side has closed its half.

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Split, Splitable};
use monoio::net::TcpStream;

/// Buffer of each direction.
const TUNNEL_BUF: usize = 16 * 1024;

/// Copy `down` ↔ `up`. `to_up` holds client bytes that arrived after the
/// request head, `to_down` upstream bytes that arrived after the 101 head.
pub async fn run<S>(down: S, up: TcpStream, to_up: Vec<u8>, to_down: Vec<u8>)
where
    S: AsyncReadRent + AsyncWriteRent + Split + 'static,
{
    let (down_r, down_w) = down.into_split();
    let (up_r, up_w) = up.into_split();
    let upward = monoio::spawn(copy(down_r, up_w, to_up));
    copy(up_r, down_w, to_down).await;
    upward.await;
}

/// Copy until end of stream or error, then close the writer's half.
async fn copy<R: AsyncReadRent, W: AsyncWriteRent>(mut r: R, mut w: W, pending: Vec<u8>) {
    let mut buf = pending;
    if buf.capacity() < TUNNEL_BUF {
        buf.reserve(TUNNEL_BUF - buf.len());
    }
    loop {
        if !buf.is_empty() {
            let (res, b) = w.write_all(buf).await;
            buf = b;
            if res.is_err() {
                break;
            }
            buf.clear();
        }
        let (res, b) = r.read(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = w.shutdown().await;
}
