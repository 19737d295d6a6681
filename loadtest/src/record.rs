//! What one thread records: a latency histogram (nanoseconds) and counters.
//! Each thread owns its [`Record`]; they are merged once, at the end.
//! [`thread_cpu_s`] reads a thread's own CPU time, so a report can say
//! whether the generator itself was the bottleneck.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency recorded exactly; longer ones saturate here.
pub const MAX_LATENCY_NS: u64 = 100_000_000_000;

/// The kinds of failure a run counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Connection refused, unreachable, reset during connect, TLS handshake
    /// failed, or no connection within `--timeout`.
    Connect,
    /// No complete response within `--timeout`.
    Timeout,
    /// Read failed, or the connection closed before the response was complete.
    Read,
    /// Writing the request failed.
    Write,
    /// The answer is not HTTP/1.1 (bad head, bad length, bad chunking).
    Parse,
    /// A complete response with a 4xx status.
    Status4xx,
    /// A complete response with a 5xx status.
    Status5xx,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Read,
        ErrorKind::Write,
        ErrorKind::Parse,
        ErrorKind::Status4xx,
        ErrorKind::Status5xx,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Read => "read",
            ErrorKind::Write => "write",
            ErrorKind::Parse => "parse",
            ErrorKind::Status4xx => "status_4xx",
            ErrorKind::Status5xx => "status_5xx",
        }
    }
}

/// Error counts by kind, as they appear in the JSON report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errors {
    pub connect: u64,
    pub timeout: u64,
    pub read: u64,
    pub write: u64,
    pub parse: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
}

impl Errors {
    pub fn get(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::Connect => self.connect,
            ErrorKind::Timeout => self.timeout,
            ErrorKind::Read => self.read,
            ErrorKind::Write => self.write,
            ErrorKind::Parse => self.parse,
            ErrorKind::Status4xx => self.status_4xx,
            ErrorKind::Status5xx => self.status_5xx,
        }
    }

    fn slot(&mut self, kind: ErrorKind) -> &mut u64 {
        match kind {
            ErrorKind::Connect => &mut self.connect,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::Read => &mut self.read,
            ErrorKind::Write => &mut self.write,
            ErrorKind::Parse => &mut self.parse,
            ErrorKind::Status4xx => &mut self.status_4xx,
            ErrorKind::Status5xx => &mut self.status_5xx,
        }
    }

    pub fn total(&self) -> u64 {
        ErrorKind::ALL.iter().map(|k| self.get(*k)).sum()
    }

    fn add(&mut self, other: &Errors) {
        for k in ErrorKind::ALL {
            *self.slot(k) += other.get(k);
        }
    }
}

/// One thread's (or, merged, one run's) measurements.
#[derive(Debug, Clone)]
pub struct Record {
    /// Latency of every complete response, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Complete responses, whatever their status.
    pub responses: u64,
    /// Bytes received (heads and bodies).
    pub bytes: u64,
    pub errors: Errors,
    /// Responses by status class: index 1 = 1xx … 5 = 5xx, 0 = other.
    pub status: [u64; 6],
    /// CPU time the load threads used during the window, in seconds.
    pub cpu_s: f64,
    /// Window length times the number of load threads, in seconds.
    pub thread_s: f64,
    /// Connections opened before the load started, and those whose
    /// opening failed (they connect again at their first request).
    pub opened: u64,
    pub open_failed: u64,
    /// The generator's resident memory grown by opening the connections,
    /// in bytes (measured by `run`; summed over rounds with `opened`).
    pub open_rss: u64,
}

impl Default for Record {
    fn default() -> Self {
        Self::new()
    }
}

impl Record {
    pub fn new() -> Self {
        Record {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
                .expect("static histogram bounds are valid"),
            responses: 0,
            bytes: 0,
            errors: Errors::default(),
            status: [0; 6],
            cpu_s: 0.0,
            thread_s: 0.0,
            opened: 0,
            open_failed: 0,
            open_rss: 0,
        }
    }

    /// A complete response: its latency, status and size.
    pub fn response(&mut self, latency_ns: u64, status: u16, bytes: u64) {
        self.latency.saturating_record(latency_ns.max(1));
        self.responses += 1;
        self.bytes += bytes;
        let class = usize::from(status / 100);
        self.status[if (1..=5).contains(&class) { class } else { 0 }] += 1;
        match class {
            4 => self.errors.status_4xx += 1,
            5 => self.errors.status_5xx += 1,
            _ => {}
        }
    }

    pub fn error(&mut self, kind: ErrorKind) {
        *self.errors.slot(kind) += 1;
    }

    /// Adds another record into this one.
    pub fn merge(&mut self, other: &Record) {
        self.latency.add(&other.latency).expect("histograms share the same bounds");
        self.responses += other.responses;
        self.bytes += other.bytes;
        self.errors.add(&other.errors);
        self.cpu_s += other.cpu_s;
        self.thread_s += other.thread_s;
        self.opened += other.opened;
        self.open_failed += other.open_failed;
        self.open_rss += other.open_rss;
        for (a, b) in self.status.iter_mut().zip(other.status) {
            *a += b;
        }
    }

    /// Share of the load threads' time spent on CPU during the window.
    pub fn generator_busy(&self) -> f64 {
        if self.thread_s > 0.0 {
            self.cpu_s / self.thread_s
        } else {
            0.0
        }
    }

    /// The latency at quantile `q` (0..=1), in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Resident memory of this process in bytes (`VmRSS` of
/// `/proc/self/status`); `None` where that file is not available.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (user + system) of the calling thread, in seconds, from
/// `/proc/thread-self/stat`; `None` where that file is not available.
pub fn thread_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the ")" closing the command name; utime is the 12th.
    let rest = stat.rsplit_once(") ")?.1;
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture ringress runs on.
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1..=10_000 microseconds, one each: every percentile is known.
    fn uniform() -> Record {
        let mut r = Record::new();
        for us in 1..=10_000u64 {
            r.response(us * 1000, 200, 10);
        }
        r
    }

    fn close(a: f64, b: f64) -> bool {
        // hdrhistogram with 3 significant digits: within 0.1 %.
        (a - b).abs() <= b * 0.001 + 0.001
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let r = uniform();
        for (q, want) in
            [(0.5, 5000.0), (0.9, 9000.0), (0.99, 9900.0), (0.999, 9990.0), (1.0, 10_000.0)]
        {
            let got = r.quantile_us(q);
            assert!(close(got, want), "q {q}: got {got}, want {want}");
        }
        assert_eq!(r.responses, 10_000);
        assert_eq!(r.bytes, 100_000);
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let mut a = Record::new();
        let mut b = Record::new();
        for us in 1..=10_000u64 {
            if us % 3 == 0 { &mut a } else { &mut b }.response(us * 1000, 200, 10);
        }
        b.error(ErrorKind::Timeout);
        b.response(1000, 503, 0);
        a.error(ErrorKind::Connect);
        let mut merged = Record::new();
        merged.merge(&a);
        merged.merge(&b);
        let mut whole = uniform();
        whole.response(1000, 503, 0);
        for q in [0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(merged.quantile_us(q), whole.quantile_us(q), "q {q}");
        }
        assert_eq!(merged.responses, 10_001);
        assert_eq!(merged.status[2], 10_000);
        assert_eq!(merged.status[5], 1);
        assert_eq!(
            (merged.errors.connect, merged.errors.timeout, merged.errors.status_5xx),
            (1, 1, 1)
        );
        assert_eq!(merged.errors.total(), 3);
    }

    #[test]
    fn a_bimodal_tail_shows_at_the_right_percentile() {
        // 99 % at 100 µs, 1 % at 50 ms: p99 is still fast, p99.9 is the stall.
        let mut r = Record::new();
        for i in 0..100_000u64 {
            r.response(if i % 100 == 0 { 50_000_000 } else { 100_000 }, 200, 0);
        }
        assert!(close(r.quantile_us(0.99), 100.0));
        assert!(close(r.quantile_us(0.999), 50_000.0));
        assert!(close(r.quantile_us(1.0), 50_000.0));
    }

    #[test]
    fn thread_cpu_time_grows_with_work() {
        let before = thread_cpu_s().expect("/proc/thread-self/stat is readable");
        let mut x = 0u64;
        while thread_cpu_s().unwrap_or(before) < before + 0.02 {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
        }
        assert!(thread_cpu_s().unwrap() >= before + 0.02, "{x}");
    }

    #[test]
    fn overlong_latencies_saturate() {
        let mut r = Record::new();
        r.response(u64::MAX, 200, 0);
        assert!(close(r.quantile_us(1.0), MAX_LATENCY_NS as f64 / 1000.0));
    }
}
