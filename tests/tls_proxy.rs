//! HTTPS through the whole proxy: real workers terminating TLS on their
//! `--https` listener (port 0), a real upstream on loopback, tables
//! compiled from inline manifests with certificates generated per test,
//! rustls clients and `curl` as a third-party client. Both io engines.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use ringress::metrics::Metrics;
use ringress::tls::{Https, ServerTls};
use ringress::worker::{self, IoEngine, Settings, WorkerOptions, Workers};
use ringress_control::Publisher;
use ringress_test_support::manifests::tls_ingress;
use ringress_test_support::tls::{self as tls_support, secret, verifying_client, Ca, Leaf};
use ringress_test_support::{compile_ok as table, engines, upstream, yaml};
use ringress_test_support::{pattern_body, Upstream, DEADLINE};
use rustls::{ClientConfig, ClientConnection, HandshakeKind, StreamOwned};

/// A running proxy with an HTTP and an HTTPS listener.
struct TlsProxy {
    http: SocketAddr,
    https: SocketAddr,
    metrics: Arc<Metrics>,
    _publisher: Publisher,
    workers: Option<Workers>,
}

impl TlsProxy {
    fn start(engine: IoEngine, workers: usize, yaml: &str) -> TlsProxy {
        Self::start_with(engine, workers, yaml, Settings::default(), Duration::from_secs(10))
    }

    fn start_with(
        engine: IoEngine,
        workers: usize,
        yaml: &str,
        settings: Settings,
        handshake_timeout: Duration,
    ) -> TlsProxy {
        Self::start_hooked(engine, workers, yaml, settings, handshake_timeout, None)
    }

    /// [`TlsProxy::start_with`], with a hook each worker thread runs first.
    fn start_hooked(
        engine: IoEngine,
        workers: usize,
        yaml: &str,
        settings: Settings,
        handshake_timeout: Duration,
        on_thread_start: Option<Arc<dyn Fn(usize) + Send + Sync>>,
    ) -> TlsProxy {
        let mut publisher = Publisher::new();
        publisher.publish(table(yaml));
        let metrics = Arc::new(Metrics::new(workers));
        let tls = ServerTls::new(publisher.handle().cell().clone(), handshake_timeout)
            .expect("tls setup");
        let options = WorkerOptions {
            workers,
            engine,
            pin: false,
            settings,
            http: "127.0.0.1:0".parse().expect("addr"),
            on_thread_start,
        };
        let https =
            Some(("127.0.0.1:0".parse().expect("addr"), tls.https_factory(metrics.clone())));
        let w = worker::start::<Https>(options, publisher.handle(), metrics.clone(), https)
            .expect("start workers");
        TlsProxy {
            http: w.http_addr(),
            https: w.https_addr().expect("https listener"),
            metrics,
            _publisher: publisher,
            workers: Some(w),
        }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(w) = self.workers.take() {
            w.stop();
            w.join();
        }
    }
}

/// Service `web` (port 80) with one endpoint.
fn web_service(addr: SocketAddr) -> String {
    ringress_test_support::service("web", &[addr])
}

/// One TLS host `a.example` served by the upstream, with `annotations`.
fn setup(annotations: &[(&str, &str)]) -> (Ca, Leaf, Upstream, String) {
    let ca = Ca::new();
    let leaf = ca.leaf(&["a.example"]);
    let up = Upstream::start("web");
    let yaml = yaml(&[
        web_service(up.addr),
        secret("a-tls", &leaf),
        tls_ingress("a", "a.example", "a-tls", annotations),
    ]);
    (ca, leaf, up, yaml)
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_response<R: BufRead>(r: &mut R) -> Response {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    let headers = upstream::read_headers(r).expect("headers");
    let mut resp = Response { status, headers, body: Vec::new() };
    if resp.header("transfer-encoding").is_some() {
        resp.body = upstream::read_chunked(r).expect("chunked body");
    } else if let Some(n) = resp.header("content-length") {
        resp.body = vec![0; n.parse().expect("content-length")];
        r.read_exact(&mut resp.body).expect("body");
    }
    resp
}

type Tls = BufReader<StreamOwned<ClientConnection, TcpStream>>;

fn tls_connect(addr: SocketAddr, config: &Arc<ClientConfig>, sni: &str) -> Tls {
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).expect("name");
    let conn = ClientConnection::new(config.clone(), name).expect("client");
    BufReader::new(StreamOwned::new(conn, tls_support::tcp(addr)))
}

fn send(tls: &mut Tls, bytes: &[u8]) {
    tls.get_mut().write_all(bytes).expect("write");
}

/// Requests that arrived over TLS are forwarded with
/// `X-Forwarded-Proto: https` and the https listener's port.
fn forwarded_from_tls_says_https(engine: IoEngine) {
    let (ca, _, _up, yaml) = setup(&[]);
    let proxy = TlsProxy::start(engine, 1, &yaml);
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    for _ in 0..2 {
        // Keep-alive: the second request rides the same TLS connection.
        send(&mut tls, b"GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let resp = read_response(&mut tls);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"web\n");
        assert_eq!(resp.header("x-seen-x-forwarded-proto"), Some("https"));
        let port = proxy.https.port().to_string();
        assert_eq!(resp.header("x-seen-x-forwarded-port"), Some(port.as_str()));
    }
}

/// Plain HTTP for a host listed under `tls` is answered 308 to https, path
/// and query kept; nothing reaches the upstream.
fn plain_http_to_a_tls_host_is_redirected(engine: IoEngine) {
    let (_ca, _, up, yaml) = setup(&[]);
    let proxy = TlsProxy::start(engine, 1, &yaml);
    let mut c = BufReader::new(tls_support::tcp(proxy.http));
    c.get_mut()
        .write_all(b"GET /some/path?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n")
        .expect("write");
    let resp = read_response(&mut c);
    assert_eq!(resp.status, 308);
    assert_eq!(resp.header("location"), Some("https://a.example/some/path?q=1"));
    assert_eq!(up.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// `ringress.io/ssl-redirect: "false"` and the ingress-nginx
/// `ssl-redirect: "false"` turn the redirect off: plain HTTP is proxied.
fn ssl_redirect_false_serves_plain_http(engine: IoEngine) {
    for annotation in ["ringress.io/ssl-redirect", "nginx.ingress.kubernetes.io/ssl-redirect"] {
        let (_ca, _, _up, yaml) = setup(&[(annotation, "false")]);
        let proxy = TlsProxy::start(engine, 1, &yaml);
        let mut c = BufReader::new(tls_support::tcp(proxy.http));
        c.get_mut().write_all(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n").expect("write");
        let resp = read_response(&mut c);
        assert_eq!(resp.status, 200, "{annotation}");
        assert_eq!(resp.header("x-seen-x-forwarded-proto"), Some("http"));
    }
}

/// `--public-https-port 443` and `--public-http-port 80` (the Service in
/// front maps them to the listeners' own ports): a redirect to https names
/// no port, and `X-Forwarded-Port` carries the public port on each listener.
fn public_ports_name_the_ports_clients_used(engine: IoEngine) {
    let settings = Settings { https_port: Some(443), http_port: Some(80), ..Settings::default() };
    let (ca, _, _up, yaml) = setup(&[]);
    let proxy = TlsProxy::start_with(engine, 1, &yaml, settings, Duration::from_secs(10));
    let mut c = BufReader::new(tls_support::tcp(proxy.http));
    c.get_mut().write_all(b"GET /p?q=1 HTTP/1.1\r\nHost: a.example:8080\r\n\r\n").expect("write");
    let resp = read_response(&mut c);
    assert_eq!(resp.status, 308);
    assert_eq!(resp.header("location"), Some("https://a.example/p?q=1"));
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    send(&mut tls, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
    let resp = read_response(&mut tls);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-seen-x-forwarded-port"), Some("443"));

    let settings = Settings { https_port: Some(443), http_port: Some(80), ..Settings::default() };
    let (_ca, _, _up, yaml) = setup(&[("ringress.io/ssl-redirect", "false")]);
    let proxy = TlsProxy::start_with(engine, 1, &yaml, settings, Duration::from_secs(10));
    let mut c = BufReader::new(tls_support::tcp(proxy.http));
    c.get_mut().write_all(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n").expect("write");
    let resp = read_response(&mut c);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-seen-x-forwarded-port"), Some("80"));
}

/// Bodies of several MiB both ways over TLS, in both framings.
fn multi_mib_bodies_both_ways(engine: IoEngine) {
    let (ca, _, _up, yaml) = setup(&[]);
    // No body limit: the upload is several MiB.
    let settings = Settings { max_body_size: None, ..Settings::default() };
    let proxy = TlsProxy::start_with(engine, 1, &yaml, settings, Duration::from_secs(10));
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");

    let upload = pattern_body(5 * 1024 * 1024 + 7);
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: a.example\r\nContent-Length: {}\r\n\r\n",
        upload.len()
    );
    send(&mut tls, head.as_bytes());
    send(&mut tls, &upload);
    let resp = read_response(&mut tls);
    assert_eq!(resp.status, 200);
    assert!(resp.body == upload, "echoed upload differs ({} bytes back)", resp.body.len());

    for chunked in ["0", "1"] {
        let n = 6 * 1024 * 1024 + 3;
        let req = format!(
            "GET /big HTTP/1.1\r\nHost: a.example\r\nx-test-body-bytes: {n}\r\nx-test-chunked: {chunked}\r\n\r\n"
        );
        send(&mut tls, req.as_bytes());
        let resp = read_response(&mut tls);
        assert_eq!(resp.status, 200);
        assert!(resp.body == pattern_body(n), "download (chunked={chunked}) differs");
    }
}

/// Ask for a WebSocket upgrade on `tls` and expect `101`.
fn upgrade_to_websocket(tls: &mut Tls) {
    send(
        tls,
        b"GET /chat HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(read_response(tls).status, 101);
}

/// A WebSocket upgrade over TLS: after 101, bytes flow both ways through
/// the TLS stream split into its two halves.
fn websocket_over_tls(engine: IoEngine) {
    let (ca, _, _up, yaml) = setup(&[]);
    let proxy = TlsProxy::start(engine, 1, &yaml);
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    upgrade_to_websocket(&mut tls);
    for round in 0..20 {
        let msg = format!("frame {round} {}", "x".repeat(round * 1000));
        send(&mut tls, msg.as_bytes());
        let mut back = vec![0u8; msg.len()];
        tls.read_exact(&mut back).expect("echo through the tunnel");
        assert_eq!(back, msg.as_bytes());
    }
}

/// A session resumes whichever worker accepts the next connection.
fn sessions_resume_on_every_worker(engine: IoEngine) {
    let (ca, _, _up, yaml) = setup(&[]);
    let proxy = TlsProxy::start(engine, 2, &yaml);
    let config = verifying_client(&ca.der());
    let get = |config: &Arc<ClientConfig>| {
        let mut tls = tls_connect(proxy.https, config, "a.example");
        send(&mut tls, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
        assert_eq!(read_response(&mut tls).status, 200);
        tls.get_ref().conn.handshake_kind()
    };
    assert_eq!(get(&config), Some(HandshakeKind::Full));
    // The kernel spreads these over both workers' listeners.
    for _ in 0..8 {
        assert_eq!(get(&config), Some(HandshakeKind::Resumed));
    }
}

/// Garbage on the https listener is closed and counted in /metrics; the
/// worker keeps serving.
fn bad_handshake_is_counted_in_metrics(engine: IoEngine) {
    let (ca, _, _up, yaml) = setup(&[]);
    let proxy = TlsProxy::start(engine, 1, &yaml);
    let mut raw = tls_support::tcp(proxy.https);
    raw.write_all(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n").expect("write");
    let mut sink = Vec::new();
    let _ = raw.read_to_end(&mut sink); // closed by the proxy
    let start = std::time::Instant::now();
    let metric = "ringress_tls_handshake_failures_total{kind=\"bad_client_hello\"} 1";
    while !proxy.metrics.render(0, 0).contains(metric) {
        assert!(start.elapsed() < DEADLINE, "{metric} never appeared");
        std::thread::yield_now();
    }
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    send(&mut tls, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(read_response(&mut tls).status, 200);
}

/// `curl`, a third-party client (OpenSSL underneath), verifies the chain
/// and gets the upstream's answer over TLS with HTTP/1.1.
fn curl_gets_through(engine: IoEngine) {
    let (ca, _, _up, yaml) = setup(&[]);
    let proxy = TlsProxy::start(engine, 1, &yaml);
    let ca_file = std::env::temp_dir()
        .join(format!("ringress-test-ca-{}-{engine:?}.pem", std::process::id()));
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64_lines(ca.der().as_ref())
    );
    std::fs::write(&ca_file, pem).expect("write CA file");
    let port = proxy.https.port();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(&ca_file)
        .args(["--resolve", &format!("a.example:{port}:127.0.0.1")])
        .args(["-w", "\n%{http_code} %{http_version} %{scheme}"])
        .arg(format!("https://a.example:{port}/"))
        .output()
        .expect("curl must be installed (.ci/run installs it)");
    let _ = std::fs::remove_file(&ca_file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "web\n\n200 1.1 HTTPS");
}

/// Standard base64 with 64-column lines, for a PEM file.
fn base64_lines(der: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in der.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s.as_bytes()
        .chunks(64)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// Hostile and slow clients over TLS. Each scenario runs on one worker and
// is followed by fresh HTTP and HTTPS requests that must succeed on that
// same worker, with no connection task having panicked.

/// Settings with short client-side limits, so each scenario ends quickly.
fn short_limits() -> Settings {
    Settings {
        client_head_timeout: Duration::from_millis(300),
        client_body_timeout: Duration::from_millis(300),
        tunnel_idle_timeout: Duration::from_millis(400),
        ..Settings::default()
    }
}

/// One worker on `yaml` (from [`setup`] with ssl-redirect off, so plain
/// HTTP is served too) with [`short_limits`].
fn hostile_proxy(engine: IoEngine, yaml: &str) -> TlsProxy {
    TlsProxy::start_with(engine, 1, yaml, short_limits(), Duration::from_secs(1))
}

fn metric(proxy: &TlsProxy, name: &str) -> u64 {
    let text = proxy.metrics.render(0, 0);
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
}

/// Wait (bounded) until `name` reads `want`.
fn wait_metric(proxy: &TlsProxy, name: &str, want: u64) {
    let start = std::time::Instant::now();
    while metric(proxy, name) != want {
        assert!(start.elapsed() < DEADLINE, "{name} never reached {want}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The worker still serves: a fresh plain request and a fresh TLS request
/// both get the upstream's answer, nothing panicked, the worker is alive.
fn still_serving(proxy: &TlsProxy, ca: &Ca) {
    let mut c = BufReader::new(tls_support::tcp(proxy.http));
    c.get_mut().write_all(b"GET /after HTTP/1.1\r\nHost: a.example\r\n\r\n").expect("write");
    let resp = read_response(&mut c);
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"web\n"[..]), "fresh HTTP request");
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    send(&mut tls, b"GET /after HTTP/1.1\r\nHost: a.example\r\n\r\n");
    let resp = read_response(&mut tls);
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"web\n"[..]), "fresh HTTPS request");
    assert_eq!(metric(proxy, "ringress_connection_panics_total"), 0);
    assert_eq!(metric(proxy, "ringress_workers_alive"), 1);
}

/// Read until the proxy closes (end of stream, or an error such as a
/// reset), returning what arrived.
fn read_until_closed<R: Read>(r: &mut R) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn redirect_off() -> (Ca, Leaf, Upstream, String) {
    setup(&[("ringress.io/ssl-redirect", "false")])
}

/// A partial request head over TLS past `--client-head-timeout` gets 408
/// and a closed connection; the cancelled TLS read leaves the stream
/// closed, never a panic on the next read or on the close_notify.
fn partial_head_over_tls_past_the_head_timeout(engine: IoEngine) {
    let (ca, _, _up, yaml) = redirect_off();
    let proxy = hostile_proxy(engine, &yaml);
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    send(&mut tls, b"GET / HTTP/1.1\r\n");
    let answer = String::from_utf8_lossy(&read_until_closed(&mut tls)).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    still_serving(&proxy, &ca);
}

/// A request body that stops arriving over TLS past
/// `--client-body-timeout`: the connection ends (408 when nothing was
/// answered yet) and the worker serves on.
fn stalled_request_body_over_tls_past_the_body_timeout(engine: IoEngine) {
    let (ca, _, up, yaml) = redirect_off();
    let proxy = hostile_proxy(engine, &yaml);
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    send(&mut tls, b"POST /echo HTTP/1.1\r\nHost: a.example\r\nContent-Length: 100000\r\n\r\n");
    send(&mut tls, &[b'x'; 1000]);
    let answer = String::from_utf8_lossy(&read_until_closed(&mut tls)).into_owned();
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    wait_metric(&proxy, "ringress_downstream_connections_active", 0);
    assert_eq!(up.requests.load(std::sync::atomic::Ordering::SeqCst), 0, "no complete request");
    still_serving(&proxy, &ca);
}

/// A client that asks for a large response over TLS and never reads it:
/// the stalled write is cut after `--client-body-timeout` and the
/// connection closed, without a close_notify on the broken stream.
fn slow_reader_of_a_large_response_over_tls(engine: IoEngine) {
    let (ca, _, _up, yaml) = redirect_off();
    let proxy = hostile_proxy(engine, &yaml);
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    let n = 64 * 1024 * 1024;
    send(
        &mut tls,
        format!("GET /big HTTP/1.1\r\nHost: a.example\r\nx-test-body-bytes: {n}\r\n\r\n")
            .as_bytes(),
    );
    // Never read: the proxy's writes stall once the socket buffers fill.
    wait_metric(&proxy, "ringress_downstream_connections_active", 0);
    drop(tls);
    still_serving(&proxy, &ca);
}

/// A WebSocket-over-TLS client that sends nothing while the upstream
/// talks: the quiet direction's read is never cut and resumed (the tunnel
/// stays open while the upstream talks); once both sides are quiet for
/// `--tunnel-idle-timeout` the tunnel closes.
fn quiet_websocket_client_with_a_chatty_upstream(engine: IoEngine) {
    let (ca, _, up, yaml) = redirect_off();
    let chatty = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let chatty_addr = chatty.local_addr().expect("addr");
    let talker = std::thread::spawn(move || {
        let (stream, _) = chatty.accept().expect("accept");
        let mut r = BufReader::new(stream.try_clone().expect("clone"));
        upstream::read_request(&mut r).expect("upgrade request");
        let mut w = stream;
        w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .expect("101");
        // Talk for 2.5 idle limits, a line every 25 ms.
        for i in 0..100 {
            w.write_all(format!("tick {i}\n").as_bytes()).expect("tick");
            std::thread::sleep(Duration::from_millis(25));
        }
        // Then fall quiet and wait for the proxy to close the tunnel.
        read_until_closed(&mut r);
    });
    let to_chatty = yaml
        .replace(&format!("port: {}", up.addr.port()), &format!("port: {}", chatty_addr.port()));
    let settings = Settings { tunnel_idle_timeout: Duration::from_secs(1), ..short_limits() };
    let mut proxy = TlsProxy::start_with(engine, 1, &to_chatty, settings, Duration::from_secs(10));
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    upgrade_to_websocket(&mut tls);
    let heard = String::from_utf8_lossy(&read_until_closed(&mut tls)).into_owned();
    assert!(heard.contains("tick 0\n") && heard.contains("tick 99\n"), "{heard:?}");
    talker.join().expect("chatty upstream");
    wait_metric(&proxy, "ringress_tunnels_idle_closed_total", 1);
    // The one-shot upstream is gone: route back to the ordinary one.
    proxy._publisher.publish(table(&yaml));
    still_serving(&proxy, &ca);
}

/// A TLS handshake that stops halfway (ClientHello sent, the server's
/// flight read, then silence) is cut at `--tls-handshake-timeout` and
/// counted; the worker serves on.
fn tls_handshake_that_stops_halfway(engine: IoEngine) {
    let (ca, _, _up, yaml) = redirect_off();
    let proxy = hostile_proxy(engine, &yaml);
    let name = rustls::pki_types::ServerName::try_from("a.example").expect("name");
    let mut client = ClientConnection::new(verifying_client(&ca.der()), name).expect("client");
    let mut hello = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut hello).expect("client hello");
    }
    let mut raw = tls_support::tcp(proxy.https);
    raw.write_all(&hello).expect("send ClientHello");
    // The server's flight arrives, then the client never finishes.
    let flight = read_until_closed(&mut raw);
    assert!(!flight.is_empty(), "the server answered the ClientHello");
    wait_metric(&proxy, "ringress_tls_handshake_failures_total{kind=\"timeout\"}", 1);
    still_serving(&proxy, &ca);
}

/// A worker thread that dies is taken out of service: /healthz answers
/// 503, `ringress_workers_alive` drops, and its listening sockets leave
/// the SO_REUSEPORT group, so every new connection reaches the worker
/// that is left instead of hanging in a dead one's queue.
fn a_dead_worker_is_reported_and_gets_no_connections(engine: IoEngine) {
    let (ca, _, _up, yaml) = redirect_off();
    let dies: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(|i| {
        if i == 1 {
            panic!("worker 1 dies at start (test)");
        }
    });
    let proxy = TlsProxy::start_hooked(
        engine,
        2,
        &yaml,
        Settings::default(),
        Duration::from_secs(10),
        Some(dies),
    );
    let metrics = proxy.metrics.clone();
    let start = std::time::Instant::now();
    while metrics.workers[1].died.get() == 0 || metrics.workers_alive() != 1 {
        assert!(start.elapsed() < DEADLINE, "worker 1 never reported dead");
        std::thread::sleep(Duration::from_millis(10));
    }
    let state = ringress::admin::AdminState {
        table: proxy._publisher.handle(),
        metrics: metrics.clone(),
        provider: None,
        shutting_down: Default::default(),
    };
    let (status, _, body) = ringress::admin::answer("/healthz", &state);
    assert_eq!((status, body.as_str()), (503, "1 of 2 workers running\n"));
    assert!(!metrics.all_workers_died());
    for _ in 0..16 {
        let mut c = BufReader::new(tls_support::tcp(proxy.http));
        c.get_mut().write_all(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n").expect("write");
        assert_eq!(read_response(&mut c).status, 200);
        let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
        send(&mut tls, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
        assert_eq!(read_response(&mut tls).status, 200);
    }
    assert_eq!(metric(&proxy, "ringress_workers_alive"), 1);
}

/// When every worker dies the process has nothing left to serve with:
/// `all_workers_died` (which `ringress run` waits on to exit non-zero)
/// turns true.
fn every_worker_dead_is_seen(engine: IoEngine) {
    let (_, _, _up, yaml) = redirect_off();
    let dies: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(|_| panic!("every worker dies (test)"));
    let proxy = TlsProxy::start_hooked(
        engine,
        2,
        &yaml,
        Settings::default(),
        Duration::from_secs(10),
        Some(dies),
    );
    let metrics = proxy.metrics.clone();
    let start = std::time::Instant::now();
    while !metrics.all_workers_died() {
        assert!(start.elapsed() < DEADLINE, "the deaths were never seen");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(metrics.workers_alive(), 0);
}

/// Plain (no `tls`) Ingress `name` routing `host` to Service `web:80`.
fn plain_ingress(name: &str, host: &str) -> String {
    ringress_test_support::ingress(name, Some(host), &[("/", "Prefix", "web")])
}

/// Issue rule "Host must match the certificate chosen by SNI": on a
/// connection whose SNI chose `a.example`'s certificate, a Host served by
/// another certificate (`b.example`) or not covered by it
/// (`plain.example`) is answered 421 and not forwarded, and the connection
/// stays usable; a Host the certificate covers by its SAN wildcard
/// (`www.a.example`, listed under no `tls`) is served. A connection
/// without SNI is unaffected.
fn host_not_served_by_the_sni_certificate_is_misdirected(engine: IoEngine) {
    let ca = Ca::new();
    let a = ca.leaf(&["a.example", "*.a.example"]);
    let b = ca.leaf(&["b.example"]);
    let up = Upstream::start("web");
    let yaml = yaml(&[
        web_service(up.addr),
        secret("a-tls", &a),
        secret("b-tls", &b),
        tls_ingress("a", "a.example", "a-tls", &[]),
        tls_ingress("b", "b.example", "b-tls", &[]),
        plain_ingress("www", "www.a.example"),
        plain_ingress("plain", "plain.example"),
    ]);
    let proxy = TlsProxy::start(engine, 1, &yaml);
    let forwarded = || up.requests.load(std::sync::atomic::Ordering::SeqCst);
    let get = |tls: &mut Tls, host: &str| {
        send(tls, format!("GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        read_response(tls)
    };

    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "a.example");
    assert_eq!(get(&mut tls, "a.example").status, 200);
    assert_eq!(get(&mut tls, "WWW.a.example:443").status, 200, "covered by *.a.example");
    let before = forwarded();
    for host in ["b.example", "plain.example", "x.y.a.example"] {
        let resp = get(&mut tls, host);
        assert_eq!(resp.status, 421, "Host {host} on SNI a.example");
        assert_eq!(resp.body, b"Misdirected Request\n");
        assert_eq!(resp.header("connection"), None, "the connection stays open");
    }
    assert_eq!(forwarded(), before, "a misdirected request is not forwarded");
    assert_eq!(get(&mut tls, "a.example").status, 200, "the same connection serves on");

    // The same Hosts on a connection that sent no SNI (an IP literal).
    let mut bare = tls_connect(
        proxy.https,
        &tls_support::client_config(&[&rustls::version::TLS13]),
        "127.0.0.1",
    );
    for host in ["a.example", "b.example", "plain.example"] {
        assert_eq!(get(&mut bare, host).status, 200, "Host {host} without SNI");
    }
    // SNI b.example: a.example is now the other certificate's host.
    let mut tls = tls_connect(proxy.https, &verifying_client(&ca.der()), "b.example");
    assert_eq!(get(&mut tls, "b.example").status, 200);
    assert_eq!(get(&mut tls, "a.example").status, 421);
}

engines!(
    forwarded_from_tls_says_https,
    plain_http_to_a_tls_host_is_redirected,
    ssl_redirect_false_serves_plain_http,
    multi_mib_bodies_both_ways,
    websocket_over_tls,
    sessions_resume_on_every_worker,
    bad_handshake_is_counted_in_metrics,
    curl_gets_through,
    partial_head_over_tls_past_the_head_timeout,
    stalled_request_body_over_tls_past_the_body_timeout,
    slow_reader_of_a_large_response_over_tls,
    quiet_websocket_client_with_a_chatty_upstream,
    tls_handshake_that_stops_halfway,
    a_dead_worker_is_reported_and_gets_no_connections,
    every_worker_dead_is_seen,
    host_not_served_by_the_sni_certificate_is_misdirected,
    public_ports_name_the_ports_clients_used,
);
