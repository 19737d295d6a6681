//! The report: what a run measured, as text for people and as JSON for
//! pipelines. The JSON schema is documented in `docs/benchmarks.md`; fields
//! are only ever added (and `schema_version` raised when one changes meaning).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::record::{ErrorKind, Errors, Record};

pub const SCHEMA_VERSION: u32 = 1;

/// Quantiles kept in the JSON for plots (`percentiles`).
const CURVE: [f64; 16] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995, 0.99999,
    0.999995, 0.999999, 1.0,
];

/// The whole report of one `run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    #[serde(default)]
    pub tool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    #[serde(flatten)]
    pub summary: Summary,
    /// A reference measured in the same session (e.g. direct to the origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Summary>,
}

/// The settings of the run, so that a report explains itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    pub url: String,
    pub method: String,
    pub connections: u32,
    pub threads: u32,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Open-loop rate; `null` for closed loop.
    pub rate: Option<f64>,
    pub timeout_ms: u64,
    pub headers: Vec<String>,
    pub body_bytes: usize,
    pub insecure: bool,
    pub rounds: u32,
    pub reference_url: Option<String>,
    /// `auto`, `io-uring` or `epoll`.
    #[serde(default)]
    pub io_engine: String,
    /// `--connect-rate`: connections opened per second before the load.
    #[serde(default)]
    pub connect_rate: f64,
    /// `--tls-groups`, when given; absent means rustls's default list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_groups: Vec<String>,
}

/// The measurements of one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub url: String,
    /// Complete responses in the measurement window, whatever their status.
    pub requests: u64,
    /// Length of the measurement window (summed over rounds).
    pub duration_s: f64,
    /// `requests / duration_s`.
    pub rate: f64,
    #[serde(default)]
    pub bytes: u64,
    pub errors: Errors,
    #[serde(default)]
    pub errors_total: u64,
    #[serde(default)]
    pub status: Status,
    pub latency_us: Latency,
    /// The latency curve: (percentile, microseconds) pairs.
    #[serde(default)]
    pub percentiles: Vec<(f64, f64)>,
    /// Share of the load threads' time on CPU during the window (0..=1);
    /// near 1 means the generator, not the target, set the pace.
    #[serde(default)]
    pub generator_busy: f64,
    /// Errors opening connections (`errors.connect`), and errors of
    /// requests on open connections (every other kind).
    #[serde(default)]
    pub connect_errors: u64,
    #[serde(default)]
    pub request_errors: u64,
    /// Connections opened before the load started, and those whose
    /// opening failed (they connect again at their first request; the
    /// failures are not in `errors`, which counts only the window).
    #[serde(default)]
    pub connections_opened: u64,
    #[serde(default)]
    pub connections_failed: u64,
    /// The generator's own resident memory per opened connection, in
    /// bytes, from `VmRSS` before and after opening them (idle, no request
    /// sent yet).
    #[serde(default)]
    pub generator_rss_per_connection: f64,
}

/// Above this share of CPU the report warns that the generator may be the bottleneck.
pub const GENERATOR_SATURATED: f64 = 0.9;

/// Responses by status class.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Status {
    #[serde(rename = "1xx")]
    pub s1xx: u64,
    #[serde(rename = "2xx")]
    pub s2xx: u64,
    #[serde(rename = "3xx")]
    pub s3xx: u64,
    #[serde(rename = "4xx")]
    pub s4xx: u64,
    #[serde(rename = "5xx")]
    pub s5xx: u64,
    pub other: u64,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub p9999: f64,
    pub max: f64,
    #[serde(default)]
    pub min: f64,
    #[serde(default)]
    pub mean: f64,
    #[serde(default)]
    pub stdev: f64,
}

impl Summary {
    pub fn from_record(url: &str, record: &Record, duration_s: f64) -> Self {
        let h = &record.latency;
        let us = |v: f64| (v / 1000.0 * 10.0).round() / 10.0;
        let latency = if h.is_empty() {
            Latency::default()
        } else {
            Latency {
                p50: record.quantile_us(0.5),
                p90: record.quantile_us(0.9),
                p99: record.quantile_us(0.99),
                p999: record.quantile_us(0.999),
                p9999: record.quantile_us(0.9999),
                max: h.max() as f64 / 1000.0,
                min: h.min() as f64 / 1000.0,
                mean: us(h.mean()),
                stdev: us(h.stdev()),
            }
        };
        let percentiles = if h.is_empty() {
            Vec::new()
        } else {
            CURVE.iter().map(|q| (q * 100.0, record.quantile_us(*q))).collect()
        };
        let s = record.status;
        Summary {
            url: url.to_string(),
            requests: record.responses,
            duration_s,
            rate: if duration_s > 0.0 { record.responses as f64 / duration_s } else { 0.0 },
            bytes: record.bytes,
            errors: record.errors,
            errors_total: record.errors.total(),
            status: Status {
                other: s[0],
                s1xx: s[1],
                s2xx: s[2],
                s3xx: s[3],
                s4xx: s[4],
                s5xx: s[5],
            },
            latency_us: latency,
            percentiles,
            generator_busy: (record.generator_busy() * 1000.0).round() / 1000.0,
            connect_errors: record.errors.connect,
            request_errors: record.errors.total() - record.errors.connect,
            connections_opened: record.opened,
            connections_failed: record.open_failed,
            generator_rss_per_connection: if record.opened > 0 {
                (record.open_rss as f64 / record.opened as f64).round()
            } else {
                0.0
            },
        }
    }

    /// Human-readable lines.
    pub fn render(&self, out: &mut String) {
        let l = &self.latency_us;
        let _ = writeln!(
            out,
            "  requests  {}  in {:.2} s  = {:.1} req/s   bytes {} ({:.2} MB/s)",
            self.requests,
            self.duration_s,
            self.rate,
            self.bytes,
            self.bytes as f64 / self.duration_s.max(1e-9) / 1e6,
        );
        let _ = writeln!(
            out,
            "  latency   p50 {}  p90 {}  p99 {}  p99.9 {}  p99.99 {}  max {}  (mean {})",
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p999),
            ms(l.p9999),
            ms(l.max),
            ms(l.mean)
        );
        let st = &self.status;
        let _ = writeln!(
            out,
            "  status    2xx {}  3xx {}  4xx {}  5xx {}  other {}",
            st.s2xx,
            st.s3xx,
            st.s4xx,
            st.s5xx,
            st.other + st.s1xx
        );
        if self.errors.total() == 0 {
            let _ = writeln!(out, "  errors    none");
        } else {
            let list: Vec<String> = ErrorKind::ALL
                .iter()
                .filter(|k| self.errors.get(**k) > 0)
                .map(|k| format!("{} {}", k.label(), self.errors.get(*k)))
                .collect();
            let _ = writeln!(
                out,
                "  errors    {}: connect {}, requests {}  ({})",
                self.errors.total(),
                self.connect_errors,
                self.request_errors,
                list.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  opened    {} connections ({} failed), generator memory {:.1} KiB per connection",
            self.connections_opened,
            self.connections_failed,
            self.generator_rss_per_connection / 1024.0
        );
        let _ = writeln!(out, "  generator CPU busy {:.0}%", self.generator_busy * 100.0);
        if self.generator_busy > GENERATOR_SATURATED {
            let _ = writeln!(
                out,
                "  warning: the load threads were on CPU {:.0}% of the time: the generator may be \
                 the bottleneck (add --threads or CPUs)",
                self.generator_busy * 100.0
            );
        }
    }
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.config {
            let mode = match c.rate {
                Some(r) => format!("open loop at {r} req/s"),
                None => "closed loop".to_string(),
            };
            let _ = writeln!(
                out,
                "{} {}: {} connections, {} threads, {} s (warmup {} s), {}",
                c.method, c.url, c.connections, c.threads, c.duration_s, c.warmup_s, mode
            );
        }
        self.summary.render(&mut out);
        if let Some(r) = &self.reference {
            let _ = writeln!(out, "reference {}:", r.url);
            r.render(&mut out);
            if r.rate > 0.0 && r.latency_us.p99 > 0.0 {
                let _ = writeln!(
                    out,
                    "  ratio to reference: rate {:.3}  p99 {:.3}",
                    self.summary.rate / r.rate,
                    self.summary.latency_us.p99 / r.latency_us.p99
                );
            }
        }
        out
    }
}

/// Microseconds as a short human figure.
pub fn ms(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{us:.0}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_documented_top_level_fields() {
        let mut r = Record::new();
        for us in 1..=1000u64 {
            r.response(us * 1000, if us == 7 { 502 } else { 200 }, 100);
        }
        r.error(crate::record::ErrorKind::Read);
        let report = Report {
            schema_version: SCHEMA_VERSION,
            tool: "ringress-load".into(),
            config: Some(Config::default()),
            summary: Summary::from_record("http://x/", &r, 2.0),
            reference: None,
        };
        let v: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(v["requests"], 1000);
        assert_eq!(v["rate"], 500.0);
        assert_eq!(v["duration_s"], 2.0);
        assert_eq!(v["errors"]["read"], 1);
        assert_eq!(v["errors"]["status_5xx"], 1);
        assert_eq!(v["errors_total"], 2);
        assert_eq!(v["status"]["2xx"], 999);
        for k in ["p50", "p90", "p99", "p999", "p9999", "max"] {
            assert!(v["latency_us"][k].as_f64().unwrap() > 0.0, "{k}");
        }
        assert!((v["latency_us"]["max"].as_f64().unwrap() - 1000.0).abs() < 1.0);
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back.summary.requests, 1000);
        assert!(back.reference.is_none());
    }
}
