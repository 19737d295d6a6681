//! `ringress-load run`: sets up the request and TLS once, starts one pinned
//! monoio thread per `--threads` with its share of the connections, prints a
//! progress line every second, and merges the per-thread records.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio_rustls::TlsConnector;
use rustls_pki_types::ServerName;
use thiserror::Error;

use crate::cli::{RunArgs, Target};
use crate::client::{connection, Plan, Progress};
use crate::record::Record;
use crate::report::{Config, Report, Summary, SCHEMA_VERSION};
use crate::schedule::Schedule;
use crate::tls::{client_config, server_name, TlsSetupError};

/// Load starts this long after the threads are spawned, so that every
/// thread has built its runtime before the clock starts.
const START_DELAY: Duration = Duration::from_millis(50);

#[derive(Debug, Error)]
pub enum RunError {
    /// Bad input (exit code 2).
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error("reading {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("reference report {path}: {reason}")]
    Reference { path: PathBuf, reason: String },
    #[error("starting thread: {0}")]
    Thread(std::io::Error),
}

impl RunError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Input(_) | RunError::Tls(_) | RunError::File { .. } => 2,
            RunError::Reference { .. } => 2,
            RunError::Thread(_) => 1,
        }
    }
}

/// One target, ready to be measured.
struct Prepared {
    target: Target,
    addr: SocketAddr,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    request: Arc<Vec<u8>>,
}

/// Runs the whole `run` command and returns its report.
pub fn execute(args: &RunArgs) -> Result<Report, RunError> {
    let body = match &args.body_file {
        Some(p) => std::fs::read(p).map_err(|source| RunError::File { path: p.clone(), source })?,
        None => Vec::new(),
    };
    raise_open_files(args.connections)?;
    let target = prepare(args, &args.url, &body)?;
    let reference = args.reference_url.as_ref().map(|u| prepare(args, u, &body)).transpose()?;
    let mut rec = Record::new();
    let mut ref_rec = Record::new();
    let rounds = if reference.is_some() { args.rounds } else { 1 };
    for round in 0..rounds {
        if let Some(r) = &reference {
            ref_rec.merge(&measure(args, r, &label("reference", round, rounds))?);
        }
        rec.merge(&measure(args, &target, &label("target", round, rounds))?);
    }
    let window = args.duration.as_secs_f64() * f64::from(rounds);
    let mut reference_summary =
        reference.as_ref().map(|r| Summary::from_record(&r.target.url(), &ref_rec, window));
    if let Some(path) = &args.reference {
        reference_summary = Some(load_reference(path)?);
    }
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        tool: format!("ringress-load {}", env!("CARGO_PKG_VERSION")),
        config: Some(config_of(args, body.len(), rounds)),
        summary: Summary::from_record(&args.url.url(), &rec, window),
        reference: reference_summary,
    })
}

/// Descriptors a run needs besides its connections: runtimes, stdio,
/// the files it writes.
const SPARE_FILES: u64 = 64;

/// Raises the soft open-files limit (and the hard one where allowed) to
/// what `connections` need; an error names the limit when it cannot.
fn raise_open_files(connections: u32) -> Result<(), RunError> {
    use rlimit::Resource;
    let need = u64::from(connections) + SPARE_FILES;
    let (soft, hard) = Resource::NOFILE
        .get()
        .map_err(|e| RunError::Input(format!("reading the open-files limit: {e}")))?;
    if soft >= need {
        return Ok(());
    }
    let result = Resource::NOFILE.set(need, hard.max(need));
    result.map_err(|e| {
        RunError::Input(format!(
            "-c {connections} needs {need} open files, but the open-files limit \
             (RLIMIT_NOFILE) is {soft} (hard limit {hard}) and could not be raised: {e}; \
             raise it (ulimit -n {need}) or open fewer connections"
        ))
    })
}

fn label(what: &str, round: u32, rounds: u32) -> String {
    if rounds > 1 {
        format!("{what} {}/{rounds}", round + 1)
    } else {
        what.to_string()
    }
}

fn load_reference(path: &PathBuf) -> Result<Summary, RunError> {
    let err = |reason: String| RunError::Reference { path: path.clone(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    Ok(report.summary)
}

fn config_of(args: &RunArgs, body_bytes: usize, rounds: u32) -> Config {
    Config {
        url: args.url.url(),
        method: args.method.clone(),
        connections: args.connections,
        threads: args.threads.min(args.connections),
        duration_s: args.duration.as_secs_f64(),
        warmup_s: args.warmup.as_secs_f64(),
        rate: args.rate,
        timeout_ms: args.timeout.as_millis() as u64,
        headers: args.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        body_bytes,
        insecure: args.insecure,
        rounds,
        reference_url: args.reference_url.as_ref().map(Target::url),
        io_engine: match args.io_engine {
            crate::Engine::Auto => "auto",
            crate::Engine::IoUring => "io-uring",
            crate::Engine::Epoll => "epoll",
        }
        .to_string(),
        connect_rate: args.connect_rate,
        tls_groups: args.tls_groups.iter().map(|g| g.name().to_string()).collect(),
    }
}

fn prepare(args: &RunArgs, target: &Target, body: &[u8]) -> Result<Prepared, RunError> {
    let addr = target.resolve().map_err(RunError::Input)?;
    let tls = if target.tls {
        let config = client_config(
            args.insecure,
            args.cacert.as_deref(),
            !args.no_tls_resume,
            &args.tls_groups,
        )?;
        let name = server_name(args.sni.as_deref().unwrap_or(&target.host))?;
        Some((TlsConnector::from(Arc::new(config)), name))
    } else {
        None
    };
    Ok(Prepared {
        target: target.clone(),
        addr,
        tls,
        request: Arc::new(build_request(&args.method, target, &args.headers, body)),
    })
}

/// The request bytes, built once: request line, Host (unless given), the
/// extra headers, Content-Length when there is a body or the method
/// usually has one, then the body.
pub fn build_request(
    method: &str,
    target: &Target,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut r = Vec::with_capacity(256 + body.len());
    for part in [method, " ", &target.path, " HTTP/1.1\r\n"] {
        r.extend_from_slice(part.as_bytes());
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        r.extend_from_slice(b"Host: ");
        r.extend_from_slice(target.authority.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        for part in [k.as_str(), ": ", v.as_str(), "\r\n"] {
            r.extend_from_slice(part.as_bytes());
        }
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        r.extend_from_slice(b"Content-Length: ");
        r.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    r
}

/// Measures one target: warmup then the window; returns the merged record.
fn measure(args: &RunArgs, p: &Prepared, what: &str) -> Result<Record, RunError> {
    let threads = args.threads.min(args.connections);
    let open_from = Instant::now() + START_DELAY;
    let open_interval = Duration::from_secs_f64(1.0 / args.connect_rate);
    // Every connection has had its turn to open (the last one a little
    // time to finish) before the load starts.
    let start = open_from + open_interval.mul_f64(f64::from(args.connections)) + START_DELAY;
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;
    // The memory the connections hold, tasks included: resident set before
    // the load threads start, and when every connection has opened.
    let rss_before = crate::record::rss_bytes();
    let mut handles = Vec::new();
    let mut progress = Vec::new();
    let mut first_conn = 0;
    for t in 0..threads {
        let conns = args.connections / threads + u32::from(t < args.connections % threads);
        let live = Arc::new(Progress::default());
        progress.push(live.clone());
        let job = ThreadJob {
            index: t as usize,
            pin: !args.no_pin,
            addr: p.addr,
            tls: p.tls.clone(),
            request: p.request.clone(),
            head_request: args.method == "HEAD",
            timeout: args.timeout,
            times: (start, measure_from, end),
            opening: (open_from, open_interval),
            connections: (first_conn, conns),
            total_connections: args.connections,
            rate: args.rate,
            progress: live,
            engine: args.io_engine,
        };
        first_conn += conns;
        let h = std::thread::Builder::new()
            .name(format!("load-{t}"))
            .spawn(move || job.run())
            .map_err(RunError::Thread)?;
        handles.push(h);
    }
    let rss = std::thread::Builder::new()
        .name("rss".into())
        .spawn(move || {
            std::thread::sleep(start.saturating_duration_since(Instant::now()));
            Some(crate::record::rss_bytes()?.saturating_sub(rss_before?))
        })
        .map_err(RunError::Thread)?;
    if !args.quiet {
        show_progress(what, &progress, start, measure_from, end);
    }
    let mut merged = Record::new();
    merged.open_rss = rss.join().ok().flatten().unwrap_or(0);
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => merged.merge(&r),
            Ok(Err(e)) => return Err(RunError::Thread(e)),
            Err(_) => return Err(RunError::Thread(std::io::Error::other("load thread panicked"))),
        }
    }
    Ok(merged)
}

/// Prints one progress line per second on stderr until `end`.
fn show_progress(
    what: &str,
    progress: &[Arc<Progress>],
    start: Instant,
    from: Instant,
    end: Instant,
) {
    let sum = |f: fn(&Progress) -> u64| progress.iter().map(|p| f(p)).sum::<u64>();
    let mut last = (0u64, Instant::now());
    let mut next = start + Duration::from_secs(1);
    while next <= end + Duration::from_millis(100) {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        let done = sum(|p| p.responses.load(Ordering::Relaxed));
        let errors = sum(|p| p.errors.load(Ordering::Relaxed));
        let rate = (done - last.0) as f64 / now.duration_since(last.1).as_secs_f64();
        let phase = if now < from { "warmup" } else { "measure" };
        eprintln!(
            "[{what} {phase} {:>4.0}s] {done} responses, {rate:.0} req/s, {errors} errors",
            now.saturating_duration_since(start).as_secs_f64()
        );
        last = (done, now);
        next += Duration::from_secs(1);
    }
    let _ = std::io::stderr().flush();
}

/// Everything one load thread needs (all `Send`).
struct ThreadJob {
    index: usize,
    pin: bool,
    addr: SocketAddr,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    request: Arc<Vec<u8>>,
    head_request: bool,
    timeout: Duration,
    times: (Instant, Instant, Instant),
    /// When the first connection opens, and the time between two.
    opening: (Instant, Duration),
    /// First global connection index and how many this thread runs.
    connections: (u32, u32),
    total_connections: u32,
    rate: Option<f64>,
    progress: Arc<Progress>,
    engine: crate::Engine,
}

impl ThreadJob {
    fn run(self) -> std::io::Result<Record> {
        if self.pin {
            crate::pin_current_thread(self.index);
        }
        let mut rt = crate::runtime(self.engine)?;
        rt.block_on(async move {
            let (start, from, end) = self.times;
            let plan = Rc::new(Plan {
                addr: self.addr,
                tls: self.tls,
                request: Rc::new(self.request.as_ref().clone()),
                head_request: self.head_request,
                timeout: self.timeout,
                open_from: monoio::time::Instant::from_std(self.opening.0),
                open_interval: self.opening.1,
                start: monoio::time::Instant::from_std(start),
                measure_from: monoio::time::Instant::from_std(from),
                end: monoio::time::Instant::from_std(end),
            });
            let record = Rc::new(std::cell::RefCell::new(Record::new()));
            // The thread's CPU time over the window, read at its two ends.
            let cpu = {
                let record = record.clone();
                let (from, end) = (plan.measure_from, plan.end);
                monoio::spawn(async move {
                    monoio::time::sleep_until(from).await;
                    let Some(a) = crate::record::thread_cpu_s() else { return };
                    monoio::time::sleep_until(end).await;
                    let Some(b) = crate::record::thread_cpu_s() else { return };
                    let mut r = record.borrow_mut();
                    r.cpu_s = b - a;
                    r.thread_s = end.saturating_duration_since(from).as_secs_f64();
                })
            };
            let (first, count) = self.connections;
            let tasks: Vec<_> = (first..first + count)
                .map(|g| {
                    let schedule = self.rate.map(|r| Schedule::new(r, self.total_connections, g));
                    monoio::spawn(connection(
                        plan.clone(),
                        g,
                        record.clone(),
                        self.progress.clone(),
                        schedule,
                    ))
                })
                .collect();
            for t in tasks {
                t.await;
            }
            cpu.await;
            let r = record.borrow().clone();
            Ok(r)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_target;

    #[test]
    fn request_has_host_headers_and_length() {
        let t = parse_target("http://127.0.0.1:8080/p?q=1").unwrap();
        let r = build_request("POST", &t, &[("X-A".into(), "1".into())], b"hi");
        assert_eq!(
            r,
            b"POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nhi"
        );
        let r = build_request("GET", &t, &[("host".into(), "bench.test".into())], b"");
        assert_eq!(r, b"GET /p?q=1 HTTP/1.1\r\nhost: bench.test\r\n\r\n");
    }
}
