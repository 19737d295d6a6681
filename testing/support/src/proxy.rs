//! The data-plane builder: a real proxy (its workers on their own threads,
//! port 0) reading tables from its own publisher, and a raw HTTP/1.1
//! client. Every data-plane scenario runs under both io engines through
//! [`crate::engines!`].

use ringress::metrics::Metrics;
use ringress::worker::{self, IoEngine, Plain, Settings, WorkerOptions, Workers};
use ringress_control::{compile_yaml, CompileOptions, Publisher, Severity};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use crate::{upstream, DEADLINE};

/// A running proxy reading tables from its own publisher.
pub struct Proxy {
    pub addr: SocketAddr,
    pub publisher: Publisher,
    pub metrics: Arc<Metrics>,
    workers: Option<Workers>,
}

pub struct ProxyBuilder {
    on_thread_start: Option<Arc<dyn Fn(usize) + Send + Sync>>,
    engine: IoEngine,
    settings: Settings,
    workers: usize,
    yaml: Option<String>,
}

impl ProxyBuilder {
    pub fn settings(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(&mut self.settings);
        self
    }

    pub fn on_thread_start(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    pub fn manifests(mut self, yaml: String) -> Self {
        self.yaml = Some(yaml);
        self
    }

    pub fn start(self) -> Proxy {
        let mut publisher = Publisher::new();
        if let Some(y) = &self.yaml {
            publisher.publish(compile_ok(y));
        }
        let metrics = Arc::new(Metrics::new(self.workers));
        let options = WorkerOptions {
            workers: self.workers,
            engine: self.engine,
            pin: false,
            settings: self.settings,
            http: "127.0.0.1:0".parse().unwrap(),
            on_thread_start: self.on_thread_start,
        };
        let workers = worker::start::<Plain>(options, publisher.handle(), metrics.clone(), None)
            .expect("start");
        Proxy { addr: workers.http_addr(), publisher, metrics, workers: Some(workers) }
    }
}

/// Compile manifests; fail the test on any error diagnostic.
pub fn compile_ok(yaml: &str) -> ringress_control::RouteTable {
    let (table, diags) = compile_yaml(yaml, &CompileOptions::default());
    let errors: Vec<_> = diags.iter().filter(|d| d.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "manifest errors: {errors:#?}");
    table
}

impl Proxy {
    pub fn builder(engine: IoEngine) -> ProxyBuilder {
        ProxyBuilder {
            on_thread_start: None,
            engine,
            settings: Settings::default(),
            workers: 1,
            yaml: None,
        }
    }

    /// Publish a new table from manifests; returns its generation.
    pub fn publish(&mut self, yaml: &str) -> u64 {
        self.publisher.publish(compile_ok(yaml))
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Stop accepting and drain; returns when every worker has ended.
    pub fn shutdown(&mut self) {
        if let Some(w) = self.workers.take() {
            w.stop();
            w.join();
        }
    }

    pub fn stopper(&self) -> worker::Stopper {
        self.workers.as_ref().expect("running").stopper()
    }

    pub fn metrics_text(&self) -> String {
        self.metrics.render(0, 0)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw HTTP/1.1 client over one connection.
pub struct Client {
    pub w: TcpStream,
    pub r: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let w = TcpStream::connect(addr).expect("connect to proxy");
        w.set_read_timeout(Some(DEADLINE)).unwrap();
        w.set_nodelay(true).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        Client { w, r }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("write to proxy");
    }

    /// `GET path` with `Host: host` and extra header lines.
    pub fn get(&mut self, host: &str, path: &str, extra: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").as_bytes());
        self.response(false)
    }

    /// Read one response; `head_request` when it answers a HEAD.
    pub fn response(&mut self, head_request: bool) -> Response {
        self.try_response(head_request).expect("a response from the proxy")
    }

    pub fn try_response(&mut self, head_request: bool) -> Option<Response> {
        let mut line = String::new();
        if self.r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let headers = upstream::read_headers(&mut self.r)?;
        let mut resp = Response { status, headers, body: Vec::new() };
        if head_request || status < 200 || status == 204 || status == 304 {
            return Some(resp);
        }
        if resp.header("transfer-encoding").is_some() {
            resp.body = upstream::read_chunked(&mut self.r)?;
        } else if let Some(n) = resp.header("content-length") {
            let mut body = vec![0; n.parse().ok()?];
            self.r.read_exact(&mut body).ok()?;
            resp.body = body;
        } else {
            self.r.read_to_end(&mut resp.body).ok()?;
        }
        Some(resp)
    }

    /// True once the proxy has closed the connection (reads end of stream).
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.r.read(&mut buf), Ok(0) | Err(_))
    }
}
