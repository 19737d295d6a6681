//! Slow clients for the admin and health listeners: many connections
//! that each send one byte of a request head per tick and never finish
//! it, reconnecting when the server closes them (as an attacker would).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Connections to one address, trickling.
pub struct Trickle {
    addr: SocketAddr,
    conns: Vec<TcpStream>,
    /// Connections found closed by the server and opened again.
    pub reopened: usize,
}

impl Trickle {
    /// `n` connections to `addr`, each with its first byte sent.
    pub fn open(addr: SocketAddr, n: usize) -> Trickle {
        let conns = (0..n)
            .map(|i| {
                let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                    .unwrap_or_else(|e| panic!("slow connection {i} to {addr}: {e}"));
                let _ = s.write_all(b"G");
                s
            })
            .collect();
        Trickle { addr, conns, reopened: 0 }
    }

    /// One more byte on every connection; a connection the server has
    /// closed is opened again (and must not have been answered).
    pub fn tick(&mut self) {
        for s in &mut self.conns {
            if s.write_all(b"E").is_err() {
                assert_no_answer(s);
                if let Ok(mut fresh) =
                    TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))
                {
                    let _ = fresh.write_all(b"G");
                    *s = fresh;
                    self.reopened += 1;
                }
            }
        }
    }

    /// How many connections the server has closed (without answering).
    pub fn closed(&mut self) -> usize {
        let mut closed = 0;
        for s in &mut self.conns {
            s.set_nonblocking(true).unwrap();
            let mut byte = [0u8; 1];
            match s.read(&mut byte) {
                Ok(0) => closed += 1,
                Ok(_) => panic!("a trickling connection to {} was answered", self.addr),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => closed += 1,
            }
            s.set_nonblocking(false).unwrap();
        }
        closed
    }

    /// How many connections trickle.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }
}

/// A closed trickling connection got no page: only the end or a reset.
fn assert_no_answer(s: &mut TcpStream) {
    let _ = s.set_nonblocking(true);
    let mut byte = [0u8; 1];
    if let Ok(n) = s.read(&mut byte) {
        assert_eq!(n, 0, "a trickling connection was answered");
    }
}

/// `GET path` on a fresh connection: the status, `None` if no answer came
/// within `within`.
pub fn status_within(addr: SocketAddr, path: &str, within: Duration) -> Option<u16> {
    let deadline = Instant::now() + within;
    let left = || deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero());
    let mut s = TcpStream::connect_timeout(&addr, within).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: probe\r\n\r\n").as_bytes()).ok()?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        s.set_read_timeout(Some(left()?)).ok()?;
        match s.read(&mut buf).ok()? {
            0 => break,
            n => text.extend_from_slice(&buf[..n]),
        }
    }
    left()?;
    String::from_utf8_lossy(&text).split_whitespace().nth(1)?.parse().ok()
}
