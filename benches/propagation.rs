//! How long a change takes to go live, and what the control plane holds in
//! memory, at scale: the `ringress` binary (release) against a manifests
//! directory or the bundled API server (`ringress-test-apiserver`, in this
//! process), with N Ingresses, each with its own Service and EndpointSlice
//! (and, with `SECRETS=K`, K of them with a TLS Secret).
//!
//! ```sh
//! PROVIDER=manifests INGRESSES=10000 cargo bench --bench propagation
//! PROVIDER=kube INGRESSES=10000 cargo bench --bench propagation
//! PROVIDER=kube INGRESSES=10000 SECRETS=1000 CHANGES=0 cargo bench --bench propagation
//! ```
//!
//! Propagation: each of `CHANGES` (default 100) changes moves one Ingress
//! (a different one each time) to a new path, by rewriting its manifests
//! file (write and rename, as a deploy tool does) or by a replace through
//! the API server. The clock starts just before the write and stops when
//! every one of four keep-alive probe connections (which the kernel spreads
//! over the workers) routes the new path: until then they get 404, after it
//! 503 (its Service has no endpoints, so no upstream is involved). The
//! probes ask once a millisecond (each round of four), so that they do
//! not take from the control plane the CPU they are timing it on. Changes
//! are spaced by a random 150–250 ms after the previous one went live, so
//! each is measured on its own. Reports p50, p90, p99 and max.
//!
//! Memory: the ringress process's resident set (`VmRSS`) and its peak
//! (`VmHWM`) once the first table is live, after the changes, and (kube)
//! after a forced relist of every watch (the API server compacts its
//! history: every watch gets 410 Gone and lists again).
//!
//! Every figure is wall-clock on whatever else the machine does; pin with
//! `taskset` and compare runs made one after the other.

// A load driver, not a worker: it blocks its own threads on purpose (the
// spacing between changes, the readiness poll), reads /proc and shares
// what it reads off the log under a lock.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ringress_test_apiserver::{ApiServer, Resource};
use ringress_test_support::process::{self, Running};
use serde_json::{json, Value};

const HOSTS_PER_INGRESSES: usize = 10;
const PER_FILE: usize = 100;
const PROBES: usize = 4;
/// Pause between two rounds of probes: the resolution of the figures.
const PROBE_PERIOD: Duration = Duration::from_millis(1);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn host(i: usize, ingresses: usize) -> String {
    format!("h{}.bench.example", i % (ingresses / HOSTS_PER_INGRESSES).max(1))
}

/// Ingress `i`, routing `path` to `service`.
fn ingress(i: usize, ingresses: usize, path: &str, service: &str, tls: bool) -> Value {
    let mut spec = json!({
        "ingressClassName": "ringress",
        "rules": [{
            "host": host(i, ingresses),
            "http": {"paths": [{
                "path": path,
                "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": 80}}}
            }]}
        }]
    });
    if tls {
        spec["tls"] = json!([{"hosts": [host(i, ingresses)], "secretName": format!("tls{i}")}]);
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": format!("ing{i}"), "namespace": format!("ns{}", i % 50)},
        "spec": spec
    })
}

fn service(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": format!("svc{i}"), "namespace": format!("ns{}", i % 50)},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    })
}

fn slice(i: usize) -> Value {
    let (a, b) = ((i / 250) % 250, i % 250);
    let ep = |n: u8, ready: bool| json!({"addresses": [format!("10.{a}.{b}.{n}")], "conditions": {"ready": ready}});
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": format!("svc{i}-x1"),
            "namespace": format!("ns{}", i % 50),
            "labels": {"kubernetes.io/service-name": format!("svc{i}")}
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [ep(1, true), ep(2, true), ep(3, true), ep(4, false)]
    })
}

fn secret(i: usize, pair: &(String, String)) -> Value {
    use base64_encode as b64;
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": format!("tls{i}"), "namespace": format!("ns{}", i % 50)},
        "data": {"tls.crt": b64(pair.0.as_bytes()), "tls.key": b64(pair.1.as_bytes())}
    })
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (k, &b)| n | u32::from(b) << (16 - 8 * k));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(T[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const CLASS: &str = r#"{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
  "metadata": {"name": "ringress"}, "spec": {"controller": "ringress.io/ingress-controller"}}"#;

/// The objects of Ingress `i` in its initial state.
fn objects(i: usize, n: usize, secrets: usize, pairs: &[(String, String)]) -> Vec<Value> {
    let tls = i < secrets;
    let mut v =
        vec![ingress(i, n, &format!("/svc{i}"), &format!("svc{i}"), tls), service(i), slice(i)];
    if tls {
        v.push(secret(i, &pairs[i % pairs.len()]));
    }
    v
}

fn key_pairs(count: usize) -> Vec<(String, String)> {
    (0..count.min(64))
        .map(|k| {
            let key = rcgen::KeyPair::generate().expect("a P-256 key");
            let params = rcgen::CertificateParams::new(vec![format!("c{k}.bench.example")])
                .expect("certificate parameters");
            let cert = params.self_signed(&key).expect("a self-signed certificate");
            (cert.pem(), key.serialize_pem())
        })
        .collect()
}

struct Probe {
    http: SocketAddr,
    conns: Vec<Option<BufReader<TcpStream>>>,
}

impl Probe {
    fn connect(http: SocketAddr) -> Self {
        Self { http, conns: (0..PROBES).map(|_| None).collect() }
    }

    fn open(http: SocketAddr) -> BufReader<TcpStream> {
        let s = TcpStream::connect(http).expect("connect the probe");
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        BufReader::new(s)
    }

    /// The status of one request, and whether the connection stays open.
    fn status(conn: &mut BufReader<TcpStream>, host: &str, path: &str) -> (u16, bool) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        conn.get_mut().write_all(request.as_bytes()).expect("probe write");
        let mut line = String::new();
        conn.read_line(&mut line).expect("probe read");
        let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let (mut length, mut open) = (0usize, true);
        loop {
            line.clear();
            conn.read_line(&mut line).expect("probe read");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if name.eq_ignore_ascii_case("connection") && value.trim() == "close" {
                    open = false;
                }
            }
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body).expect("probe body");
        (status, open)
    }

    /// Wait until every connection routes `path` (anything but 404).
    fn until_live(&mut self, host: &str, path: &str, deadline: Instant) -> bool {
        let mut live = [false; PROBES];
        while Instant::now() < deadline {
            for (k, slot) in self.conns.iter_mut().enumerate() {
                if live[k] {
                    continue;
                }
                let conn = slot.get_or_insert_with(|| Self::open(self.http));
                let (status, open) = Self::status(conn, host, path);
                live[k] = status != 404;
                if !open {
                    *slot = None;
                }
            }
            if live.iter().all(|&l| l) {
                return true;
            }
            // Poll, do not spin: on two cores a probe that asks as fast as
            // it can takes a core from the compile it is timing.
            std::thread::sleep(PROBE_PERIOD);
        }
        false
    }
}

fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

fn report_memory(what: &str, child: &Running) {
    let (rss, hwm) = memory(child.0.id());
    println!(
        "memory {what}: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

fn wait_ready(admin: SocketAddr, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(admin) {
            let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            if text.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("ringress not ready after {timeout:?}");
}

/// The phase timings ringress logs with each published table
/// (`debounce_ms`, `prepare_ms`, `compile_ms`, `total_ms`), as read from
/// its log.
type Phases = std::sync::Arc<std::sync::Mutex<Vec<Vec<(String, f64)>>>>;

fn phases_of(line: &str) -> Option<Vec<(String, f64)>> {
    if !line.contains("route table published") {
        return None;
    }
    let fields = line
        .split_whitespace()
        .filter_map(|t| t.split_once('='))
        .filter(|(k, _)| k.ends_with("_ms"))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect();
    Some(fields)
}

fn start(args: &[&str]) -> (Running, SocketAddr, SocketAddr, Phases) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringress"));
    command.arg("run").args(args).args([
        "--http",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--health",
        "127.0.0.1:0",
        "--workers",
        "2",
        "--shutdown-delay",
        "0s",
    ]);
    command.env("RUST_LOG", "warn,ringress=info,ringress_control=info");
    let (child, lines) = process::spawn(&mut command);
    let [http, admin] = process::start_addrs(&lines, ["http", "admin"]);
    // Keep reading stderr so the child never blocks on a full pipe.
    let phases = Phases::default();
    let sink = phases.clone();
    std::thread::spawn(move || {
        for line in lines {
            if let Some(fields) = phases_of(&line) {
                sink.lock().expect("phases").push(fields);
            }
        }
    });
    (child, http, admin, phases)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Something that can change Ingress `i` to route `path`.
trait Cluster {
    fn change(&mut self, i: usize, path: &str);
}

struct Dir {
    root: PathBuf,
    n: usize,
    secrets: usize,
    pairs: Vec<(String, String)>,
    /// The current path of each Ingress that was changed.
    paths: std::collections::HashMap<usize, String>,
}

impl Dir {
    fn file_text(&self, f: usize) -> String {
        let mut text = String::new();
        for i in f * PER_FILE..((f + 1) * PER_FILE).min(self.n) {
            for mut object in objects(i, self.n, self.secrets, &self.pairs) {
                if let Some(path) = self.paths.get(&i) {
                    if object["kind"] == "Ingress" {
                        object = ingress(i, self.n, path, "probe", i < self.secrets);
                    }
                }
                text.push_str("---\n");
                text.push_str(&object.to_string());
                text.push('\n');
            }
        }
        text
    }

    fn write(&self, f: usize) {
        let path = self.root.join(format!("f{f:05}.yaml"));
        let tmp = self.root.join(format!(".f{f:05}.yaml.tmp"));
        std::fs::write(&tmp, self.file_text(f)).expect("write a manifests file");
        std::fs::rename(&tmp, &path).expect("rename a manifests file");
    }
}

impl Cluster for Dir {
    fn change(&mut self, i: usize, path: &str) {
        self.paths.insert(i, path.to_string());
        self.write(i / PER_FILE);
    }
}

struct Kube {
    server: ApiServer,
    n: usize,
    secrets: usize,
}

impl Cluster for Kube {
    fn change(&mut self, i: usize, path: &str) {
        let resource = Resource::new("networking.k8s.io/v1", "ingresses");
        self.server.apply_json(&resource, ingress(i, self.n, path, "probe", i < self.secrets));
    }
}

fn resource_of(object: &Value) -> Resource {
    match object["kind"].as_str() {
        Some("Ingress") => Resource::new("networking.k8s.io/v1", "ingresses"),
        Some("IngressClass") => Resource::new("networking.k8s.io/v1", "ingressclasses"),
        Some("Service") => Resource::new("v1", "services"),
        Some("EndpointSlice") => Resource::new("discovery.k8s.io/v1", "endpointslices"),
        Some("Secret") => Resource::new("v1", "secrets"),
        other => panic!("unexpected kind {other:?}"),
    }
}

fn measure(cluster: &mut dyn Cluster, http: SocketAddr, n: usize, changes: usize, phases: &Phases) {
    if changes == 0 {
        return;
    }
    let logged_before = phases.lock().expect("phases").len();
    let mut probe = Probe::connect(http);
    let mut times = Vec::with_capacity(changes);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for k in 0..changes {
        let i = (k * 7919 + 13) % n;
        let path = format!("/p{k}");
        let spacing = Duration::from_millis(150 + random() % 100);
        std::thread::sleep(spacing);
        let start = Instant::now();
        cluster.change(i, &path);
        let live = probe.until_live(&host(i, n), &path, start + Duration::from_secs(30));
        assert!(live, "change {k} (Ingress ing{i} to {path}) not live after 30 s");
        times.push(start.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "propagation over {changes} changes: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 90.0)),
        ms(percentile(&times, 99.0)),
        ms(*times.last().expect("at least one change")),
    );
    // The medians of what ringress logged for these tables.
    let logged = phases.lock().expect("phases")[logged_before..].to_vec();
    let names: Vec<String> =
        logged.first().map(|f| f.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    let medians: Vec<String> = names
        .iter()
        .map(|name| {
            let mut v: Vec<f64> =
                logged.iter().flatten().filter(|(k, _)| k == name).map(|(_, v)| *v).collect();
            v.sort_by(f64::total_cmp);
            format!("{name} {:.1}", v.get(v.len() / 2).copied().unwrap_or(f64::NAN))
        })
        .collect();
    println!("  as logged by ringress ({} tables), medians: {}", logged.len(), medians.join(", "));
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let provider = std::env::var("PROVIDER").unwrap_or_else(|_| "manifests".into());
    let n = env("INGRESSES", 10_000);
    let secrets = env("SECRETS", 0).min(n);
    let changes = env("CHANGES", 100);
    let ready_timeout = Duration::from_secs(env("READY_TIMEOUT_S", 300) as u64);
    let pairs = key_pairs(secrets);
    println!(
        "provider {provider}: {n} Ingresses, {n} Services, {n} EndpointSlices, {secrets} TLS Secrets"
    );
    match provider.as_str() {
        "manifests" => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            std::fs::write(dir.path().join("class.yaml"), CLASS).unwrap();
            let mut cluster = Dir {
                root: dir.path().to_path_buf(),
                n,
                secrets,
                pairs,
                paths: Default::default(),
            };
            for f in 0..n.div_ceil(PER_FILE) {
                cluster.write(f);
            }
            let loaded = Instant::now();
            let (child, http, admin, phases) = start(&["--manifests", path_str(dir.path())]);
            wait_ready(admin, ready_timeout);
            println!("first table live {:.2} s after start", loaded.elapsed().as_secs_f64());
            report_memory("at first table", &child);
            measure(&mut cluster, http, n, changes, &phases);
            report_memory("after the changes", &child);
        }
        "kube" => {
            let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
            let server = runtime.block_on(ApiServer::start()).expect("start the API server");
            let _guard = runtime.enter();
            let class: Value = serde_json::from_str(CLASS).unwrap();
            server.apply_json(&resource_of(&class), class);
            for i in 0..n {
                for object in objects(i, n, secrets, &pairs) {
                    server.apply_json(&resource_of(&object), object);
                }
            }
            let dir = tempfile::tempdir().expect("a temporary directory");
            let kubeconfig = dir.path().join("kubeconfig");
            server.write_kubeconfig(&kubeconfig, "bench").unwrap();
            let loaded = Instant::now();
            let (child, http, admin, phases) =
                start(&["--kubernetes", "--kubeconfig", path_str(&kubeconfig)]);
            wait_ready(admin, ready_timeout);
            println!("first table live {:.2} s after start", loaded.elapsed().as_secs_f64());
            report_memory("at first table", &child);
            let mut cluster = Kube { server, n, secrets };
            measure(&mut cluster, http, n, changes, &phases);
            report_memory("after the changes", &child);
            // Every watch gets 410 Gone and lists again.
            let relists = Instant::now();
            cluster.server.expire();
            let probe_path = "/relisted";
            cluster.change(n / 2, probe_path);
            let mut probe = Probe::connect(http);
            let live = probe.until_live(&host(n / 2, n), probe_path, relists + ready_timeout);
            assert!(live, "no table after the relist");
            println!(
                "after a full relist: live again {:.2} s later",
                relists.elapsed().as_secs_f64()
            );
            report_memory("after a full relist", &child);
            drop(child);
            drop(runtime);
        }
        other => panic!("PROVIDER={other}: manifests or kube"),
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}
