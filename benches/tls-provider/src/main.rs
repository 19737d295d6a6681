//! Server-side cost of rustls with the `ring` and the `aws-lc-rs` provider.
//!
//! Produces the "Crypto provider" table of `docs/benchmarks.md`:
//!
//! ```sh
//! cargo build --release --manifest-path benches/tls-provider/Cargo.toml
//! taskset -c 1 benches/tls-provider/target/release/tls-provider-bench [--seconds S] [--rounds N]
//! ```
//!
//! A rustls server and a rustls client run in one thread and talk through
//! memory (no sockets, no kernel), so that the server's work can be counted
//! alone: the clock runs only inside the server's `read_tls`,
//! `process_new_packets`, `write_tls` and its plaintext reads and writes
//! (and `ServerConnection::new`). The clock is the monotonic wall clock, one
//! `Instant` pair per server step, with the pair's own cost measured at start
//! and subtracted, then scaled by the share of the case's wall time the
//! thread was on a CPU (the scheduler's own count), so that time taken by
//! other processes is not counted as the server's.
//!
//! Cases: full handshakes with an ECDSA P-256 and an RSA 2048 certificate,
//! TLS 1.3 and TLS 1.2 each; request/response exchanges (100 bytes in, 200
//! bytes out) on an established TLS 1.3 connection; bulk transfer in 16 KiB
//! records, the server encrypting, then decrypting. Every case runs for
//! `--seconds` (default 3) of wall time, the client's work included, in
//! `--rounds` (default 3) rounds; a round runs each case with both providers
//! back to back, the provider that goes first alternating by round so that
//! a drift of the machine does not favour one. The table gives the median
//! over rounds, the range, and the ratio of the medians. Half a second of
//! handshakes with each provider, not counted, warms the machine up first.
//!
//! Each provider is given explicitly to both ends (`builder_with_provider`);
//! no process default is installed, so a case cannot quietly use the other
//! one. Handshakes are all full: the client's resumption is disabled; the
//! server keeps rustls' defaults (X25519 first, default suites, its session
//! cache and two TLS 1.3 tickets per handshake, which it pays for). The
//! client checks no certificate chain (there is no CA here) but verifies the
//! server's handshake signature with the provider under test, as a real
//! client does.
//!
//! Certificates are generated at start with rcgen's aws-lc-rs backend, the
//! only rcgen backend that can generate RSA keys: no files, no network, no
//! `openssl` binary needed.

use std::error::Error;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, DigitallySignedStruct, ServerConfig,
    ServerConnection, SideData, SignatureScheme, SupportedProtocolVersion,
};

type BoxError = Box<dyn Error + Send + Sync>;

const USAGE: &str = "usage: tls-provider-bench [--seconds S] [--rounds N]";

/// A keep-alive request, about the size of a small HTTP/1.1 GET.
const REQUEST: [u8; 100] = [b'q'; 100];
/// Its response, about the size of a small HTTP/1.1 200 with a short body.
const RESPONSE: [u8; 200] = [b'r'; 200];
/// One full TLS record of application data.
const BULK: [u8; 16 * 1024] = [b'b'; 16 * 1024];
/// A handshake that needs more flights than this is broken, not slow.
const MAX_FLIGHTS: usize = 16;

#[derive(Clone, Copy, PartialEq)]
enum Provider {
    Ring,
    AwsLcRs,
}

impl Provider {
    fn label(self) -> &'static str {
        match self {
            Provider::Ring => "ring",
            Provider::AwsLcRs => "aws-lc-rs",
        }
    }

    fn build(self) -> Arc<CryptoProvider> {
        Arc::new(match self {
            Provider::Ring => rustls::crypto::ring::default_provider(),
            Provider::AwsLcRs => rustls::crypto::aws_lc_rs::default_provider(),
        })
    }
}

#[derive(Clone, Copy)]
enum KeyKind {
    EcdsaP256,
    Rsa2048,
}

#[derive(Clone, Copy)]
enum Version {
    Tls13,
    Tls12,
}

impl Version {
    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            Version::Tls13 => &rustls::version::TLS13,
            Version::Tls12 => &rustls::version::TLS12,
        }
    }
}

/// One row of the table: what the server does, repeated for the case's time.
#[derive(Clone, Copy)]
enum Case {
    Handshake(KeyKind, Version),
    KeepAlive,
    Encrypt,
    Decrypt,
}

const CASES: [Case; 7] = [
    Case::Handshake(KeyKind::EcdsaP256, Version::Tls13),
    Case::Handshake(KeyKind::EcdsaP256, Version::Tls12),
    Case::Handshake(KeyKind::Rsa2048, Version::Tls13),
    Case::Handshake(KeyKind::Rsa2048, Version::Tls12),
    Case::KeepAlive,
    Case::Encrypt,
    Case::Decrypt,
];

impl Case {
    fn label(self) -> &'static str {
        use {KeyKind::*, Version::*};
        match self {
            Case::Handshake(EcdsaP256, Tls13) => "full handshakes/s, ECDSA P-256, TLS 1.3",
            Case::Handshake(EcdsaP256, Tls12) => "full handshakes/s, ECDSA P-256, TLS 1.2",
            Case::Handshake(Rsa2048, Tls13) => "full handshakes/s, RSA 2048, TLS 1.3",
            Case::Handshake(Rsa2048, Tls12) => "full handshakes/s, RSA 2048, TLS 1.2",
            Case::KeepAlive => {
                "keep-alive exchanges/s (≈100 B request in, ≈200 B response out), TLS 1.3"
            }
            Case::Encrypt => "bulk, server encrypting, 16 KiB writes, MB/s",
            Case::Decrypt => "bulk, server decrypting, 16 KiB records, MB/s",
        }
    }
}

/// A self-signed certificate and its key, generated at start.
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    fn generate(kind: KeyKind) -> Result<Self, BoxError> {
        let key = match kind {
            KeyKind::EcdsaP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
            KeyKind::Rsa2048 => {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?
            }
        };
        let cert = rcgen::CertificateParams::new(vec!["bench".to_owned()])?.self_signed(&key)?;
        Ok(Identity {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        })
    }
}

/// The client's verifier: any certificate is accepted (the bench has no CA),
/// but handshake signatures are checked with the provider under test, so
/// the client does the work a real one does and a bad signature still fails.
#[derive(Debug)]
struct SignatureOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for SignatureOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Both ends' configurations for one provider, one certificate, one version.
struct Pair {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

impl Pair {
    fn new(provider: Provider, identity: &Identity, version: Version) -> Result<Self, BoxError> {
        let provider = provider.build();
        let versions = [version.rustls()];
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?
            .with_no_client_auth()
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())?;
        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SignatureOnly(provider)))
            .with_no_client_auth();
        client.resumption = Resumption::disabled();
        Ok(Pair { server: Arc::new(server), client: Arc::new(client) })
    }
}

/// Time spent inside the server's calls.
#[derive(Default)]
struct ServerClock {
    spent: Duration,
    sections: u64,
}

impl ServerClock {
    fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let result = f();
        self.spent += start.elapsed();
        self.sections += 1;
        result
    }

    /// Seconds of server work: the time counted less `overhead` (the cost
    /// of an empty timed section) for every section.
    fn seconds(&self, overhead: f64) -> f64 {
        (self.spent.as_secs_f64() - overhead * self.sections as f64).max(f64::MIN_POSITIVE)
    }
}

/// The cost of an empty timed section, in seconds: the least of a few
/// batches, the batches above it being the ones something interrupted.
fn clock_overhead() -> f64 {
    (0..5)
        .map(|_| {
            let mut clock = ServerClock::default();
            for _ in 0..200_000 {
                clock.time(|| std::hint::black_box(()));
            }
            clock.spent.as_secs_f64() / clock.sections as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Hands TLS bytes to a connection, processes them and reads the plaintext
/// they carried into `plain`; returns how many plaintext bytes that was.
fn feed<S: SideData>(
    conn: &mut ConnectionCommon<S>,
    mut wire: &[u8],
    plain: &mut [u8],
) -> Result<usize, BoxError> {
    let mut received = 0;
    while !wire.is_empty() {
        conn.read_tls(&mut wire)?;
        conn.process_new_packets()?;
        loop {
            match conn.reader().read(plain) {
                Ok(0) => break,
                Ok(n) => received += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(received)
}

/// Takes every TLS byte the connection has to send into `wire`.
fn flush<S: SideData>(conn: &mut ConnectionCommon<S>, wire: &mut Vec<u8>) -> io::Result<()> {
    wire.clear();
    while conn.wants_write() {
        conn.write_tls(wire)?;
    }
    Ok(())
}

/// Reusable buffers: the bytes in flight and a plaintext sink.
struct Buffers {
    wire: Vec<u8>,
    plain: Vec<u8>,
}

/// One full handshake, flight by flight, the server's side timed.
fn handshake(
    pair: &Pair,
    clock: &mut ServerClock,
    bufs: &mut Buffers,
) -> Result<(ServerConnection, ClientConnection), BoxError> {
    let name = ServerName::try_from("bench")?;
    let mut client = ClientConnection::new(pair.client.clone(), name)?;
    let mut server = clock.time(|| ServerConnection::new(pair.server.clone()))?;
    for _ in 0..MAX_FLIGHTS {
        flush(&mut client, &mut bufs.wire)?;
        if !bufs.wire.is_empty() {
            clock.time(|| feed(&mut server, &bufs.wire, &mut bufs.plain))?;
        }
        clock.time(|| flush(&mut server, &mut bufs.wire))?;
        if !bufs.wire.is_empty() {
            feed(&mut client, &bufs.wire, &mut bufs.plain)?;
        }
        let settled = !client.wants_write() && !server.wants_write();
        if settled && !client.is_handshaking() && !server.is_handshaking() {
            return Ok((server, client));
        }
    }
    Err(format!("handshake not finished after {MAX_FLIGHTS} flights").into())
}

fn expect(what: &str, got: usize, want: usize) -> Result<(), BoxError> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: {got} plaintext bytes arrived, {want} were sent").into())
    }
}

/// Nanoseconds this thread has spent on a CPU, from the scheduler's own
/// accounting (first field of `/proc/thread-self/schedstat`); `None` where
/// the kernel does not provide it.
fn on_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// What one case measured.
struct Measured {
    /// Per second of server time, in the case's unit.
    rate: f64,
    /// The share of the case's wall time this thread was on a CPU.
    on_cpu: f64,
}

/// Runs one case with one provider for `seconds` of wall time.
///
/// The server's sections are timed by the wall clock; when another process
/// takes the CPU in the middle of one, that time would count as server
/// work. So the server's time is scaled by the share of the case's wall
/// time the thread was on a CPU (assuming such interruptions fall on the
/// server's and the client's work alike), where the kernel reports it.
fn run_case(
    case: Case,
    provider: Provider,
    identities: &[Identity; 2],
    seconds: f64,
    overhead: f64,
) -> Result<Measured, BoxError> {
    let (kind, version) = match case {
        Case::Handshake(kind, version) => (kind, version),
        _ => (KeyKind::EcdsaP256, Version::Tls13),
    };
    let identity = &identities[kind as usize];
    let pair = Pair::new(provider, identity, version)?;
    let mut bufs = Buffers { wire: Vec::with_capacity(64 * 1024), plain: vec![0; BULK.len()] };
    let mut clock = ServerClock::default();
    let mut count: u64 = 0;
    let mut connection = None;
    if !matches!(case, Case::Handshake(..)) {
        connection = Some(handshake(&pair, &mut ServerClock::default(), &mut bufs)?);
    }
    let cpu_start = on_cpu_ns();
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        let Some((server, client)) = connection.as_mut() else {
            handshake(&pair, &mut clock, &mut bufs)?;
            count += 1;
            continue;
        };
        match case {
            Case::KeepAlive => {
                client.writer().write_all(&REQUEST)?;
                flush(client, &mut bufs.wire)?;
                clock.time(|| -> Result<(), BoxError> {
                    let got = feed(server, &bufs.wire, &mut bufs.plain)?;
                    expect("request", got, REQUEST.len())?;
                    server.writer().write_all(&RESPONSE)?;
                    Ok(flush(server, &mut bufs.wire)?)
                })?;
                let got = feed(client, &bufs.wire, &mut bufs.plain)?;
                expect("response", got, RESPONSE.len())?;
            }
            Case::Encrypt => {
                clock.time(|| -> io::Result<()> {
                    server.writer().write_all(&BULK)?;
                    flush(server, &mut bufs.wire)
                })?;
                let got = feed(client, &bufs.wire, &mut bufs.plain)?;
                expect("bulk to client", got, BULK.len())?;
            }
            Case::Decrypt => {
                client.writer().write_all(&BULK)?;
                flush(client, &mut bufs.wire)?;
                let got = clock.time(|| feed(server, &bufs.wire, &mut bufs.plain))?;
                expect("bulk to server", got, BULK.len())?;
            }
            Case::Handshake(..) => unreachable!("handshake cases keep no connection"),
        }
        count += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let on_cpu = match (cpu_start, on_cpu_ns()) {
        (Some(a), Some(b)) => (b.saturating_sub(a) as f64 / 1e9 / wall).clamp(0.01, 1.0),
        _ => 1.0,
    };
    let rate = count as f64 / (clock.seconds(overhead) * on_cpu);
    let rate = match case {
        Case::Encrypt | Case::Decrypt => rate * BULK.len() as f64 / 1e6,
        _ => rate,
    };
    Ok(Measured { rate, on_cpu })
}

/// A number with thousands separators: 11815.4 -> "11,815".
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "median (min–max)", millions for the keep-alive row as in the docs.
fn cell(case: Case, sorted: &[f64]) -> String {
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    let median = median(sorted);
    match case {
        Case::KeepAlive => format!("{:.2} M ({:.2}–{:.2} M)", median / 1e6, min / 1e6, max / 1e6),
        _ => format!("{} ({}–{})", grouped(median), grouped(min), grouped(max)),
    }
}

fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

struct Options {
    seconds: f64,
    rounds: usize,
}

/// The command line; `Ok(None)` when help was asked for.
fn parse_args() -> Result<Option<Options>, String> {
    let mut options = Options { seconds: 3.0, rounds: 3 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value =
            |name: &str| args.next().ok_or_else(|| format!("{name} needs a value; {USAGE}"));
        match arg.as_str() {
            "--seconds" => {
                let text = value("--seconds")?;
                options.seconds = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| format!("--seconds {text:?}: expected a positive number"))?;
            }
            "--rounds" => {
                let text = value("--rounds")?;
                options.rounds = text
                    .parse()
                    .ok()
                    .filter(|r: &usize| *r > 0)
                    .ok_or_else(|| format!("--rounds {text:?}: expected a positive integer"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    Ok(Some(options))
}

fn run(options: &Options) -> Result<(), BoxError> {
    let identities =
        [Identity::generate(KeyKind::EcdsaP256)?, Identity::generate(KeyKind::Rsa2048)?];
    let overhead = clock_overhead();
    if on_cpu_ns().is_none() {
        eprintln!("no /proc/thread-self/schedstat: server time is wall time, uncorrected");
    }
    eprintln!(
        "{} s per case, {} rounds; timed-section overhead {:.1} ns, subtracted",
        options.seconds,
        options.rounds,
        overhead * 1e9
    );
    // Untimed warm-up, so that round 1's first case does not also pay for
    // cold caches and a CPU still raising its clock.
    for provider in [Provider::Ring, Provider::AwsLcRs] {
        run_case(CASES[0], provider, &identities, options.seconds.min(0.5), overhead)?;
    }
    // rates[case][provider as usize], one entry per round.
    let mut rates = vec![[Vec::new(), Vec::new()]; CASES.len()];
    for round in 0..options.rounds {
        let order = if round % 2 == 0 {
            [Provider::Ring, Provider::AwsLcRs]
        } else {
            [Provider::AwsLcRs, Provider::Ring]
        };
        for (i, case) in CASES.into_iter().enumerate() {
            for provider in order {
                let measured = run_case(case, provider, &identities, options.seconds, overhead)
                    .map_err(|e| format!("{} with {}: {e}", case.label(), provider.label()))?;
                eprintln!(
                    "round {}/{}: {} with {}: {} (on a CPU {:.0}% of the time)",
                    round + 1,
                    options.rounds,
                    case.label(),
                    provider.label(),
                    grouped(measured.rate),
                    measured.on_cpu * 100.0
                );
                rates[i][provider as usize].push(measured.rate);
            }
        }
    }

    println!("| server-side work | ring | aws-lc-rs | aws-lc-rs / ring |");
    println!("|---|---|---|---|");
    for (case, [ring, aws]) in CASES.into_iter().zip(&mut rates) {
        ring.sort_by(f64::total_cmp);
        aws.sort_by(f64::total_cmp);
        println!(
            "| {} | {} | {} | {:.2} |",
            case.label(),
            cell(case, ring),
            cell(case, aws),
            median(aws) / median(ring)
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("tls-provider-bench: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tls-provider-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
