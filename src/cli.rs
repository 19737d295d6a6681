//! The command line: `ringress run`, `ringress check`, `ringress demo`.
//! Parsing only, plus the small glue that turns flags into library calls
//! (`RunArgs` into a [`Config`], `CheckArgs` into a check); `main.rs`
//! maps the outcome to an exit code.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringress_control::leader::LeaseConfig;
use ringress_control::status::PublishTarget;
use ringress_control::CompileOptions;

use crate::config::{Config, KubeSettings, Source};
use crate::listen::ListenAddrs;
use crate::upstream::Balance;
use crate::worker::settings::DEFAULT_MAX_CONNECTIONS;
use crate::worker::{engine, IoEngine, Settings};

/// Kubernetes Ingress controller with an io_uring, thread-per-core HTTP
/// data plane.
#[derive(Debug, Parser)]
#[command(name = "ringress", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve traffic for the Ingresses found in a directory of manifests
    /// or in a Kubernetes cluster (`--kubernetes`).
    Run(Box<RunArgs>),
    /// Compile the manifests, print the routes and every problem found, and
    /// exit 1 if any problem is an error.
    Check(CheckArgs),
    /// Start ringress on the bundled examples with bundled upstreams and
    /// print curl commands to try.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Directory of Kubernetes YAML manifests (Ingress, IngressClass,
    /// Service, EndpointSlice, Secret), read recursively.
    #[arg(long, value_name = "DIR")]
    pub manifests: PathBuf,
    /// The legacy `kubernetes.io/ingress.class` annotation value served
    /// (see `run --help`).
    #[arg(long, value_name = "NAME", default_value = ringress_control::DEFAULT_INGRESS_CLASS)]
    pub ingress_class: String,
    /// IngressClasses whose `spec.controller` equals this are ours.
    #[arg(long, value_name = "NAME", default_value = ringress_control::CONTROLLER_NAME, value_parser = parse_controller_class)]
    pub controller_class: String,
    /// `kubernetes.io/tls` Secret served to clients that send no SNI or an
    /// unknown name (checked like the Ingresses' Secrets).
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_secret_ref)]
    pub default_certificate: Option<SecretRef>,
    /// The Service (its first port) serving requests no rule matches (see
    /// `run --help`).
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_secret_ref)]
    pub default_backend_service: Option<SecretRef>,
    /// Whether a host belongs to one namespace (see `run --help`).
    #[arg(long, value_enum, default_value = "namespace")]
    pub host_sharing: HostSharingArg,
}

/// `--host-sharing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostSharingArg {
    /// A host belongs to the namespace of its oldest Ingress; other
    /// namespaces' rules and TLS entries for it are refused unless the
    /// owner shares it (annotation `ringress.io/share-host-with`).
    Namespace,
    /// Every namespace's rules for a host are merged (ingress-nginx's
    /// behaviour; only where every namespace is trusted).
    Any,
}

impl HostSharingArg {
    pub fn value(self) -> ringress_control::compile::HostSharing {
        match self {
            HostSharingArg::Namespace => ringress_control::compile::HostSharing::Namespace,
            HostSharingArg::Any => ringress_control::compile::HostSharing::Any,
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory holding the example manifests.
    #[arg(long, value_name = "DIR", default_value = "examples/manifests")]
    pub manifests: PathBuf,
    /// Where and how the demo proxy listens (the flags of `run`).
    #[command(flatten)]
    pub listen: ListenArgs<DemoListen>,
}

/// Default addresses of a command's listeners.
pub trait ListenDefaults: Clone + Send + Sync + 'static {
    const HTTP: &'static str;
    const HTTPS: &'static str;
    const ADMIN: &'static str;
    const HEALTH: &'static str;
}

/// `ringress run` listens on every interface.
#[derive(Debug, Clone)]
pub struct RunListen;

impl ListenDefaults for RunListen {
    const HTTP: &'static str = "0.0.0.0:8080";
    const HTTPS: &'static str = "0.0.0.0:8443";
    const ADMIN: &'static str = "127.0.0.1:9901";
    const HEALTH: &'static str = "0.0.0.0:10254";
}

/// `ringress demo` listens on loopback only.
#[derive(Debug, Clone)]
pub struct DemoListen;

impl ListenDefaults for DemoListen {
    const HTTP: &'static str = "127.0.0.1:8080";
    const HTTPS: &'static str = "127.0.0.1:8443";
    const ADMIN: &'static str = "127.0.0.1:9901";
    const HEALTH: &'static str = "127.0.0.1:10254";
}

/// The data plane's listeners and workers, shared by `run` and `demo`
/// (each with its own default addresses, `D`).
#[derive(Debug, Args)]
pub struct ListenArgs<D: ListenDefaults> {
    /// Plain HTTP listener.
    #[arg(long, value_name = "ADDR", default_value = D::HTTP)]
    pub http: SocketAddr,
    /// HTTPS listener (TLS terminated by every worker; the certificate is
    /// chosen by SNI from the Ingresses' `tls` sections).
    #[arg(long, value_name = "ADDR", default_value = D::HTTPS)]
    pub https: SocketAddr,
    /// Admin server: /healthz, /readyz, /metrics and what reveals the
    /// configuration (/routes); keep it on loopback.
    #[arg(long, value_name = "ADDR", default_value = D::ADMIN)]
    pub admin: SocketAddr,
    /// Health server for probes and scrapers: /healthz, /readyz, /metrics
    /// only.
    #[arg(long, value_name = "ADDR", default_value = D::HEALTH)]
    pub health: SocketAddr,
    /// Worker threads, one per core [default: CPUs in the affinity mask,
    /// limited by the cgroup CPU quota].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// I/O engine of the workers; `auto` tries io_uring and falls back to
    /// epoll when the kernel or a seccomp profile refuses it.
    #[arg(long, value_enum, default_value = "auto")]
    pub io_engine: IoEngine,
    /// Do not pin worker threads to CPUs.
    #[arg(long)]
    pub no_pin: bool,
    #[arg(skip)]
    pub defaults: PhantomData<D>,
}

impl<D: ListenDefaults> ListenArgs<D> {
    /// The addresses to bind.
    pub fn addrs(&self) -> ListenAddrs {
        let (http, https, admin, health) = (self.http, Some(self.https), self.admin, self.health);
        ListenAddrs { http, https, admin, health }
    }

    /// `--workers`, or its default; at least 1.
    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(engine::default_workers).max(1)
    }

    /// `config` with these workers, engine and pinning.
    pub fn apply(&self, config: &mut Config) {
        config.workers = self.workers();
        config.io_engine = self.io_engine;
        config.pin = !self.no_pin;
    }
}

/// `--balance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BalanceArg {
    /// Each request goes to the next endpoint in turn.
    RoundRobin,
    /// The less busy of two endpoints chosen at random.
    LeastOutstanding,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Directory of Kubernetes YAML manifests, watched for changes.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "kubernetes",
        conflicts_with = "kubernetes"
    )]
    pub manifests: Option<PathBuf>,
    /// Kubernetes provider flags (`--kubernetes` and the rest).
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Listeners and workers.
    #[command(flatten)]
    pub listen: ListenArgs<RunListen>,
    /// `kubernetes.io/tls` Secret served to clients that send no SNI or a
    /// name no Ingress lists [default: a self-signed certificate generated
    /// at start].
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_secret_ref)]
    pub default_certificate: Option<SecretRef>,
    /// The Service whose first port serves requests no rule matches (a
    /// catch-all, as ingress-nginx's flag), unless an Ingress of ours has
    /// a `spec.defaultBackend` [default: none, such requests get 404].
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_secret_ref)]
    pub default_backend_service: Option<SecretRef>,
    /// Time allowed for a whole TLS handshake.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub tls_handshake_timeout: Duration,
    /// The value of the legacy `kubernetes.io/ingress.class` annotation
    /// served, on Ingresses without `spec.ingressClassName`. It does not
    /// choose which IngressClasses are served: `--controller-class` does.
    #[arg(long, value_name = "NAME", default_value = ringress_control::DEFAULT_INGRESS_CLASS)]
    pub ingress_class: String,
    /// The IngressClasses served are those whose `spec.controller` equals
    /// this; give each install in a cluster its own.
    #[arg(long, value_name = "NAME", default_value = ringress_control::CONTROLLER_NAME, value_parser = parse_controller_class)]
    pub controller_class: String,
    /// Whether a host belongs to one namespace: `namespace` (the oldest
    /// Ingress naming a host decides; others need the owner's
    /// `ringress.io/share-host-with`) or `any` (every namespace's rules
    /// merged, as ingress-nginx).
    #[arg(long, value_enum, default_value = "namespace")]
    pub host_sharing: HostSharingArg,
    /// With `--kubernetes`, accept endpoints on loopback, link-local,
    /// unspecified, broadcast and multicast addresses (refused by default:
    /// no pod has them, and 169.254.169.254 is the cloud metadata service).
    /// For single-machine tests and node-local backends only.
    #[arg(long)]
    pub allow_host_local_endpoints: bool,
    /// Endpoint choice per request.
    #[arg(long, value_enum, default_value = "round-robin")]
    pub balance: BalanceArg,
    /// Requests served per downstream connection before it is closed (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub keepalive_requests: u32,
    /// Idle time allowed between requests on a downstream connection.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub keepalive_timeout: Duration,
    /// Time allowed for a whole request head to arrive (else 408).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub client_head_timeout: Duration,
    /// Longest pause while reading a request body.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub client_body_timeout: Duration,
    /// Time allowed to connect to an upstream endpoint (else 502 or the next endpoint).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub upstream_connect_timeout: Duration,
    /// Time allowed for the upstream's response head (else 504).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub upstream_response_timeout: Duration,
    /// Longest pause while reading a response body.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub upstream_body_timeout: Duration,
    /// Pooled upstream connections idle longer than this are closed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub upstream_idle_timeout: Duration,
    /// Idle upstream connections kept per endpoint and worker.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub upstream_max_idle: usize,
    /// How long an endpoint that refused a connection is skipped.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub endpoint_backoff: Duration,
    /// An upgraded connection (WebSocket) with no traffic either way for
    /// this long is closed.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub tunnel_idle_timeout: Duration,
    /// On SIGTERM/SIGINT, time allowed for requests in flight to finish
    /// once accepting has stopped.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// On SIGTERM/SIGINT, /readyz answers 503 at once and the listeners
    /// keep accepting and serving this long (so endpoints and load
    /// balancers stop sending) before the drain starts.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,
    /// Largest request head in bytes (else 431).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    pub max_head_bytes: usize,
    /// Most header lines in a request (else 431; at most 100).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_headers: usize,
    /// Longest request line in bytes (else 414).
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024)]
    pub max_request_line: usize,
    /// Open client connections for the whole process, split evenly over
    /// the workers (the remainder to the first ones). A connection over
    /// its worker's share is closed at once, unread, and counted in
    /// `ringress_connections_refused_total`.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_connections: usize,
    /// Largest request body, as nginx's `client_max_body_size`: bytes, or
    /// with a `k`, `m` or `g` suffix (1024-based, any case); `0`: no limit.
    /// A larger body is answered 413.
    #[arg(long, value_name = "SIZE", default_value = "1m", value_parser = parse_size)]
    pub max_body_size: u64,
    /// Also forward client upgrades to this protocol (repeatable; compared
    /// case-insensitively; `websocket` is always allowed). Offers of other
    /// protocols, `h2c` included, are removed and the request is served as
    /// plain HTTP/1.1.
    #[arg(long = "allow-upgrade", value_name = "TOKEN", value_parser = parse_upgrade_token)]
    pub allow_upgrade: Vec<String>,
    /// Peers (load balancers, CDNs) trusted to say who the client is:
    /// networks or addresses, comma-separated (`10.0.0.0/8,fd00::/8`). From
    /// any other peer, received X-Forwarded-*, X-Real-IP and Forwarded are
    /// replaced [default: none].
    #[arg(long, value_name = "CIDR[,CIDR…]", value_parser = parse_trusted_proxies)]
    pub trusted_proxies: Option<crate::trust::TrustedProxies>,
    /// Every connection on the http and https listeners starts with a
    /// PROXY protocol header (v1 or v2) from a peer in --trusted-proxies
    /// (required); any other connection is closed without a response.
    #[arg(long)]
    pub proxy_protocol: bool,
    /// The HTTPS port clients connect to (a Service or load balancer in
    /// front may map it): the port of redirects to https (omitted when
    /// 443) and `X-Forwarded-Port` on HTTPS [default: the --https
    /// listener's port].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub public_https_port: Option<u16>,
    /// The HTTP port clients connect to, for `X-Forwarded-Port` on HTTP
    /// [default: the --http listener's port].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub public_http_port: Option<u16>,
}

/// `--trusted-proxies`: the error names the bad entry.
fn parse_trusted_proxies(text: &str) -> Result<crate::trust::TrustedProxies, String> {
    text.parse().map_err(|e: crate::trust::TrustError| e.to_string())
}

impl RunArgs {
    /// The [`Config`] these flags describe, or why they cannot run.
    pub fn into_config(self) -> Result<Config, String> {
        let workers = self.listen.workers();
        if self.max_connections < workers {
            return Err(format!(
                "--max-connections {} is less than the number of workers ({workers}): \
                 each worker needs a share of at least one connection",
                self.max_connections
            ));
        }
        if self.proxy_protocol && self.trusted_proxies.as_ref().is_none_or(|t| t.is_empty()) {
            return Err("--proxy-protocol needs --trusted-proxies: PROXY headers are accepted \
                        only from trusted peers, so without any every connection would be closed"
                .to_string());
        }
        let source = match &self.manifests {
            Some(dir) => {
                self.kube.check_unused()?;
                Source::Manifests(dir.clone())
            }
            None => Source::Kubernetes(self.kube.settings()?),
        };
        let mut config = Config::new(source);
        self.listen.apply(&mut config);
        config.settings = self.settings();
        config.compile = CompileOptions {
            controller_class: self.controller_class.clone(),
            ingress_class: self.ingress_class.clone(),
            default_certificate: self.default_certificate.as_ref().map(SecretRef::pair),
            default_backend_service: self.default_backend_service.as_ref().map(SecretRef::pair),
            host_sharing: self.host_sharing.value(),
            endpoint_guard: ringress_control::compile::EndpointGuard {
                refuse_host_local: self.manifests.is_none() && !self.allow_host_local_endpoints,
                ..Default::default()
            },
            ..CompileOptions::default()
        };
        config.tls_handshake_timeout = self.tls_handshake_timeout;
        config.shutdown_delay = self.shutdown_delay;
        Ok(config)
    }

    /// The worker settings these flags describe (`https_port`, unless
    /// `--public-https-port` gives it, is left to `run`, which knows the
    /// port the HTTPS listener got).
    pub fn settings(&self) -> Settings {
        Settings {
            client_head_timeout: self.client_head_timeout,
            client_body_timeout: self.client_body_timeout,
            keepalive_timeout: self.keepalive_timeout,
            keepalive_requests: self.keepalive_requests,
            upstream_connect_timeout: self.upstream_connect_timeout,
            upstream_response_timeout: self.upstream_response_timeout,
            upstream_body_timeout: self.upstream_body_timeout,
            upstream_idle_timeout: self.upstream_idle_timeout,
            upstream_max_idle: self.upstream_max_idle,
            endpoint_backoff: self.endpoint_backoff,
            tunnel_idle_timeout: self.tunnel_idle_timeout,
            drain_timeout: self.drain_timeout,
            balance: match self.balance {
                BalanceArg::RoundRobin => Balance::RoundRobin,
                BalanceArg::LeastOutstanding => Balance::LeastOutstanding,
            },
            max_head_bytes: self.max_head_bytes,
            max_headers: self.max_headers,
            max_request_line_bytes: self.max_request_line,
            https_port: self.public_https_port,
            http_port: self.public_http_port,
            max_connections: self.max_connections,
            max_body_size: (self.max_body_size > 0).then_some(self.max_body_size),
            allowed_upgrades: self.allowed_upgrades(),
            trusted_proxies: std::sync::Arc::new(self.trusted_proxies.clone().unwrap_or_default()),
            proxy_protocol: self.proxy_protocol,
        }
    }

    /// `websocket`, then each `--allow-upgrade` once, in lower case.
    fn allowed_upgrades(&self) -> Vec<String> {
        let mut all = vec![crate::http::upgrade::WEBSOCKET.to_string()];
        for t in &self.allow_upgrade {
            if !all.contains(t) {
                all.push(t.clone());
            }
        }
        all
    }
}

/// `--controller-class`: a non-empty name without whitespace, as
/// `spec.controller` values are (`example.com/path`).
fn parse_controller_class(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 250 || value.chars().any(char::is_whitespace) {
        return Err(format!("{value:?} is not a controller name (e.g. example.com/ingress)"));
    }
    Ok(value.to_string())
}

/// `--election-id`: the Lease's name, a DNS subdomain (RFC 1123: lowercase
/// letters, digits, `-` and `.`, at most 253, alphanumeric at both ends).
fn parse_election_id(value: &str) -> Result<String, String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if value.len() > 253
        || !value.chars().all(ok_char)
        || !ends(value.chars().next())
        || !ends(value.chars().last())
    {
        return Err(format!(
            "{value:?} is not a valid Lease name (lowercase letters, digits, '-' and '.', \
             starting and ending alphanumeric)"
        ));
    }
    Ok(value.to_string())
}

/// `ringress check`: print the compiled routes and every problem found;
/// exit 1 when any problem is an error.
pub fn check(args: &CheckArgs) -> ExitCode {
    let options = CompileOptions {
        controller_class: args.controller_class.clone(),
        ingress_class: args.ingress_class.clone(),
        default_certificate: args.default_certificate.as_ref().map(SecretRef::pair),
        default_backend_service: args.default_backend_service.as_ref().map(SecretRef::pair),
        host_sharing: args.host_sharing.value(),
        ..CompileOptions::default()
    };
    let outcome = ringress_control::check::run(&args.manifests, &options);
    print!("{}", outcome.text);
    if outcome.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `run --kubernetes` and the flags that go with it.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Watch a Kubernetes cluster instead of a manifests directory
    /// (in-cluster service account, or --kubeconfig).
    #[arg(long)]
    pub kubernetes: bool,
    /// Kubeconfig file to reach the cluster with (its current context).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch one namespace only [default: all namespaces].
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Copy this Service's load-balancer addresses into the status of
    /// every Ingress served.
    #[arg(long, value_name = "NS/NAME", conflicts_with = "publish_address")]
    pub publish_service: Option<String>,
    /// Address (IP or hostname) to write into the status of every Ingress
    /// served; repeat for several.
    #[arg(long, value_name = "ADDR")]
    pub publish_address: Vec<String>,
    /// Namespace of the leader-election Lease (the controller's own).
    #[arg(long, value_name = "NS", env = "POD_NAMESPACE")]
    pub election_namespace: Option<String>,
    /// Holder identity in the Lease; unique per replica.
    #[arg(long, value_name = "NAME", env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// Name of the leader-election Lease; installs that share a namespace
    /// need different ones.
    #[arg(long, value_name = "NAME", default_value = ringress_control::leader::DEFAULT_LEASE_NAME, value_parser = parse_election_id)]
    pub election_id: String,
    /// A leader that stops renewing is replaced after this long.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
}

impl KubeArgs {
    /// Kubernetes-only flags given without `--kubernetes` are a mistake
    /// worth stopping for (clap counts the flag's implicit `false` as
    /// present, so `requires` cannot say it).
    pub fn check_unused(&self) -> Result<(), String> {
        let given = [
            ("--kubeconfig", self.kubeconfig.is_some()),
            ("--namespace", self.namespace.is_some()),
            ("--publish-service", self.publish_service.is_some()),
            ("--publish-address", !self.publish_address.is_empty()),
        ];
        match given.iter().find(|(_, set)| *set) {
            Some((flag, _)) if !self.kubernetes => Err(format!("{flag} needs --kubernetes")),
            _ => Ok(()),
        }
    }

    /// The cluster settings these flags describe.
    pub fn settings(&self) -> Result<KubeSettings, String> {
        let publish = match (&self.publish_service, self.publish_address.is_empty()) {
            (Some(s), _) => Some(PublishTarget::service(s).map_err(|e| e.to_string())?),
            (None, false) => Some(PublishTarget::Addresses(self.publish_address.clone())),
            (None, true) => None,
        };
        if self.lease_duration < Duration::from_secs(1) {
            return Err("--lease-duration: at least 1s".into());
        }
        let election = match (&self.election_namespace, &self.pod_name) {
            (Some(ns), Some(name)) => Some(LeaseConfig {
                name: self.election_id.clone(),
                ..LeaseConfig::new(ns, name, self.lease_duration)
            }),
            _ => {
                tracing::warn!(
                    "POD_NAMESPACE/POD_NAME (or --election-namespace/--pod-name) not set: \
                     no leader election, so no Ingress status and no Events are written"
                );
                None
            }
        };
        Ok(KubeSettings {
            kubeconfig: self.kubeconfig.clone(),
            namespace: self.namespace.clone(),
            publish,
            election,
        })
    }
}

/// A protocol token as `Upgrade` names it: `name` or `name/version`, each
/// a non-empty run of `tchar` (RFC 9110 §7.8); returned in lower case.
pub fn parse_upgrade_token(text: &str) -> Result<String, String> {
    let tchars = |s: &str| !s.is_empty() && s.bytes().all(crate::http::fields::is_tchar);
    let ok = match text.split_once('/') {
        Some((name, version)) => tchars(name) && tchars(version),
        None => tchars(text),
    };
    if ok {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!("`{text}` is not a protocol token like h2c or foo/2"))
    }
}

/// `NAMESPACE/NAME` of a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub namespace: String,
    pub name: String,
}

impl SecretRef {
    /// As `CompileOptions::default_certificate` wants it.
    pub fn pair(&self) -> (String, String) {
        (self.namespace.clone(), self.name.clone())
    }
}

/// `NAMESPACE/NAME`, both non-empty.
pub fn parse_secret_ref(text: &str) -> Result<SecretRef, String> {
    match text.split_once('/') {
        Some((namespace, name))
            if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
        {
            Ok(SecretRef { namespace: namespace.to_string(), name: name.to_string() })
        }
        _ => Err(format!("`{text}` is not NAMESPACE/NAME")),
    }
}

/// A duration: `250ms`, `10s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 10s"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit `{unit}` in `{text}` (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

/// A size as nginx reads one (`client_max_body_size`): a decimal number
/// of bytes, or with a `k`, `m` or `g` suffix in either case (1024-based):
/// `512k`, `1m`, `8M`, `0`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, shift) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 20),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{text}` is not a size like 512k, 1m, 8m or 0 (bytes, or a k, m or g suffix)"
        ));
    }
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("`{text}` is too large a size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--default-certificate` takes exactly NAMESPACE/NAME.
    #[test]
    fn secret_refs_parse() {
        let r = parse_secret_ref("ingress/fallback-tls").unwrap();
        assert_eq!(r.pair(), ("ingress".to_string(), "fallback-tls".to_string()));
        for bad in ["fallback", "/x", "x/", "a/b/c", ""] {
            assert!(parse_secret_ref(bad).is_err(), "{bad}");
        }
    }

    /// Durations accept the usual units and bare seconds.
    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
    }

    /// `run` has the documented defaults.
    #[test]
    fn run_defaults_match_the_documentation() {
        let cli = Cli::try_parse_from(["ringress", "run", "--manifests", "m"]).unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        assert_eq!(args.listen.http, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(args.listen.https, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(args.listen.admin, "127.0.0.1:9901".parse().unwrap());
        assert_eq!(args.listen.health, "0.0.0.0:10254".parse().unwrap());
        assert_eq!(args.listen.io_engine, IoEngine::Auto);
        let s = args.settings();
        assert_eq!(s.keepalive_requests, 1000);
        assert_eq!(s.client_head_timeout, Duration::from_secs(10));
        assert_eq!(s.upstream_connect_timeout, Duration::from_secs(5));
        assert_eq!(s.drain_timeout, Duration::from_secs(30));
        assert_eq!(s.max_connections, 65_536);
        assert_eq!(s.max_body_size, Some(1024 * 1024));
    }

    /// Sizes read as nginx reads them: 1024-based suffixes, any case, a
    /// bare number is bytes; `--max-body-size 0` is no limit.
    #[test]
    fn sizes_parse_like_nginx() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512k"), Ok(512 * 1024));
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        for bad in ["", "k", "1.5m", "-1", "1mb", "1 m", " 1m", "1t", "ten", "99999999999999g"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        let run = |extra: &[&str]| {
            let mut argv = vec!["ringress", "run", "--manifests", "m"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).map(|cli| match cli.command {
                Command::Run(args) => args.settings(),
                _ => panic!("not run"),
            })
        };
        assert_eq!(run(&["--max-body-size", "0"]).unwrap().max_body_size, None);
        assert_eq!(run(&["--max-body-size", "8m"]).unwrap().max_body_size, Some(8 << 20));
    }

    /// A bad size or connection count is refused with an error that names
    /// the flag and says what is wrong.
    #[test]
    fn bad_limits_are_refused_naming_the_flag() {
        let err = |extra: &[&str]| {
            let mut argv = vec!["ringress", "run", "--manifests", "m"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).map(|_| ()).unwrap_err().to_string()
        };
        let e = err(&["--max-body-size", "1mb"]);
        assert!(e.contains("--max-body-size") && e.contains("`1mb` is not a size"), "{e}");
        let e = err(&["--max-body-size=-1"]);
        assert!(e.contains("--max-body-size"), "{e}");
        let e = err(&["--max-connections", "0"]);
        assert!(e.contains("--max-connections"), "{e}");
        let e = err(&["--max-connections", "many"]);
        assert!(e.contains("--max-connections"), "{e}");
    }

    /// `--trusted-proxies` reaches the worker settings (none by default),
    /// and `--proxy-protocol` is refused without it.
    #[test]
    fn trusted_proxies_and_proxy_protocol_reach_the_settings() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["ringress", "run", "--manifests", "m"];
            argv.extend_from_slice(extra);
            match Cli::try_parse_from(argv).map_err(|e| e.to_string())?.command {
                Command::Run(args) => args.into_config().map(|c| c.settings),
                _ => panic!("not run"),
            }
        };
        let s = parse(&[]).unwrap();
        assert!(s.trusted_proxies.is_empty() && !s.proxy_protocol);
        let s = parse(&["--trusted-proxies", "10.0.0.0/8, fd00::/8", "--proxy-protocol"]).unwrap();
        assert!(s.proxy_protocol);
        let nets: Vec<String> =
            s.trusted_proxies.networks().iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["10.0.0.0/8", "fd00::/8"]);
        assert!(s.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        let e = parse(&["--proxy-protocol"]).unwrap_err();
        assert!(e.contains("--proxy-protocol needs --trusted-proxies"), "{e}");
        let e = parse(&["--trusted-proxies", "10.0.0.0/40"]).unwrap_err();
        assert!(e.contains("--trusted-proxies") && e.contains("`10.0.0.0/40`"), "{e}");
    }

    /// `--allow-upgrade` is repeatable and adds to `websocket`, in lower
    /// case and once each; a malformed token is refused.
    #[test]
    fn allow_upgrade_adds_tokens_to_websocket() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["ringress", "run", "--manifests", "m"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).map(|cli| match cli.command {
                Command::Run(args) => args.settings().allowed_upgrades,
                _ => panic!("not run"),
            })
        };
        assert_eq!(parse(&[]).unwrap(), ["websocket"]);
        let flags =
            ["--allow-upgrade", "H2C", "--allow-upgrade", "foo/2", "--allow-upgrade", "h2c"];
        assert_eq!(parse(&flags).unwrap(), ["websocket", "h2c", "foo/2"]);
        for bad in ["", "a b", "a/", "/2", "a,b", "a/b/c"] {
            assert!(parse(&["--allow-upgrade", bad]).is_err(), "{bad:?}");
        }
    }

    /// The engine names on the command line are `auto`, `io-uring`, `epoll`.
    #[test]
    fn io_engine_names() {
        for (name, engine) in
            [("auto", IoEngine::Auto), ("io-uring", IoEngine::IoUring), ("epoll", IoEngine::Epoll)]
        {
            let cli =
                Cli::try_parse_from(["ringress", "run", "--manifests", "m", "--io-engine", name])
                    .unwrap();
            let Command::Run(args) = cli.command else { panic!("not run") };
            assert_eq!(args.listen.io_engine, engine);
        }
    }

    fn run_args(args: &[&str]) -> Result<Box<RunArgs>, clap::Error> {
        let mut all = vec!["ringress", "run"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all)?.command {
            Command::Run(args) => Ok(args),
            other => panic!("parsed {other:?}"),
        }
    }

    /// `--kubernetes` replaces `--manifests`; one of them is required.
    #[test]
    fn kubernetes_or_manifests_but_not_both() {
        let args = run_args(&["--kubernetes"]).unwrap();
        assert!(args.kube.kubernetes && args.manifests.is_none());
        assert!(run_args(&[]).is_err());
        assert!(run_args(&["--kubernetes", "--manifests", "m"]).is_err());
        let args = run_args(&["--manifests", "m", "--namespace", "web"]).unwrap();
        assert_eq!(args.into_config().unwrap_err(), "--namespace needs --kubernetes");
        assert!(run_args(&["--manifests", "m"]).unwrap().kube.check_unused().is_ok());
    }

    /// The Kubernetes flags map onto the cluster settings.
    #[test]
    fn kubernetes_flags_become_the_settings() {
        let args = run_args(&[
            "--kubernetes",
            "--namespace=web",
            "--publish-service=ingress/ringress",
            "--election-namespace=ingress",
            "--pod-name=ringress-0",
            "--lease-duration=6s",
            "--kubeconfig=/etc/kube.yaml",
        ])
        .unwrap();
        let Source::Kubernetes(kube) = args.into_config().unwrap().source else {
            panic!("not the Kubernetes source")
        };
        assert_eq!(kube.namespace.as_deref(), Some("web"));
        assert_eq!(kube.kubeconfig, Some(PathBuf::from("/etc/kube.yaml")));
        assert_eq!(
            kube.publish,
            Some(PublishTarget::Service { namespace: "ingress".into(), name: "ringress".into() })
        );
        let lease = kube.election.unwrap();
        assert_eq!((lease.namespace.as_str(), lease.identity.as_str()), ("ingress", "ringress-0"));
        // client-go's 15 s / 10 s / 2 s, scaled to 6 s.
        assert_eq!(lease.renew_deadline, Duration::from_secs(4));
        assert_eq!(lease.renew_period, Duration::from_millis(800));

        let args = run_args(&[
            "--kubernetes",
            "--publish-address=192.0.2.1",
            "--publish-address=lb.example",
        ]);
        let kube = args.unwrap().kube.settings().unwrap();
        assert_eq!(
            kube.publish,
            Some(PublishTarget::Addresses(vec!["192.0.2.1".into(), "lb.example".into()]))
        );
        let args = run_args(&[
            "--kubernetes",
            "--election-namespace=ingress",
            "--pod-name=ringress-0",
            "--election-id=ringress-internal",
            "--controller-class=example.com/internal",
        ])
        .unwrap();
        let config = args.into_config().unwrap();
        assert_eq!(config.compile.controller_class, "example.com/internal");
        let Source::Kubernetes(kube) = config.source else { panic!("not the Kubernetes source") };
        assert_eq!(kube.election.unwrap().name, "ringress-internal");
        let defaults = run_args(&["--kubernetes", "--election-namespace=i", "--pod-name=p"]);
        let config = defaults.unwrap().into_config().unwrap();
        assert_eq!(config.compile.controller_class, "ringress.io/ingress-controller");
        let Source::Kubernetes(kube) = config.source else { panic!("not the Kubernetes source") };
        assert_eq!(kube.election.unwrap().name, "ringress-leader");
        for bad in
            ["--election-id=Upper", "--election-id=-x", "--election-id=a_b", "--controller-class="]
        {
            let err = run_args(&["--kubernetes", bad]).unwrap_err().to_string();
            assert!(err.contains(bad.split('=').next().unwrap()), "{bad}: {err}");
        }
        let args = run_args(&["--kubernetes", "--publish-service=no-slash"]).unwrap();
        assert!(args.into_config().unwrap_err().contains("NAMESPACE/NAME"));
        assert!(
            run_args(&["--kubernetes", "--publish-service=a/b", "--publish-address=x"]).is_err()
        );
    }

    /// The flags of `run` land in its [`Config`]: source, listeners'
    /// workers and engine, compile options, timeouts; fewer connections
    /// than workers is refused naming the flag.
    #[test]
    fn run_flags_become_the_config() {
        let args = run_args(&[
            "--manifests=m",
            "--workers=3",
            "--io-engine=epoll",
            "--no-pin",
            "--ingress-class=edge",
            "--default-certificate=ingress/fallback",
            "--default-backend-service=ops/catch-all",
            "--tls-handshake-timeout=2s",
            "--drain-timeout=7s",
        ])
        .unwrap();
        let config = args.into_config().unwrap();
        assert!(matches!(&config.source, Source::Manifests(d) if d == &PathBuf::from("m")));
        assert_eq!((config.workers, config.io_engine, config.pin), (3, IoEngine::Epoll, false));
        assert_eq!(config.compile.ingress_class, "edge");
        assert_eq!(
            config.compile.default_certificate,
            Some(("ingress".to_string(), "fallback".to_string()))
        );
        assert_eq!(
            config.compile.default_backend_service,
            Some(("ops".to_string(), "catch-all".to_string()))
        );
        assert_eq!(config.tls_handshake_timeout, Duration::from_secs(2));
        assert_eq!(config.settings.drain_timeout, Duration::from_secs(7));
        assert_eq!(config.settings.https_port, None, "run takes the HTTPS listener's port");
        assert_eq!(config.settings.http_port, None, "the HTTP listener's own port");
        let args = run_args(&["--manifests=m", "--public-https-port=443", "--public-http-port=80"]);
        let config = args.unwrap().into_config().unwrap();
        assert_eq!((config.settings.https_port, config.settings.http_port), (Some(443), Some(80)));
        let err = run_args(&["--manifests=m", "--public-https-port=0"]).unwrap_err().to_string();
        assert!(err.contains("--public-https-port"), "{err}");
        let args = run_args(&["--manifests=m", "--workers=2", "--max-connections=1"]).unwrap();
        let err = args.into_config().unwrap_err();
        assert!(
            err.contains("--max-connections 1 is less than the number of workers (2)"),
            "{err}"
        );
    }

    /// `demo` takes the listener flags of `run`, with loopback defaults.
    #[test]
    fn demo_takes_the_listener_flags_of_run() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["ringress", "demo"];
            argv.extend_from_slice(extra);
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Demo(args) => args,
                other => panic!("parsed {other:?}"),
            }
        };
        let args = parse(&[]);
        let addrs = args.listen.addrs();
        assert_eq!(addrs.http, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(addrs.https, Some("127.0.0.1:8443".parse().unwrap()));
        assert_eq!(addrs.admin, "127.0.0.1:9901".parse().unwrap());
        assert_eq!(addrs.health, "127.0.0.1:10254".parse().unwrap());
        let args = parse(&[
            "--http=127.0.0.1:0",
            "--https=[::1]:0",
            "--admin=127.0.0.2:0",
            "--health=127.0.0.3:0",
            "--workers=2",
            "--io-engine=io-uring",
        ]);
        let addrs = args.listen.addrs();
        assert_eq!(addrs.http, "127.0.0.1:0".parse().unwrap());
        assert_eq!(addrs.https, Some("[::1]:0".parse().unwrap()));
        assert_eq!(addrs.admin, "127.0.0.2:0".parse().unwrap());
        assert_eq!(addrs.health, "127.0.0.3:0".parse().unwrap());
        assert_eq!((args.listen.workers(), args.listen.io_engine), (2, IoEngine::IoUring));
    }
}
