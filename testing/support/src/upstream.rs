//! A real HTTP/1.1 upstream on loopback (port 0), one thread per
//! connection, steered by request headers:
//!
//! - `x-test-status: N`: answer with status N;
//! - `x-test-delay-ms: N`: wait before answering;
//! - `x-test-body-bytes: N`: answer with N bytes of a known pattern;
//! - `x-test-chunked: 1`: answer chunked;
//! - `x-test-close: 1`: answer with `Connection: close`, then close;
//! - `x-test-close-quietly: 1`: answer as if keeping alive, then close;
//! - `x-test-garbage: 1`: answer bytes that are not HTTP;
//! - `x-test-drop: 1`: close without answering;
//! - `Upgrade: websocket`: answer 101 and echo bytes until closed;
//! - `x-test-upgrade: TOKEN`: answer 101 with `Upgrade: TOKEN` (whatever
//!   the request offered) and echo bytes until closed; a 101 carries the
//!   request's Upgrade value as `x-seen-upgrade`.
//!
//! Otherwise the body echoes the request body, or is `NAME\n`. Every
//! answer carries `x-upstream: NAME`, `x-conn: <connection number>` and the
//! forwarding headers it saw as `x-seen-*`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Upstream {
    pub name: String,
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    pub fn start(name: &str) -> Upstream {
        Self::start_on(name, "127.0.0.1:0".parse().unwrap())
    }

    /// An upstream on `addr` (another loopback address, or a given port).
    pub fn start_on(name: &str, addr: SocketAddr) -> Upstream {
        let listener = TcpListener::bind(addr).expect("bind upstream");
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, r, s, n) = (connections.clone(), requests.clone(), stop.clone(), name.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let id = c.fetch_add(1, Ordering::SeqCst) + 1;
                let (r, n) = (r.clone(), n.clone());
                std::thread::spawn(move || serve(stream, id, &n, &r));
            }
        });
        Upstream { name: name.to_string(), addr, connections, requests, stop }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Read one request (head and body, either framing); None at end of stream.
pub fn read_request<R: BufRead>(r: &mut R) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let headers = read_headers(r)?;
    let mut req = Request { method, path, headers, body: Vec::new() };
    if req.header("transfer-encoding").is_some() {
        req.body = read_chunked(r)?;
    } else if let Some(n) = req.header("content-length") {
        let mut body = vec![0; n.parse().ok()?];
        r.read_exact(&mut body).ok()?;
        req.body = body;
    }
    Some(req)
}

pub fn read_headers<R: BufRead>(r: &mut R) -> Option<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Some(headers);
        }
        let (n, v) = line.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
}

pub fn read_chunked<R: BufRead>(r: &mut R) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
        if size == 0 {
            // Trailers until the empty line.
            read_headers(r)?;
            return Some(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).ok()?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).ok()?;
    }
}

/// The byte at position `i` of a test body.
pub fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

pub fn pattern_body(n: usize) -> Vec<u8> {
    (0..n).map(pattern).collect()
}

fn serve(stream: TcpStream, id: usize, name: &str, requests: &AtomicUsize) {
    let _ = stream.set_nodelay(true);
    let mut w = stream.try_clone().expect("clone upstream stream");
    let mut r = BufReader::new(stream);
    while let Some(req) = read_request(&mut r) {
        requests.fetch_add(1, Ordering::SeqCst);
        if let Some(ms) = req.header("x-test-delay-ms") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
        }
        if req.header("x-test-drop").is_some() {
            return;
        }
        if req.header("x-test-garbage").is_some() {
            let _ = w.write_all(b"this is not http\r\n\r\n");
            return;
        }
        let switch_to = match req.header("x-test-upgrade") {
            Some(token) => Some(token.to_string()),
            None => req
                .header("upgrade")
                .filter(|u| u.eq_ignore_ascii_case("websocket"))
                .map(|_| "websocket".to_string()),
        };
        if let Some(token) = switch_to {
            let seen = req.header("upgrade").unwrap_or("");
            let _ = w.write_all(
                format!(
                    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: {token}\r\n\
                     x-seen-upgrade: {seen}\r\n\r\n"
                )
                .as_bytes(),
            );
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if w.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        let status: u16 = req.header("x-test-status").and_then(|s| s.parse().ok()).unwrap_or(200);
        let body = if let Some(n) = req.header("x-test-body-bytes") {
            pattern_body(n.parse().unwrap_or(0))
        } else if !req.body.is_empty() {
            req.body.clone()
        } else {
            format!("{name}\n").into_bytes()
        };
        let close = req.header("x-test-close").is_some();
        let mut head = format!("HTTP/1.1 {status} Test\r\nx-upstream: {name}\r\nx-conn: {id}\r\n");
        head.push_str(&format!("x-request-bytes: {}\r\n", req.body.len()));
        head.push_str(&format!("x-seen-path: {}\r\n", req.path));
        head.push_str(&format!("x-seen-method: {}\r\n", req.method));
        for h in [
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-port",
            "x-real-ip",
            "x-forwarded-prefix",
            "host",
            "connection",
            "expect",
            "upgrade",
            "http2-settings",
            "x-code",
            "x-format",
            "x-original-uri",
            "x-namespace",
            "x-ingress-name",
            "x-service-name",
            "x-service-port",
            "x-request-id",
        ] {
            if let Some(v) = req.header(h) {
                head.push_str(&format!("x-seen-{h}: {v}\r\n"));
            }
        }
        if close {
            head.push_str("connection: close\r\n");
        }
        let bodyless = req.method == "HEAD" || status == 204 || status == 304;
        let mut out = head.into_bytes();
        if req.header("x-test-chunked").is_some() {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            if !bodyless {
                for piece in body.chunks(7919) {
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
        } else {
            if status != 204 {
                out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            if !bodyless {
                out.extend_from_slice(&body);
            }
        }
        let quietly = req.header("x-test-close-quietly").is_some();
        if w.write_all(&out).is_err() || close || quietly {
            return;
        }
    }
}
