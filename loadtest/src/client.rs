//! One keep-alive connection's loop: wait for the next send time (open loop)
//! or go at once (closed loop), connect if needed, send the request, read one
//! complete response, record it, and start again. Any failure is counted by
//! kind, the connection is dropped and the next request reconnects.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::time::{sleep, sleep_until, timeout_at, Instant};
use monoio_rustls::{ClientTlsStream, TlsConnector};
use rustls_pki_types::ServerName;

use crate::framing::{parse_response_head, BodyReader, FramingError, MAX_HEAD};
use crate::record::{ErrorKind, Record};
use crate::schedule::Schedule;

/// Read buffer per connection, allocated at its first read; at least a
/// quarter of it is free before each read.
const READ_BUF: usize = 64 * 1024;
/// Pause after a failed connect before the next attempt.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// What every connection of a run shares (per thread, read-only).
pub struct Plan {
    pub addr: SocketAddr,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    /// The whole request, head and body, built once.
    pub request: Rc<Vec<u8>>,
    /// The method is HEAD: responses carry no body.
    pub head_request: bool,
    pub timeout: Duration,
    /// The first connection opens; the others follow, one every
    /// `open_interval` (`--connect-rate`).
    pub open_from: Instant,
    pub open_interval: Duration,
    /// Load starts (warmup begins), after every connection's turn to open.
    pub start: Instant,
    /// Recording starts.
    pub measure_from: Instant,
    /// Recording and load stop.
    pub end: Instant,
}

/// Live counters a thread publishes for the progress line (one writer).
#[derive(Debug, Default)]
pub struct Progress {
    pub responses: AtomicU64,
    pub errors: AtomicU64,
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<ClientTlsStream<TcpStream>>),
}

impl Conn {
    async fn read<B: IoBufMut>(&mut self, buf: B) -> monoio::BufResult<usize, B> {
        match self {
            Conn::Plain(s) => s.read(buf).await,
            Conn::Tls(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, buf: Rc<Vec<u8>>) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(buf).await.0.map(drop),
            Conn::Tls(s) => s.write_all(buf).await.0.map(drop),
        }
    }
}

/// Why one exchange failed.
enum Failure {
    Kind(ErrorKind),
    /// The run ended while waiting; not an error.
    Ended,
}

/// Runs connection number `index` (of the whole run) until `plan.end`,
/// recording into `record`: opened in its turn, then idle until the load
/// starts.
pub async fn connection(
    plan: Rc<Plan>,
    index: u32,
    record: Rc<RefCell<Record>>,
    progress: Arc<Progress>,
    mut schedule: Option<Schedule>,
) {
    let mut conn = open(&plan, index, &record).await;
    // Allocated at the first read: an opened connection waiting for the
    // load holds no buffer.
    let mut buf: Vec<u8> = Vec::new();
    if plan.start > Instant::now() {
        sleep_until(plan.start).await;
    }
    loop {
        let intended = match schedule.as_mut() {
            Some(s) => {
                let at = plan.start + s.next_offset();
                if at >= plan.end {
                    break;
                }
                if at > Instant::now() {
                    // The connection was idle: any lateness now is the
                    // timer's (1 ms resolution), not the server's, so the
                    // clock starts at the actual send.
                    sleep_until(at).await;
                    Instant::now()
                } else {
                    // Still busy with an earlier answer at the intended time:
                    // the wait counts (coordinated-omission correction).
                    at
                }
            }
            None => Instant::now(),
        };
        if intended >= plan.end {
            break;
        }
        let failure = match exchange(&plan, &mut conn, &mut buf, intended).await {
            Ok((status, bytes, done)) => {
                if done >= plan.measure_from && done <= plan.end {
                    let ns = done.saturating_duration_since(intended).as_nanos() as u64;
                    record.borrow_mut().response(ns, status, bytes);
                }
                progress.responses.fetch_add(1, Ordering::Relaxed);
                if status >= 400 {
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            Err(f) => f,
        };
        conn = None;
        buf.clear();
        let now = Instant::now();
        let kind = match failure {
            Failure::Ended => break,
            Failure::Kind(kind) => kind,
        };
        if now >= plan.measure_from && now <= plan.end {
            record.borrow_mut().error(kind);
        }
        progress.errors.fetch_add(1, Ordering::Relaxed);
        if kind == ErrorKind::Connect {
            sleep(CONNECT_BACKOFF).await;
        }
        if let Some(s) = schedule.as_mut() {
            s.skip_to(Instant::now().saturating_duration_since(plan.start));
        }
    }
}

/// Opens connection `index` in its turn; a failure is counted and left
/// to the first request, which connects again.
async fn open(plan: &Plan, index: u32, record: &RefCell<Record>) -> Option<Conn> {
    let turn = plan.open_from + plan.open_interval.mul_f64(f64::from(index));
    if turn > Instant::now() {
        sleep_until(turn).await;
    }
    match connect(plan, Instant::now() + plan.timeout).await {
        Ok(c) => {
            record.borrow_mut().opened += 1;
            Some(c)
        }
        Err(_) => {
            record.borrow_mut().open_failed += 1;
            None
        }
    }
}

/// One request and its response on `conn` (connecting first if needed).
/// Returns the status, the bytes received and when the response completed.
async fn exchange(
    plan: &Plan,
    conn: &mut Option<Conn>,
    buf: &mut Vec<u8>,
    intended: Instant,
) -> Result<(u16, u64, Instant), Failure> {
    let deadline = Instant::now().max(intended) + plan.timeout;
    if conn.is_none() {
        *conn = Some(connect(plan, deadline).await?);
    }
    let Some(c) = conn.as_mut() else { return Err(Failure::Kind(ErrorKind::Connect)) };
    match timeout_at(deadline, c.write_all(plan.request.clone())).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(Failure::Kind(ErrorKind::Write)),
        Err(_) => return Err(timed_out(plan)),
    }
    let (status, bytes, close) = read_response(plan, c, buf, deadline).await?;
    let done = Instant::now();
    if close {
        *conn = None;
        buf.clear();
    }
    Ok((status, bytes, done))
}

async fn connect(plan: &Plan, deadline: Instant) -> Result<Conn, Failure> {
    // A connect that times out is a connect error, not a request's.
    let timed_out = |plan: &Plan| match timed_out(plan) {
        Failure::Kind(_) => Failure::Kind(ErrorKind::Connect),
        ended => ended,
    };
    let tcp = match timeout_at(deadline, TcpStream::connect_addr(plan.addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return Err(Failure::Kind(ErrorKind::Connect)),
        Err(_) => return Err(timed_out(plan)),
    };
    let _ = tcp.set_nodelay(true);
    match &plan.tls {
        None => Ok(Conn::Plain(tcp)),
        Some((connector, name)) => {
            match timeout_at(deadline, connector.connect(name.clone(), tcp)).await {
                Ok(Ok(s)) => Ok(Conn::Tls(Box::new(s))),
                Ok(Err(_)) => Err(Failure::Kind(ErrorKind::Connect)),
                Err(_) => Err(timed_out(plan)),
            }
        }
    }
}

/// A deadline passed: a timeout, unless the run is over anyway.
fn timed_out(plan: &Plan) -> Failure {
    if Instant::now() >= plan.end {
        Failure::Ended
    } else {
        Failure::Kind(ErrorKind::Timeout)
    }
}

/// Reads one complete response; returns status, bytes and whether the
/// connection must close. Bytes after the response stay in `buf`.
async fn read_response(
    plan: &Plan,
    conn: &mut Conn,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<(u16, u64, bool), Failure> {
    let parse = |_: FramingError| Failure::Kind(ErrorKind::Parse);
    let mut head = None;
    let mut body = BodyReader::Length(0);
    let mut bytes: u64 = 0;
    loop {
        if head.is_none() {
            if let Some(h) = parse_response_head(buf, plan.head_request).map_err(parse)? {
                buf.drain(..h.len);
                bytes += h.len as u64;
                if (100..200).contains(&h.status) && h.status != 101 {
                    continue; // interim response; the real one follows
                }
                body = BodyReader::new(h.body);
                head = Some(h);
            }
        }
        if let Some(h) = head {
            let (used, done) = body.consume(buf).map_err(parse)?;
            buf.drain(..used);
            bytes += used as u64;
            if done {
                return Ok((h.status, bytes, h.close));
            }
        }
        if buf.len() >= MAX_HEAD {
            return Err(Failure::Kind(ErrorKind::Parse));
        }
        if buf.capacity() - buf.len() < READ_BUF / 4 {
            buf.reserve(READ_BUF);
        }
        let owned = std::mem::take(buf);
        let len = owned.len();
        let (res, slice) = match timeout_at(deadline, conn.read(owned.slice_mut(len..))).await {
            Ok(r) => r,
            Err(_) => {
                // The buffer went down with the cancelled read: a new one
                // for the next connection.
                *buf = Vec::new();
                return Err(timed_out(plan));
            }
        };
        *buf = slice.into_inner();
        match res {
            Ok(0) => {
                return match head {
                    Some(h) if body.complete_at_close() => Ok((h.status, bytes, true)),
                    // Closed before the response was complete (or before
                    // it began, e.g. an idle connection dropped).
                    _ => Err(Failure::Kind(ErrorKind::Read)),
                };
            }
            Ok(_) => {}
            Err(_) => return Err(Failure::Kind(ErrorKind::Read)),
        }
    }
}
