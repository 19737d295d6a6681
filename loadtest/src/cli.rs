//! Command-line flags and the small parsers behind them. Every parser returns
//! a message naming what was wrong; clap turns it into exit code 2.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::Engine;

/// Closed- and open-loop HTTP/1.1 load generator, benchmark upstream and
/// regression gate.
#[derive(Debug, Parser)]
#[command(name = "ringress-load", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive load at URL and report throughput, errors and latency.
    Run(Box<RunArgs>),
    /// Serve as a fast benchmark origin (thread per core, keep-alive).
    Upstream(UpstreamArgs),
    /// Compare two JSON reports; exit 1 when CURRENT regressed beyond the threshold.
    Compare(CompareArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Target, `http://host[:port]/path` or `https://…`.
    #[arg(value_parser = parse_target)]
    pub url: Target,
    /// Keep-alive connections in total, spread over the threads.
    #[arg(short = 'c', long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub connections: u32,
    /// Threads, each a pinned monoio runtime.
    #[arg(short = 't', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
    /// Length of the measurement (`10s`, `500ms`, `2m`).
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load applied before the measurement starts; not recorded.
    #[arg(short = 'w', long, default_value = "0s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Open loop at this total rate (requests per second, `10000` or `10k`);
    /// latency counted from each request's intended send time. Without it,
    /// closed loop.
    #[arg(short = 'R', long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Connections opened per second before the load starts (each
    /// connection's first connect waits its turn; reconnects are not
    /// limited). The load starts once every connection has had its turn.
    #[arg(long, default_value = "5000", value_parser = parse_rate)]
    pub connect_rate: f64,
    /// Extra request header, `'Name: value'`; repeatable. A `Host` header
    /// replaces the one taken from the URL.
    #[arg(short = 'H', long = "header", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Request method.
    #[arg(short = 'm', long, default_value = "GET", value_parser = parse_method)]
    pub method: String,
    /// File whose contents are sent as the request body.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Time allowed to connect and for each response.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// HTTPS: do not verify the server's certificate.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// HTTPS: PEM file of CA certificates to trust (default: the system bundle).
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// HTTPS: server name sent in SNI and verified (default: the URL's host).
    #[arg(long)]
    pub sni: Option<String>,
    /// HTTPS: never resume TLS sessions, so every new connection is a full
    /// handshake (with `-H 'Connection: close'`: a handshake benchmark).
    #[arg(long)]
    pub no_tls_resume: bool,
    /// HTTPS: key-exchange groups to offer, in order of preference
    /// (comma-separated). Default: rustls's list (x25519, secp256r1,
    /// secp384r1, x25519mlkem768), whose first entry gets the key share.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub tls_groups: Vec<KxGroup>,
    /// Do not pin threads to CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a latency-by-percentile plot (SVG) to this file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Measure this URL too, in the same session, alternating with the
    /// target; stored as `reference` in the report.
    #[arg(long, value_parser = parse_target, conflicts_with = "reference")]
    pub reference_url: Option<Target>,
    /// Attach the report in this JSON file as the `reference`.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// With `--reference-url`: alternations (reference, target, reference, …).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// No live progress line.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// I/O engine of the load threads. epoll by default: on the machine
    /// the benchmarks are written for it has driven targets as hard as
    /// `wrk` in every run; io_uring has been 0.77–1.06× (docs/benchmarks.md).
    #[arg(long, value_enum, default_value_t = Engine::Epoll)]
    pub io_engine: Engine,
}

/// A TLS key-exchange group `--tls-groups` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KxGroup {
    X25519,
    Secp256r1,
    Secp384r1,
    X25519mlkem768,
}

impl KxGroup {
    /// The name as written on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            KxGroup::X25519 => "x25519",
            KxGroup::Secp256r1 => "secp256r1",
            KxGroup::Secp384r1 => "secp384r1",
            KxGroup::X25519mlkem768 => "x25519mlkem768",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct UpstreamArgs {
    /// Address to listen on, every thread with its own SO_REUSEPORT socket.
    #[arg(short = 'l', long, value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// Response body size in bytes (`x-body-size` overrides it per request).
    #[arg(short = 'b', long, default_value_t = 12)]
    pub body_size: usize,
    /// Delay before each response (`x-delay-ms` overrides it per request).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub delay: Duration,
    /// Threads, each pinned and with its own listener.
    #[arg(short = 't', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
    /// Do not pin threads to CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// I/O engine of the serving threads.
    #[arg(long, value_enum, default_value_t = Engine::Auto)]
    pub io_engine: Engine,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The report taken as the baseline.
    pub baseline: PathBuf,
    /// The report under judgement.
    pub current: PathBuf,
    /// Largest tolerated regression, in percent, of throughput and of p99
    /// (of their ratios to the reference when both reports carry one).
    #[arg(long, default_value_t = 10.0, value_parser = parse_percent)]
    pub max_regression: f64,
}

/// Where `run` sends its requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub tls: bool,
    /// Host as written in the URL (brackets removed from IPv6).
    pub host: String,
    pub port: u16,
    /// `host[:port]` for the Host header, as written in the URL.
    pub authority: String,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Target {
    /// Resolves the host once, at start (never on the request path).
    pub fn resolve(&self) -> Result<SocketAddr, String> {
        let addrs = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?;
        let addrs: Vec<SocketAddr> = addrs.collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| format!("{} resolves to no address", self.host))
    }

    pub fn url(&self) -> String {
        format!("{}://{}{}", if self.tls { "https" } else { "http" }, self.authority, self.path)
    }
}

/// `http://host[:port][/path]` or `https://…`.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let (tls, rest) = if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else {
        return Err(format!("URL {s:?} must start with http:// or https://"));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("URL {s:?} has no usable host"));
    }
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or_else(|| format!("URL {s:?}: unclosed '['"))?;
        let port = match &v6[end + 1..] {
            "" => default_port,
            p => parse_port(p.strip_prefix(':').ok_or_else(|| format!("URL {s:?}: bad port"))?, s)?,
        };
        (v6[..end].to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), parse_port(p, s)?),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("URL {s:?} has an empty host or a space/control byte in its path"));
    }
    Ok(Target { tls, host, port, authority: authority.to_string(), path })
}

fn parse_port(p: &str, url: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("URL {url:?}: port {p:?} is not a number in 1..=65535"))
}

/// `10s`, `500ms`, `2m`, `1h`, `250us`, `1.5s`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("duration {s:?}: expected a number with a unit, like 10s, 500ms or 2m")
    })?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("duration {s:?}: unknown unit {unit:?} (use us, ms, s, m or h)")),
    };
    let secs = value * scale;
    if !secs.is_finite() || secs > 7.0 * 86400.0 {
        return Err(format!("duration {s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `20000`, `20k`, `1.5M` requests per second; must be positive.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1e3),
        Some(b'M') => (&t[..t.len() - 1], 1e6),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("rate {s:?}: expected requests per second, like 20000 or 20k"))?;
    let v = v * scale;
    if !(v.is_finite() && v > 0.0 && v <= 1e9) {
        return Err(format!("rate {s:?} must be above 0 and at most 1e9"));
    }
    Ok(v)
}

/// `'Name: value'`; the name must be a token, the value free of CR/LF.
pub fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) =
        s.split_once(':').ok_or_else(|| format!("header {s:?}: expected 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!("header {s:?}: {name:?} is not a valid header name"));
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("header {s:?}: the value contains CR, LF or NUL"));
    }
    Ok((name.to_string(), value.to_string()))
}

pub fn parse_method(s: &str) -> Result<String, String> {
    if s.is_empty() || !s.bytes().all(is_token_byte) {
        return Err(format!("method {s:?} is not a valid HTTP token"));
    }
    Ok(s.to_string())
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| format!("address {s:?}: expected IP:PORT, like 127.0.0.1:8000"))
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("threshold {s:?}: expected a percentage, like 5 or 5%"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("threshold {s:?} must be 0 or more"));
    }
    Ok(v)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn rates_accept_suffixes_and_refuse_zero() {
        assert_eq!(parse_rate("20k"), Ok(20_000.0));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000.0));
        assert_eq!(parse_rate("100"), Ok(100.0));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        let t = parse_target("http://127.0.0.1:8080/a/b?c=d").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (false, "127.0.0.1", 8080, "/a/b?c=d")
        );
        assert_eq!(t.authority, "127.0.0.1:8080");
        let t = parse_target("https://example.test").unwrap();
        assert_eq!((t.tls, t.port, t.path.as_str()), (true, 443, "/"));
        let t = parse_target("http://[::1]:9000?x").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("::1", 9000, "/?x"));
        assert!(parse_target("ftp://x").is_err());
        assert!(parse_target("http://:80/").is_err());
        assert!(parse_target("http://host:99999/").is_err());
        assert!(parse_target("http://host/a b").is_err());
    }

    #[test]
    fn headers_need_a_token_name_and_a_clean_value() {
        assert_eq!(parse_header("X-A:  b c "), Ok(("X-A".into(), "b c".into())));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
    }
}
