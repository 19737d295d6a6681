//! `ringress-load upstream`: a thread-per-core benchmark origin. Each thread
//! runs its own monoio runtime and its own `SO_REUSEPORT` listener; the
//! kernel spreads connections over them. Keep-alive and pipelining are
//! served from one read buffer and one write buffer per connection.
//!
//! Request headers steer one response:
//! - `x-body-size: N`: a body of N bytes (at most [`MAX_BODY`]);
//! - `x-delay-ms: N`: answer after N ms (at most 60 000);
//! - `x-status: NNN`: answer with that status (200..=599, not 204 or 304).
//!
//! The body is `hello world\n` repeated and cut to size, so the default
//! 12-byte body is exactly what the reference nginx origin answers.

use std::net::SocketAddr;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{ListenerOpts, TcpListener, TcpStream};

use crate::framing::{has_token, parse_content_length, BodyReader};

/// Largest body a request may ask for.
pub const MAX_BODY: u64 = 1 << 30;
/// Longest delay a request may ask for.
const MAX_DELAY_MS: u64 = 60_000;
/// Largest request head.
const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// Output is written once this much is queued.
const FLUSH_AT: usize = 64 * 1024;
const PATTERN: &[u8; 12] = b"hello world\n";

/// The upstream's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub body_size: usize,
    pub delay: Duration,
    pub threads: u32,
    pub pin: bool,
    pub engine: crate::Engine,
}

/// Starts the threads and blocks while they serve. `ready` is called with
/// the bound address (the real port when `listen` asked for port 0) once
/// every thread listens.
pub fn serve(config: &Config, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let mut addr = config.listen;
    let mut handles = Vec::new();
    for t in 0..config.threads.max(1) {
        let (tx, rx) = std::sync::mpsc::channel();
        let c = config.clone();
        let bind_to = addr;
        let h = std::thread::Builder::new().name(format!("upstream-{t}")).spawn(move || {
            if c.pin {
                crate::pin_current_thread(t as usize);
            }
            let mut rt = match crate::runtime(c.engine) {
                Ok(rt) => rt,
                Err(e) => return tx.send(Err(e)).unwrap_or(()),
            };
            rt.block_on(async move {
                let opts = ListenerOpts::new().reuse_port(true).backlog(4096);
                let listener = match TcpListener::bind_with_config(bind_to, &opts) {
                    Ok(l) => l,
                    Err(e) => return tx.send(Err(e)).unwrap_or(()),
                };
                let _ = tx.send(listener.local_addr());
                accept_loop(listener, c).await;
            })
        })?;
        addr = rx.recv().map_err(|_| std::io::Error::other("upstream thread died"))??;
        handles.push(h);
    }
    ready(addr);
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

async fn accept_loop(listener: TcpListener, config: Config) {
    let defaults = Defaults {
        body_size: config.body_size as u64,
        delay_ms: config.delay.as_millis().min(u128::from(MAX_DELAY_MS)) as u64,
    };
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                monoio::spawn(serve_connection(stream, defaults));
            }
            // Out of descriptors or similar: wait a little, keep serving.
            Err(_) => monoio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Defaults {
    body_size: u64,
    delay_ms: u64,
}

/// One response to send, decided from the request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    status: u16,
    body: u64,
    delay_ms: u64,
    close: bool,
}

/// The request head at the front of `buf`: its length, the answer and the
/// request body to skip. `Ok(None)`: incomplete. `Err`: answer 400 and close.
fn read_head(buf: &[u8], d: Defaults) -> Result<Option<(usize, Answer, BodyReader)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST_HEAD => return Ok(None),
        _ => return Err(()),
    };
    let mut a = Answer { status: 200, body: d.body_size, delay_ms: d.delay_ms, close: false };
    let mut close = req.version == Some(0);
    let mut body = BodyReader::Length(0);
    for h in req.headers.iter() {
        let n = h.name;
        if n.eq_ignore_ascii_case("content-length") {
            body = BodyReader::Length(parse_content_length(h.value).ok_or(())?);
        } else if n.eq_ignore_ascii_case("transfer-encoding") {
            body = BodyReader::Chunked(Default::default());
        } else if n.eq_ignore_ascii_case("connection") {
            close = if req.version == Some(0) {
                !has_token(h.value, b"keep-alive")
            } else {
                has_token(h.value, b"close")
            };
        } else if n.eq_ignore_ascii_case("x-body-size") {
            a.body = parse_content_length(h.value).filter(|b| *b <= MAX_BODY).ok_or(())?;
        } else if n.eq_ignore_ascii_case("x-delay-ms") {
            a.delay_ms = parse_content_length(h.value).ok_or(())?.min(MAX_DELAY_MS);
        } else if n.eq_ignore_ascii_case("x-status") {
            a.status = parse_content_length(h.value)
                .filter(|s| (200..=599).contains(s) && *s != 204 && *s != 304)
                .ok_or(())? as u16;
        }
    }
    if req.method == Some("HEAD") {
        // Same head as GET, no body: write the head only.
        a.body = 0;
    }
    a.close = close;
    Ok(Some((len, a, body)))
}

async fn serve_connection(mut stream: TcpStream, d: Defaults) {
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_REQUEST_HEAD);
    let mut out: Vec<u8> = Vec::with_capacity(FLUSH_AT + 1024);
    // The request whose body is being skipped, and its answer.
    let mut pending: Option<(Answer, BodyReader)> = None;
    loop {
        let len = buf.len();
        let (res, slice) = stream.read(buf.slice_mut(len..)).await;
        buf = slice.into_inner();
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut pos = 0;
        let mut delay_ms = 0;
        let mut close = false;
        loop {
            if pending.is_none() {
                match read_head(&buf[pos..], d) {
                    Ok(Some((n, answer, body))) => {
                        pos += n;
                        pending = Some((answer, body));
                    }
                    Ok(None) => break,
                    Err(()) => {
                        out.extend_from_slice(
                            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        close = true;
                        break;
                    }
                }
            }
            let Some((answer, body)) = pending.as_mut() else { break };
            let Ok((used, done)) = body.consume(&buf[pos..]) else {
                close = true;
                break;
            };
            pos += used;
            if !done {
                break;
            }
            let answer = *answer;
            pending = None;
            delay_ms = delay_ms.max(answer.delay_ms);
            if delay_ms > 0 && !out.is_empty() {
                // Answers already queued go out before a delayed one.
                if flush(&mut stream, &mut out).await.is_err() {
                    return;
                }
            }
            if answer.delay_ms > 0 {
                monoio::time::sleep(Duration::from_millis(answer.delay_ms)).await;
            }
            if write_answer(&mut stream, &mut out, answer).await.is_err() {
                return;
            }
            if answer.close {
                close = true;
                break;
            }
        }
        buf.drain(..pos);
        if !out.is_empty() && flush(&mut stream, &mut out).await.is_err() {
            return;
        }
        if close {
            return;
        }
    }
}

/// Queues one answer, flushing as the body grows past [`FLUSH_AT`].
async fn write_answer(stream: &mut TcpStream, out: &mut Vec<u8>, a: Answer) -> std::io::Result<()> {
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(num.format(a.status).as_bytes());
    out.extend_from_slice(if a.status < 400 { b" OK\r\n" } else { b" Error\r\n" });
    out.extend_from_slice(b"Content-Type: text/plain\r\nContent-Length: ");
    out.extend_from_slice(num.format(a.body).as_bytes());
    out.extend_from_slice(if a.close { b"\r\nConnection: close\r\n\r\n" } else { b"\r\n\r\n" });
    let mut left = a.body;
    let mut offset = 0usize;
    while left > 0 {
        let room = (FLUSH_AT + 1024).saturating_sub(out.len()).max(PATTERN.len());
        let mut take = left.min(room as u64) as usize;
        left -= take as u64;
        while take > 0 {
            let n = (PATTERN.len() - offset).min(take);
            out.extend_from_slice(&PATTERN[offset..offset + n]);
            offset = (offset + n) % PATTERN.len();
            take -= n;
        }
        if out.len() >= FLUSH_AT {
            flush(stream, out).await?;
        }
    }
    Ok(())
}

async fn flush(stream: &mut TcpStream, out: &mut Vec<u8>) -> std::io::Result<()> {
    let (res, mut back) = stream.write_all(std::mem::take(out)).await;
    back.clear();
    *out = back;
    res.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Defaults = Defaults { body_size: 12, delay_ms: 0 };

    #[test]
    fn headers_override_size_delay_and_status() {
        let req = b"GET / HTTP/1.1\r\nHost: x\r\nx-body-size: 100\r\nx-delay-ms: 5\r\nx-status: 503\r\n\r\n";
        let (len, a, body) = read_head(req, D).unwrap().unwrap();
        assert_eq!(len, req.len());
        assert_eq!(a, Answer { status: 503, body: 100, delay_ms: 5, close: false });
        assert_eq!(body, BodyReader::Length(0));
    }

    #[test]
    fn request_bodies_are_framed_and_close_is_honoured() {
        let req = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
        let (_, a, body) = read_head(req, D).unwrap().unwrap();
        assert!(a.close);
        assert_eq!(body, BodyReader::Length(3));
        let (_, a, _) = read_head(b"GET / HTTP/1.0\r\n\r\n", D).unwrap().unwrap();
        assert!(a.close);
    }

    #[test]
    fn bad_overrides_and_garbage_are_refused() {
        assert!(read_head(b"GET / HTTP/1.1\r\nx-body-size: lots\r\n\r\n", D).is_err());
        assert!(read_head(b"GET / HTTP/1.1\r\nx-status: 42\r\n\r\n", D).is_err());
        assert!(read_head(b"\x00\x01garbage\r\n\r\n", D).is_err());
        assert_eq!(read_head(b"GET / HTTP/1.1\r\nHo", D), Ok(None));
    }
}
