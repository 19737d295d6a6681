//! Proven client addresses end to end: `--trusted-proxies` deciding which
//! forwarding headers reach the upstream, and `--proxy-protocol` (v1 and
//! v2, IPv4 and IPv6, TLVs, `LOCAL`) on the HTTP and HTTPS listeners, with
//! every refusal closing the connection without a byte. Real workers on
//! loopback (port 0), real TLS with rustls clients, and a real upstream
//! that answers with the request head it received, so the assertions are
//! on the exact header lines. Both io engines.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use ringress::metrics::Metrics;
use ringress::tls::{Https, ServerTls};
use ringress::trust::TrustedProxies;
use ringress::worker::{self, IoEngine, Settings, WorkerOptions, Workers};
use ringress_control::Publisher;
use ringress_test_support::manifests::tls_ingress;
use ringress_test_support::tls::{self as tls_support, secret, verifying_client, Ca};
use ringress_test_support::{compile_ok, engines, service, yaml, DEADLINE};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// An upstream whose response body is the request head it received, byte
/// for byte (one thread per connection, keep-alive).
struct HeadEcho {
    addr: SocketAddr,
}

impl HeadEcho {
    fn start() -> HeadEcho {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || echo_heads(stream));
            }
        });
        HeadEcho { addr }
    }
}

fn echo_heads(stream: TcpStream) {
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{head}", head.len());
        if w.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A running proxy with an HTTP and an HTTPS listener in front of a
/// [`HeadEcho`], serving `a.example` on both (no redirect to https).
struct Proxy {
    http: SocketAddr,
    https: SocketAddr,
    ca: Ca,
    metrics: Arc<Metrics>,
    _upstream: HeadEcho,
    _publisher: Publisher,
    workers: Option<Workers>,
}

impl Proxy {
    /// `trusted`: the `--trusted-proxies` list ("" for none).
    fn start(engine: IoEngine, trusted: &str, proxy_protocol: bool) -> Proxy {
        Self::start_with(engine, trusted, proxy_protocol, Duration::from_secs(10))
    }

    fn start_with(
        engine: IoEngine,
        trusted: &str,
        proxy_protocol: bool,
        head_timeout: Duration,
    ) -> Proxy {
        let upstream = HeadEcho::start();
        let ca = Ca::new();
        let leaf = ca.leaf(&["a.example"]);
        let yaml = yaml(&[
            service("web", &[upstream.addr]),
            secret("a-tls", &leaf),
            tls_ingress("a", "a.example", "a-tls", &[("ringress.io/ssl-redirect", "false")]),
        ]);
        let table = compile_ok(&yaml);
        let mut publisher = Publisher::new();
        publisher.publish(table);
        let trusted: TrustedProxies =
            if trusted.is_empty() { TrustedProxies::NONE } else { trusted.parse().unwrap() };
        let settings = Settings {
            trusted_proxies: Arc::new(trusted),
            proxy_protocol,
            client_head_timeout: head_timeout,
            ..Settings::default()
        };
        let metrics = Arc::new(Metrics::new(1));
        let tls = ServerTls::new(publisher.handle().cell().clone(), Duration::from_secs(10))
            .expect("tls setup");
        let options = WorkerOptions {
            workers: 1,
            engine,
            pin: false,
            settings,
            http: "127.0.0.1:0".parse().unwrap(),
            on_thread_start: None,
        };
        let https = Some(("127.0.0.1:0".parse().unwrap(), tls.https_factory(metrics.clone())));
        let w = worker::start::<Https>(options, publisher.handle(), metrics.clone(), https)
            .expect("start workers");
        Proxy {
            http: w.http_addr(),
            https: w.https_addr().expect("https listener"),
            ca,
            metrics,
            _upstream: upstream,
            _publisher: publisher,
            workers: Some(w),
        }
    }

    fn refused(&self) -> u64 {
        let text = self.metrics.render(0, 0);
        let line = text
            .lines()
            .find(|l| l.starts_with("ringress_proxy_protocol_refused_total "))
            .expect("the refusal counter is exported");
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(w) = self.workers.take() {
            w.stop();
            w.join();
        }
    }
}

/// The request head the upstream received, as (name, value) lines.
struct Seen(Vec<(String, String)>);

impl Seen {
    fn parse(head: &str) -> Seen {
        let mut lines = head.split("\r\n");
        let request_line = lines.next().expect("request line");
        assert!(request_line.ends_with(" HTTP/1.1"), "{head}");
        let headers = lines
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        Seen(headers)
    }

    /// Every value of header `name`, in order.
    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The one value of header `name` (fails on none or several).
    fn one(&self, name: &str) -> &str {
        match self.all(name).as_slice() {
            [v] => v,
            other => panic!("{name}: {other:?} in {:?}", self.0),
        }
    }
}

/// Reads one response to a request through the proxy and returns the head
/// the upstream saw.
fn read_seen<R: BufRead>(r: &mut R) -> Seen {
    let mut status = String::new();
    r.read_line(&mut status).expect("status line");
    assert!(status.starts_with("HTTP/1.1 200 "), "{status:?}");
    let mut length = None;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("header line");
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = Some(v.trim().parse::<usize>().expect("length"));
        }
    }
    let mut body = vec![0; length.expect("content-length")];
    r.read_exact(&mut body).expect("body");
    Seen::parse(&String::from_utf8(body).expect("utf-8 head"))
}

/// A request for `a.example` with forged forwarding headers of every kind.
const FORGED: &str = "GET /who HTTP/1.1\r\nHost: a.example\r\n\
    X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: gopher\r\n\
    X-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1\r\nX-Real-IP: 6.6.6.6\r\n\
    Forwarded: for=6.6.6.6;proto=https\r\nforwarded: for=7.7.7.7\r\n\r\n";

fn get(extra: &str) -> Vec<u8> {
    format!("GET /who HTTP/1.1\r\nHost: a.example\r\n{extra}\r\n").into_bytes()
}

fn tcp(addr: SocketAddr) -> TcpStream {
    let s = tls_support::tcp(addr);
    s.set_nodelay(true).unwrap();
    s
}

/// Sends `bytes` on a new plain connection and returns what the upstream saw.
fn plain(addr: SocketAddr, bytes: &[u8]) -> Seen {
    let mut s = tcp(addr);
    s.write_all(bytes).expect("write");
    read_seen(&mut BufReader::new(s))
}

/// What a peer forges is replaced, checked against the upstream's head:
/// exactly one line of each forwarding header, written by the proxy.
fn assert_replaced(seen: &Seen, client: &str, proto: &str, port: u16) {
    assert_eq!(seen.one("x-forwarded-for"), client);
    assert_eq!(seen.one("x-real-ip"), client);
    assert_eq!(seen.one("x-forwarded-proto"), proto);
    assert_eq!(seen.one("x-forwarded-host"), "a.example");
    assert_eq!(seen.one("x-forwarded-port"), port.to_string());
    assert!(seen.all("forwarded").is_empty(), "Forwarded passed: {:?}", seen.0);
}

/// A TLS connection to `addr` whose first bytes on the wire are `prefix`
/// and the ClientHello, sent in one write, then the handshake and `request`.
fn tls_with_prefix(proxy: &Proxy, prefix: &[u8], request: &[u8]) -> Seen {
    let config: Arc<ClientConfig> = verifying_client(&proxy.ca.der());
    let name = rustls::pki_types::ServerName::try_from("a.example").unwrap();
    let mut conn = ClientConnection::new(config, name).expect("client");
    let mut first = prefix.to_vec();
    conn.write_tls(&mut first).expect("client hello");
    assert!(first.len() > prefix.len() + 5, "a ClientHello was written");
    let mut sock = tcp(proxy.https);
    sock.write_all(&first).expect("write");
    let mut tls = StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).expect("handshake");
    }
    tls.write_all(request).expect("request");
    read_seen(&mut BufReader::new(tls))
}

/// The connection is closed by the proxy without a byte: end of stream, or
/// a reset (closing with unread input), never data and never a timeout.
fn assert_closed_silently(mut s: TcpStream) {
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {
            assert!(got.is_empty(), "bytes from the proxy: {:?}", String::from_utf8_lossy(&got))
        }
        Err(e) if e.kind() == ErrorKind::ConnectionReset => assert!(got.is_empty()),
        Err(e) => panic!("connection not closed: {e}"),
    }
}

fn v1(source: &str, destination: &str, ports: (u16, u16)) -> Vec<u8> {
    let proto = if source.contains(':') { "TCP6" } else { "TCP4" };
    format!("PROXY {proto} {source} {destination} {} {}\r\n", ports.0, ports.1).into_bytes()
}

const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 header: `command` 0 (LOCAL) or 1 (PROXY), `family` 0x11 (TCP over
/// IPv4) or 0x21 (TCP over IPv6), the address block, then `tlvs`.
fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut h = SIGNATURE.to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(&((addresses.len() + tlvs.len()) as u16).to_be_bytes());
    h.extend_from_slice(addresses);
    h.extend_from_slice(tlvs);
    h
}

fn v2_tcp4(source: [u8; 4], port: u16, tlvs: &[u8]) -> Vec<u8> {
    let mut a = source.to_vec();
    a.extend_from_slice(&[192, 0, 2, 1]);
    a.extend_from_slice(&port.to_be_bytes());
    a.extend_from_slice(&443u16.to_be_bytes());
    v2(1, 0x11, &a, tlvs)
}

fn v2_tcp6(source: Ipv6Addr, port: u16, tlvs: &[u8]) -> Vec<u8> {
    let mut a = source.octets().to_vec();
    a.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    a.extend_from_slice(&port.to_be_bytes());
    a.extend_from_slice(&443u16.to_be_bytes());
    v2(1, 0x21, &a, tlvs)
}

/// TLVs a cloud load balancer sends: ALPN, authority, a unique id, AWS's
/// VPC endpoint id (type 0xEA), and a NOOP.
fn tlvs() -> Vec<u8> {
    let mut t = Vec::new();
    for (kind, value) in [
        (0x01u8, &b"http/1.1"[..]),
        (0x02, b"a.example"),
        (0x05, &[7u8; 32][..]),
        (0xEA, b"\x01vpce-0123456789abcdef0"),
        (0x04, b""),
    ] {
        t.push(kind);
        t.extend_from_slice(&(value.len() as u16).to_be_bytes());
        t.extend_from_slice(value);
    }
    t
}

// ---------------------------------------------------------------- scenarios

/// Without `--trusted-proxies`, and with a set the peer is not in, the
/// peer is the client: every forged forwarding header is replaced, on
/// HTTP and on HTTPS, and `Forwarded` is not passed.
fn untrusted_peer_forged_headers_are_replaced(engine: IoEngine) {
    for trusted in ["", "10.0.0.0/8,fd00::/8"] {
        let proxy = Proxy::start(engine, trusted, false);
        let seen = plain(proxy.http, FORGED.as_bytes());
        assert_replaced(&seen, "127.0.0.1", "http", proxy.http.port());
        let seen = tls_with_prefix(&proxy, b"", FORGED.as_bytes());
        assert_replaced(&seen, "127.0.0.1", "https", proxy.https.port());
        assert_eq!(proxy.refused(), 0, "no PROXY protocol, no refusals");
    }
}

/// From a trusted peer, `X-Forwarded-For` is appended to and the client is
/// the right-most address in it that is not trusted; `X-Real-IP` carries
/// it, and the peer's other forwarding headers pass.
fn trusted_peer_chain_names_the_client(engine: IoEngine) {
    let chain = "X-Forwarded-For: 203.0.113.9, 127.0.0.5\r\nX-Real-IP: 6.6.6.6\r\n\
        X-Forwarded-Proto: https\r\nForwarded: for=203.0.113.9\r\n";
    let proxy = Proxy::start(engine, "127.0.0.0/8", false);
    let seen = plain(proxy.http, &get(chain));
    assert_eq!(seen.one("x-forwarded-for"), "203.0.113.9, 127.0.0.5, 127.0.0.1");
    assert_eq!(seen.one("x-real-ip"), "203.0.113.9");
    assert_eq!(seen.one("x-forwarded-proto"), "https");
    assert_eq!(seen.one("forwarded"), "for=203.0.113.9");
    // Only the peer itself trusted: 127.0.0.5 is the right-most untrusted.
    let proxy = Proxy::start(engine, "127.0.0.1/32", false);
    let seen = plain(proxy.http, &get(chain));
    assert_eq!(seen.one("x-forwarded-for"), "203.0.113.9, 127.0.0.5, 127.0.0.1");
    assert_eq!(seen.one("x-real-ip"), "127.0.0.5");
    let seen = tls_with_prefix(&proxy, b"", &get(chain));
    assert_eq!(seen.one("x-forwarded-for"), "203.0.113.9, 127.0.0.5, 127.0.0.1");
    assert_eq!(seen.one("x-real-ip"), "127.0.0.5");
}

/// PROXY v1, IPv4 and IPv6, over HTTP: the address the header carries is
/// the client for every request on the connection, and what the client
/// forges is still replaced. The header comes with the request in one
/// write, and also alone, in pieces, before it.
fn proxy_v1_over_http(engine: IoEngine) {
    let proxy = Proxy::start(engine, "127.0.0.1/32", true);
    let header = v1("198.51.100.7", "192.0.2.1", (51234, 80));
    let mut both = header.clone();
    both.extend_from_slice(FORGED.as_bytes());
    assert_replaced(&plain(proxy.http, &both), "198.51.100.7", "http", proxy.http.port());

    let mut s = tcp(proxy.http);
    for piece in header.chunks(9) {
        s.write_all(piece).expect("write");
        s.flush().unwrap();
    }
    let mut r = BufReader::new(s.try_clone().unwrap());
    for _ in 0..2 {
        s.write_all(FORGED.as_bytes()).expect("write");
        assert_replaced(&read_seen(&mut r), "198.51.100.7", "http", proxy.http.port());
    }

    let mut six = v1("2001:db8::7", "2001:db8::1", (51234, 80));
    six.extend_from_slice(&get("X-Forwarded-For: 6.6.6.6\r\n"));
    let seen = plain(proxy.http, &six);
    assert_eq!(seen.one("x-forwarded-for"), "2001:db8::7");
    assert_eq!(seen.one("x-real-ip"), "2001:db8::7");
    assert_eq!(proxy.refused(), 0);
}

/// PROXY v2 with TLV extensions (skipped), IPv4 and IPv6, and `LOCAL`
/// (the load balancer's health check: the TCP peer is the client).
fn proxy_v2_over_http(engine: IoEngine) {
    let proxy = Proxy::start(engine, "127.0.0.1/32", true);
    let mut four = v2_tcp4([198, 51, 100, 8], 40000, &tlvs());
    four.extend_from_slice(FORGED.as_bytes());
    assert_replaced(&plain(proxy.http, &four), "198.51.100.8", "http", proxy.http.port());

    let mut six = v2_tcp6("2001:db8::8".parse().unwrap(), 40000, &tlvs());
    six.extend_from_slice(FORGED.as_bytes());
    assert_replaced(&plain(proxy.http, &six), "2001:db8::8", "http", proxy.http.port());

    // LOCAL, with an address block the specification says to ignore.
    let mut local = v2(0, 0x11, &[9, 9, 9, 9, 8, 8, 8, 8, 0, 1, 0, 2], &[]);
    local.extend_from_slice(&get(""));
    let seen = plain(proxy.http, &local);
    assert_eq!(seen.one("x-forwarded-for"), "127.0.0.1");
    assert_eq!(seen.one("x-real-ip"), "127.0.0.1");
    assert_eq!(proxy.refused(), 0);
}

/// Over HTTPS the header comes before the ClientHello, in the same write:
/// v1 and v2, IPv4 and IPv6, LOCAL.
fn proxy_protocol_over_https(engine: IoEngine) {
    let proxy = Proxy::start(engine, "127.0.0.1/32", true);
    let port = proxy.https.port();
    let seen =
        tls_with_prefix(&proxy, &v1("198.51.100.7", "192.0.2.1", (1, 443)), FORGED.as_bytes());
    assert_replaced(&seen, "198.51.100.7", "https", port);
    let header = v1("2001:db8::7", "2001:db8::1", (1, 443));
    assert_replaced(
        &tls_with_prefix(&proxy, &header, FORGED.as_bytes()),
        "2001:db8::7",
        "https",
        port,
    );
    let header = v2_tcp4([203, 0, 113, 4], 2, &tlvs());
    assert_replaced(
        &tls_with_prefix(&proxy, &header, FORGED.as_bytes()),
        "203.0.113.4",
        "https",
        port,
    );
    let header = v2_tcp6("2001:db8::4".parse().unwrap(), 2, &tlvs());
    assert_replaced(
        &tls_with_prefix(&proxy, &header, FORGED.as_bytes()),
        "2001:db8::4",
        "https",
        port,
    );
    // LOCAL: the peer (a trusted one here) is the client.
    let seen = tls_with_prefix(&proxy, &v2(0, 0x00, &[], &[]), &get(""));
    assert_eq!(seen.one("x-forwarded-for"), "127.0.0.1");
    assert_eq!(seen.one("x-real-ip"), "127.0.0.1");
    assert_eq!(seen.one("x-forwarded-proto"), "https");
    assert_eq!(proxy.refused(), 0);
}

/// The PROXY address is the peer the trust rules see: a client address
/// inside `--trusted-proxies` (a second proxy behind the load balancer)
/// has its `X-Forwarded-For` believed.
fn proxy_address_is_the_peer_for_trust(engine: IoEngine) {
    let proxy = Proxy::start(engine, "127.0.0.1/32,10.0.0.0/8", true);
    let mut bytes = v1("10.1.1.1", "10.0.0.1", (5, 80));
    bytes.extend_from_slice(&get("X-Forwarded-For: 203.0.113.9\r\n"));
    let seen = plain(proxy.http, &bytes);
    assert_eq!(seen.one("x-forwarded-for"), "203.0.113.9, 10.1.1.1");
    assert_eq!(seen.one("x-real-ip"), "203.0.113.9");
}

/// Every connection that does not start with a whole, valid PROXY header
/// from a trusted peer is closed without a byte, on both listeners, and
/// counted: no header at all, a truncated one, an oversized v1 line, a v2
/// header announcing more than the limit, one that never completes.
fn bad_proxy_headers_close_silently(engine: IoEngine) {
    let proxy = Proxy::start_with(engine, "127.0.0.1/32", true, Duration::from_millis(300));
    let mut oversized_v1 = b"PROXY TCP4 ".to_vec();
    oversized_v1.extend_from_slice(&[b'1'; 200]);
    oversized_v1.extend_from_slice(b"\r\n");
    let mut oversized_v2 = SIGNATURE.to_vec();
    oversized_v2.extend_from_slice(&[0x21, 0x11, 0x08, 0x00]); // 2048 bytes announced
    oversized_v2.extend_from_slice(&[0; 64]);
    let full = v2_tcp4([198, 51, 100, 8], 1, &tlvs());
    let cases: [(&str, Vec<u8>, bool); 5] = [
        ("no header", get(""), false),
        ("truncated v1", b"PROXY TCP4 198.51.100.7 192.0".to_vec(), true),
        ("truncated v2", full[..full.len() - 3].to_vec(), true),
        ("oversized v1", oversized_v1, false),
        ("oversized v2", oversized_v2, false),
    ];
    let mut refused = 0;
    for (what, bytes, half_close) in &cases {
        for addr in [proxy.http, proxy.https] {
            let mut s = tcp(addr);
            s.write_all(bytes).expect("write");
            if *half_close {
                s.shutdown(std::net::Shutdown::Write).unwrap();
            }
            assert_closed_silently(s);
            refused += 1;
            assert_eq!(proxy.refused(), refused, "{what} on {addr}");
        }
    }
    // A ClientHello where the header should be.
    let config: Arc<ClientConfig> = verifying_client(&proxy.ca.der());
    let name = rustls::pki_types::ServerName::try_from("a.example").unwrap();
    let mut conn = ClientConnection::new(config, name).expect("client");
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).expect("client hello");
    let mut s = tcp(proxy.https);
    s.write_all(&hello).expect("write");
    assert_closed_silently(s);
    // Half a header, then silence past the head timeout.
    let mut s = tcp(proxy.http);
    s.write_all(&full[..10]).expect("write");
    assert_closed_silently(s);
    assert_eq!(proxy.refused(), refused + 2);
    // The worker serves on.
    let mut ok = v1("198.51.100.7", "192.0.2.1", (1, 80));
    ok.extend_from_slice(&get(""));
    assert_eq!(plain(proxy.http, &ok).one("x-real-ip"), "198.51.100.7");
}

/// A valid header from a peer outside `--trusted-proxies` is not read: the
/// connection is closed without a byte, on both listeners.
fn untrusted_peer_proxy_header_closes_silently(engine: IoEngine) {
    let proxy = Proxy::start(engine, "10.0.0.0/8", true);
    let mut bytes = v1("198.51.100.7", "192.0.2.1", (1, 80));
    bytes.extend_from_slice(&get(""));
    assert_closed_silently({
        let mut s = tcp(proxy.http);
        s.write_all(&bytes).expect("write");
        s
    });
    let mut s = tcp(proxy.https);
    s.write_all(&v2_tcp4([198, 51, 100, 8], 1, &[])).expect("write");
    assert_closed_silently(s);
    assert_eq!(proxy.refused(), 2);
}

engines!(
    untrusted_peer_forged_headers_are_replaced,
    trusted_peer_chain_names_the_client,
    proxy_v1_over_http,
    proxy_v2_over_http,
    proxy_protocol_over_https,
    proxy_address_is_the_peer_for_trust,
    bad_proxy_headers_close_silently,
    untrusted_peer_proxy_header_closes_silently,
);
