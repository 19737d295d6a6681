//! A server-side TLS stream over an owned-buffer (io_uring style) socket,
//! safe to cancel.
//!
//! rustls does the protocol; this module moves ciphertext between rustls
//! and the socket through two reused buffers, one per direction. Each
//! direction remembers whether an operation is in flight. A future dropped
//! before it finished (a timeout, a `select!`) leaves its direction marked
//! busy: the socket may have taken part of a record, or the kernel may have
//! read bytes that were dropped with the operation, so that direction can
//! never be trusted again. The next call on it returns
//! [`ErrorKind::BrokenPipe`](io::ErrorKind::BrokenPipe) instead of
//! continuing a corrupt record stream, and never panics. The other
//! direction is untouched: after a read timed out the proxy can still
//! write its `408` and a `close_notify`; after a write timed out
//! [`shutdown`](AsyncWriteRent::shutdown) skips the `close_notify` and
//! only closes the socket.
//!
//! The two directions share the rustls session through a `RefCell` that is
//! never borrowed across an `.await`, so the stream splits into a read half
//! and a write half (`DownstreamStream::into_halves`) without `unsafe`.

use std::cell::RefCell;
use std::io::{self, BufRead, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf};
use monoio::io::{Split, Splitable};
use monoio::net::TcpStream;
use monoio::BufResult;
use rustls::{ServerConfig, ServerConnection};

use crate::buffers;
use crate::stream::DownstreamStream;

/// Most plaintext one write encrypts: one full record, whose ciphertext
/// fits a pooled buffer ([`buffers::CAPACITY`]).
const PLAINTEXT_PER_WRITE: usize = 16 * 1024;

/// Longest [`AsyncWriteRent::shutdown`] waits for the peer to take the
/// `close_notify` before it closes the socket anyway: a client that stopped
/// reading must not hold a closing connection open.
pub const CLOSE_NOTIFY_LIMIT: Duration = Duration::from_secs(1);

type Session = Rc<RefCell<ServerConnection>>;

/// Where one direction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Ready,
    /// An operation is in flight. Seen on entry, it means the future of the
    /// last operation was dropped before it finished.
    Busy,
    /// Cancelled or failed: every later operation fails.
    Broken,
}

impl Side {
    fn enter(&mut self) -> io::Result<()> {
        match self {
            Side::Ready => {
                *self = Side::Busy;
                Ok(())
            }
            Side::Busy | Side::Broken => {
                *self = Side::Broken;
                Err(broken())
            }
        }
    }

    /// End an operation: ready again on success, broken for good on error.
    fn leave<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        *self = if result.is_ok() { Side::Ready } else { Side::Broken };
        result
    }
}

fn broken() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "TLS stream unusable: an earlier operation was cancelled or failed",
    )
}

fn invalid(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The read direction: ciphertext taken from the socket and not yet given
/// to rustls is `buf[pos..]`. `buf` is a pooled buffer, given back while
/// the connection is idle; the idle wait reads into `small`.
#[derive(Debug)]
struct Inbound {
    buf: Vec<u8>,
    pos: usize,
    small: Vec<u8>,
    /// The next read is the idle wait: read into `small`.
    idle: bool,
    eof: bool,
    side: Side,
}

impl Inbound {
    fn new() -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            small: Vec::with_capacity(buffers::IDLE_CAPACITY),
            idle: false,
            eof: false,
            side: Side::Ready,
        }
    }

    /// Give the pooled buffer back until bytes arrive (nothing is pending).
    fn release_idle(&mut self) {
        if self.side == Side::Ready && !self.has_ciphertext() {
            buffers::release(&mut self.buf);
            self.idle = true;
        }
    }

    fn has_ciphertext(&self) -> bool {
        self.pos < self.buf.len()
    }

    /// Give rustls one batch of the buffered ciphertext and process it.
    fn feed(&mut self, session: &mut ServerConnection) -> io::Result<()> {
        let mut rest = &self.buf[self.pos..];
        let n = session.read_tls(&mut rest)?;
        if n == 0 {
            // After a close_notify rustls takes nothing more.
            self.pos = self.buf.len();
        } else {
            self.pos += n;
        }
        if self.pos >= self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        session.process_new_packets().map(|_| ()).map_err(invalid)
    }

    /// Read more ciphertext from the socket. Ownership of the buffer passes
    /// to the operation; should the future be dropped, the buffer goes with
    /// it and the side stays busy (see the module comment).
    async fn fill<R: AsyncReadRent>(&mut self, io: &mut R) -> io::Result<()> {
        let idle = std::mem::take(&mut self.idle);
        let mut buf = if idle {
            std::mem::take(&mut self.small)
        } else {
            buffers::ensure(&mut self.buf);
            std::mem::take(&mut self.buf)
        };
        buf.clear();
        self.pos = 0;
        let (result, mut buf) = io.read(buf).await;
        if idle {
            // Bytes arrived: back to a pooled buffer for the request.
            self.buf = buffers::take();
            self.buf.extend_from_slice(&buf);
            buf.clear();
            self.small = buf;
        } else {
            self.buf = buf;
        }
        if result? == 0 {
            self.eof = true;
        }
        Ok(())
    }
}

/// The write direction: records rustls produced, on their way out.
#[derive(Debug)]
struct Outbound {
    buf: Vec<u8>,
    side: Side,
}

impl Outbound {
    fn new() -> Self {
        Self { buf: Vec::new(), side: Side::Ready }
    }

    /// Move every record rustls wants to send into `buf`.
    fn collect(&mut self, session: &mut ServerConnection) -> io::Result<()> {
        buffers::ensure(&mut self.buf);
        while session.wants_write() {
            session.write_tls(&mut self.buf)?;
        }
        Ok(())
    }

    /// Write all of `buf` to the socket (ownership passes to the operation,
    /// as in [`Inbound::fill`]).
    async fn send<W: AsyncWriteRent>(&mut self, io: &mut W) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let (result, mut buf) = io.write_all(buf).await;
        buf.clear();
        self.buf = buf;
        result.map(|_| ())
    }
}

/// The next move of [`read_plain`].
enum Step {
    Done(io::Result<usize>),
    /// rustls took more ciphertext: look for plaintext again.
    Again,
    /// Nothing buffered: read from the socket.
    Fill,
}

impl Drop for Inbound {
    fn drop(&mut self) {
        buffers::release(&mut self.buf);
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        buffers::release(&mut self.buf);
    }
}

/// Read plaintext into `dst`: `Ok(0)` after the client's `close_notify`,
/// `UnexpectedEof` when the socket closed without one.
async fn read_plain<R: AsyncReadRent, B: IoBufMut>(
    io: &mut R,
    session: &RefCell<ServerConnection>,
    inb: &mut Inbound,
    mut dst: B,
) -> BufResult<usize, B> {
    if let Err(e) = inb.side.enter() {
        return (Err(e), dst);
    }
    let result = loop {
        let step = {
            let mut s = session.borrow_mut();
            match s.reader().fill_buf() {
                Ok(chunk) => {
                    let n = chunk.len().min(dst.bytes_total());
                    // SAFETY: `write_ptr` is valid for `bytes_total` bytes
                    // (the IoBufMut contract), `n` is at most that, and the
                    // source is rustls's own buffer, which cannot overlap it.
                    unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), dst.write_ptr(), n) };
                    s.reader().consume(n);
                    // SAFETY: the first `n` bytes were just written.
                    unsafe { dst.set_init(n) };
                    Step::Done(Ok(n))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if inb.has_ciphertext() {
                        match inb.feed(&mut s) {
                            Ok(()) => Step::Again,
                            Err(e) => Step::Done(Err(e)),
                        }
                    } else if inb.eof {
                        // Tell rustls the socket ended: the next fill_buf
                        // answers Ok(empty) after a close_notify, else
                        // UnexpectedEof.
                        match s.read_tls(&mut &[][..]) {
                            Ok(_) => Step::Again,
                            Err(e) => Step::Done(Err(e)),
                        }
                    } else {
                        Step::Fill
                    }
                }
                Err(e) => Step::Done(Err(e)),
            }
        };
        match step {
            Step::Done(done) => break done,
            Step::Again => continue,
            Step::Fill => {
                if let Err(e) = inb.fill(io).await {
                    break Err(e);
                }
            }
        }
    };
    (inb.side.leave(result), dst)
}

/// Encrypt as much of `data` as rustls takes and write it out.
async fn write_plain<W: AsyncWriteRent>(
    io: &mut W,
    session: &RefCell<ServerConnection>,
    out: &mut Outbound,
    data: &[u8],
) -> io::Result<usize> {
    out.side.enter()?;
    let encrypted = {
        let mut s = session.borrow_mut();
        let data = &data[..data.len().min(PLAINTEXT_PER_WRITE)];
        s.writer().write(data).and_then(|n| out.collect(&mut s).map(|()| n))
    };
    let result = match encrypted {
        Ok(n) => out.send(io).await.map(|()| n),
        Err(e) => Err(e),
    };
    out.side.leave(result)
}

/// Write out whatever rustls has queued (handshake messages, alerts,
/// tickets, a close_notify).
async fn flush_tls<W: AsyncWriteRent>(
    io: &mut W,
    session: &RefCell<ServerConnection>,
    out: &mut Outbound,
) -> io::Result<()> {
    out.side.enter()?;
    let collected = out.collect(&mut session.borrow_mut());
    let result = match collected {
        Ok(()) => out.send(io).await,
        Err(e) => Err(e),
    };
    out.side.leave(result)
}

/// Send a close_notify (when the write side is sound), bounded by
/// [`CLOSE_NOTIFY_LIMIT`], then shut the socket's write side.
async fn close<W: AsyncWriteRent>(
    io: &mut W,
    session: &RefCell<ServerConnection>,
    out: &mut Outbound,
) -> io::Result<()> {
    if out.side == Side::Ready {
        session.borrow_mut().send_close_notify();
        // A timeout leaves the side busy, hence broken: nothing more is
        // written on this stream.
        let _ = monoio::time::timeout(CLOSE_NOTIFY_LIMIT, flush_tls(io, session, out)).await;
    }
    io.shutdown().await
}

/// The first non-empty buffer of a vectored write, as a slice.
fn first_iovec<T: IoVecBuf>(bufs: &T) -> &[u8] {
    let n = bufs.read_iovec_len();
    let ptr = bufs.read_iovec_ptr();
    for i in 0..n {
        // SAFETY: the IoVecBuf contract makes `ptr` valid for `n` iovecs,
        // each describing initialised memory owned by `bufs`, which the
        // returned slice borrows.
        let v = unsafe { &*ptr.add(i) };
        if v.iov_len > 0 {
            // SAFETY: as above.
            return unsafe { std::slice::from_raw_parts(v.iov_base as *const u8, v.iov_len) };
        }
    }
    &[]
}

/// The read direction of a TLS stream over the socket reader `R`.
pub struct TlsReader<R> {
    io: R,
    session: Session,
    inb: Inbound,
}

/// The write direction of a TLS stream over the socket writer `W`.
pub struct TlsWriter<W> {
    io: W,
    session: Session,
    out: Outbound,
}

impl<R: AsyncReadRent> AsyncReadRent for TlsReader<R> {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        read_plain(&mut self.io, &self.session, &mut self.inb, buf).await
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        (Err(io::Error::new(io::ErrorKind::Unsupported, "vectored TLS reads")), buf)
    }
}

impl<W: AsyncWriteRent> AsyncWriteRent for TlsWriter<W> {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        // SAFETY: the IoBuf contract makes `read_ptr` valid for
        // `bytes_init` initialised bytes while `buf` lives unmoved; the
        // slice is used before `buf` is returned.
        let data = unsafe { std::slice::from_raw_parts(buf.read_ptr(), buf.bytes_init()) };
        let result = write_plain(&mut self.io, &self.session, &mut self.out, data).await;
        (result, buf)
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let result =
            write_plain(&mut self.io, &self.session, &mut self.out, first_iovec(&buf)).await;
        (result, buf)
    }

    async fn flush(&mut self) -> io::Result<()> {
        flush_tls(&mut self.io, &self.session, &mut self.out).await?;
        self.io.flush().await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        close(&mut self.io, &self.session, &mut self.out).await
    }
}

/// The read half of a split [`TlsStream`].
pub type TlsReadHalf<IO> = TlsReader<OwnedReadHalf<IO>>;
/// The write half of a split [`TlsStream`].
pub type TlsWriteHalf<IO> = TlsWriter<OwnedWriteHalf<IO>>;

/// A server TLS stream over `IO` (a TCP stream), after the handshake: its
/// two directions, each over its half of the socket, so that splitting it
/// for a tunnel is only handing them out.
pub struct TlsStream<IO: AsyncWriteRent> {
    r: TlsReadHalf<IO>,
    w: TlsWriteHalf<IO>,
}

impl<IO: AsyncReadRent + AsyncWriteRent + Split> TlsStream<IO> {
    /// Run the server handshake on `io` (no deadline: the caller adds one).
    pub async fn accept(config: Arc<ServerConfig>, io: IO) -> io::Result<Self> {
        Self::accept_after(config, io, Vec::new()).await
    }

    /// [`TlsStream::accept`] where the first bytes of the connection,
    /// `early`, were already read from `io` (after a PROXY protocol
    /// header): rustls takes them before anything read from the socket.
    /// `early` becomes the read direction's buffer (a pooled one, or an
    /// empty `Vec`).
    pub async fn accept_after(
        config: Arc<ServerConfig>,
        io: IO,
        early: Vec<u8>,
    ) -> io::Result<Self> {
        let session = Rc::new(RefCell::new(ServerConnection::new(config).map_err(invalid)?));
        let (r, w) = io.into_split();
        let mut inb = Inbound::new();
        inb.buf = early;
        let mut stream = Self {
            r: TlsReader { io: r, session: session.clone(), inb },
            w: TlsWriter { io: w, session, out: Outbound::new() },
        };
        stream.handshake().await?;
        Ok(stream)
    }

    async fn handshake(&mut self) -> io::Result<()> {
        let (r, w) = (&mut self.r, &mut self.w);
        loop {
            flush_tls(&mut w.io, &w.session, &mut w.out).await?;
            if !w.session.borrow().is_handshaking() {
                return Ok(());
            }
            if r.inb.has_ciphertext() {
                let fed = r.inb.feed(&mut r.session.borrow_mut());
                if let Err(e) = fed {
                    // Send the alert rustls queued, if the client listens.
                    let _ = flush_tls(&mut w.io, &w.session, &mut w.out).await;
                    return Err(e);
                }
            } else if r.inb.eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "client closed the connection during the TLS handshake",
                ));
            } else {
                r.inb.fill(&mut r.io).await?;
            }
        }
    }

    /// The application protocol agreed by ALPN.
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.r.session.borrow().alpn_protocol().map(<[u8]>::to_vec)
    }

    /// The SNI name the client sent.
    pub fn server_name(&self) -> Option<String> {
        self.r.session.borrow().server_name().map(str::to_string)
    }
}

impl<IO: AsyncReadRent + AsyncWriteRent> AsyncReadRent for TlsStream<IO> {
    fn read<T: IoBufMut>(
        &mut self,
        buf: T,
    ) -> impl std::future::Future<Output = BufResult<usize, T>> {
        self.r.read(buf)
    }

    fn readv<T: IoVecBufMut>(
        &mut self,
        buf: T,
    ) -> impl std::future::Future<Output = BufResult<usize, T>> {
        self.r.readv(buf)
    }
}

impl<IO: AsyncReadRent + AsyncWriteRent> AsyncWriteRent for TlsStream<IO> {
    fn write<T: IoBuf>(
        &mut self,
        buf: T,
    ) -> impl std::future::Future<Output = BufResult<usize, T>> {
        self.w.write(buf)
    }

    fn writev<T: IoVecBuf>(
        &mut self,
        buf: T,
    ) -> impl std::future::Future<Output = BufResult<usize, T>> {
        self.w.writev(buf)
    }

    fn flush(&mut self) -> impl std::future::Future<Output = io::Result<()>> {
        self.w.flush()
    }

    fn shutdown(&mut self) -> impl std::future::Future<Output = io::Result<()>> {
        self.w.shutdown()
    }
}

impl DownstreamStream for TlsStream<TcpStream> {
    type Read = TlsReadHalf<TcpStream>;
    type Write = TlsWriteHalf<TcpStream>;

    fn into_halves(self) -> (Self::Read, Self::Write) {
        (self.r, self.w)
    }

    fn server_name(&self) -> Option<Box<str>> {
        self.r.session.borrow().server_name().map(Box::from)
    }

    fn release_idle(&mut self) {
        self.r.inb.release_idle();
        if self.w.out.side == Side::Ready {
            buffers::release(&mut self.w.out.buf);
        }
    }
}
