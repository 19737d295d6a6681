//! `ringress run` as a process: it refuses a configuration source it
//! cannot use before it listens (exit at once, a message naming the
//! flag's value, nothing left serving an empty table), and it survives
//! running out of file descriptors. `ringress demo` binds the listeners
//! it is given.

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[allow(unused_imports)] // the shared builder re-exports more than this test uses
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ringress_test_support::process::{spawn, start_addrs, Running};
use ringress_test_support::DEADLINE;
use ringress_test_support::{ingress, service, yaml, Client, Upstream};

/// Run `ringress run ARGS` on ports 0 (one worker unless ARGS say); it
/// must exit by itself.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringress"))
        .arg("run")
        .args(args)
        .args([
            "--http=127.0.0.1:0",
            "--https=127.0.0.1:0",
            "--admin=127.0.0.1:0",
            "--health=127.0.0.1:0",
        ])
        .args(["--no-pin"])
        .args(args.iter().all(|a| !a.starts_with("--workers")).then_some("--workers=1"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ringress");
    let deadline = Instant::now() + DEADLINE;
    while child.try_wait().expect("poll ringress").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ringress {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("ringress output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_manifests_directory_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let out = run(&["--manifests", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("manifests directory {}", missing.display())), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
    assert!(!err.contains("ringress running"), "it must not start serving: {err}");
}

#[test]
fn a_file_given_as_manifests_directory_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ingress.yaml");
    std::fs::write(&file, "kind: Ingress\n").unwrap();
    let out = run(&["--manifests", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));
}

/// A size `--max-body-size` cannot read is a usage error (exit 2) whose
/// message names the flag and the value.
#[test]
fn a_bad_body_size_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["1mb", "1.5m", "lots"] {
        let out = run(&["--manifests", dir.path().to_str().unwrap(), "--max-body-size", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("--max-body-size") && err.contains(&format!("`{bad}`")), "{err}");
    }
}

/// A `--trusted-proxies` entry that is not a network is a usage error
/// (exit 2) naming the flag, the bad entry and what is wrong with it;
/// `--proxy-protocol` without any trusted proxy is refused at start.
#[test]
fn a_bad_trusted_proxy_is_refused_naming_the_flag_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().to_str().unwrap();
    for (list, bad, why) in [
        ("10.0.0.0/8,10.0.0.1/33", "10.0.0.1/33", "prefix length must be a number from 0 to 32"),
        ("10.1.2.3/8", "10.1.2.3/8", "the network is 10.0.0.0/8"),
        ("fd00::/8,lb.example", "lb.example", "not an IP address or CIDR"),
        ("10.0.0.0/8,", "", "empty entry"),
    ] {
        let out = run(&["--manifests", manifests, "--trusted-proxies", list]);
        assert_eq!(out.status.code(), Some(2), "{list}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("--trusted-proxies") && err.contains(list), "{err}");
        assert!(err.contains(&format!("`{bad}`")) || bad.is_empty(), "{err}");
        assert!(err.contains(why), "{list}: {err}");
    }
    let out = run(&["--manifests", manifests, "--proxy-protocol"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--proxy-protocol needs --trusted-proxies"), "{err}");
    assert!(!err.contains("ringress running"), "it must not start serving: {err}");
}

/// Fewer connections than workers would leave a worker refusing every
/// connection the kernel hands it: refused at start, naming the flag.
#[test]
fn fewer_connections_than_workers_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(&["--manifests", dir.path().to_str().unwrap(), "--workers=2", "--max-connections=1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--max-connections 1 is less than the number of workers (2)"), "{err}");
    assert!(!err.contains("ringress running"), "it must not start serving: {err}");
}

/// A kubeconfig that does not exist: the message names it, and each cause
/// is said once.
#[test]
fn a_missing_kubeconfig_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("kubeconfig");
    let out = run(&["--kubernetes", "--kubeconfig", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err.lines().find(|l| l.starts_with("ringress: ")).expect("an error line");
    assert!(line.contains(&format!("--kubeconfig {}", missing.display())), "{line}");
    assert_eq!(line.matches("No such file or directory").count(), 1, "{line}");
}

fn admin_get(admin: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(admin).expect("connect to admin");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

/// With a limit of 48 open files, 80 idle clients exhaust the worker's
/// descriptors: accepts fail (counted and logged), the
/// worker keeps serving the connections it has, and once clients leave it
/// accepts and proxies again. Run under `prlimit`, so the limit is the
/// child's alone.
fn out_of_descriptors(engine: &str) {
    let up = Upstream::start("a");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.yaml"),
        yaml(&[service("web", &[up.addr]), ingress("i", None, &[("/", "Prefix", "web")])]),
    )
    .unwrap();
    let (mut child, lines) = spawn(
        Command::new("prlimit")
            .arg("--nofile=48:48")
            .arg(env!("CARGO_BIN_EXE_ringress"))
            .args(["run", "--manifests"])
            .arg(dir.path())
            .args([
                "--http=127.0.0.1:0",
                "--https=127.0.0.1:0",
                "--admin=127.0.0.1:0",
                "--health=127.0.0.1:0",
            ])
            .args(["--workers=1", "--no-pin", &format!("--io-engine={engine}")])
            .env("RUST_LOG", "warn,ringress::serve=info"),
    );
    let [http, admin] = start_addrs(&lines, ["http", "admin"]);
    let deadline = Instant::now() + DEADLINE;
    while !admin_get(admin, "/readyz").starts_with("HTTP/1.1 200") {
        assert!(Instant::now() < deadline, "ringress never became ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(Client::connect(http).get("x", "/", "").status, 200);

    // Hold more idle clients than the worker has descriptors for; the
    // kernel completes their handshakes into the backlog regardless.
    let held: Vec<TcpStream> = (0..80).map(|_| TcpStream::connect(http).unwrap()).collect();
    let deadline = Instant::now() + DEADLINE;
    let warning = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).expect("an accept failure is logged");
        if line.contains("accept failed") {
            break line;
        }
    };
    assert!(warning.contains("Too many open files"), "{warning}");
    drop(held);

    // Served again once descriptors are free.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut c = Client::connect(http);
        c.w.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        if c.try_response(false).is_some_and(|r| r.status == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "the worker does not serve again");
    }
    let metrics = admin_get(admin, "/metrics");
    let errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ringress_accept_errors_total "))
        .expect("the accept error counter")
        .parse()
        .unwrap();
    assert!(errors > 0, "{metrics}");
    assert!(child.0.try_wait().unwrap().is_none(), "ringress is still running");
}

#[test]
fn out_of_descriptors_io_uring() {
    out_of_descriptors("io-uring");
}

#[test]
fn out_of_descriptors_epoll() {
    out_of_descriptors("epoll");
}

/// A listener that cannot be bound is named in the error: the HTTPS
/// address when it is the HTTPS port that is taken, not the HTTP one.
#[test]
fn a_taken_https_port_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    taken_https_port_is_named("run", dir.path());
}

/// `ringress SUBCOMMAND` on `dir` with its HTTPS port taken: exit 1, and
/// the error names that address as the https listener's.
fn taken_https_port_is_named(subcommand: &str, dir: &std::path::Path) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let https = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_ringress"))
        .args([subcommand, "--manifests", dir.to_str().unwrap(), "--no-pin", "--workers=1"])
        .args([
            "--http=127.0.0.1:0",
            "--admin=127.0.0.1:0",
            "--health=127.0.0.1:0",
            &format!("--https={https}"),
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("run ringress");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("cannot listen on {https} (https)")), "{err}");
}

/// Manifests for `ringress demo` whose one endpoint is not on loopback,
/// so the demo starts no upstream of its own.
fn demo_manifests() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let far: SocketAddr = "192.0.2.1:80".parse().unwrap();
    std::fs::write(
        dir.path().join("site.yaml"),
        yaml(&[
            service("web", &[far]),
            ingress("i", Some("site.example"), &[("/", "Prefix", "web")]),
        ]),
    )
    .unwrap();
    dir
}

/// `ringress demo` takes the listener flags of `run` and binds what it is
/// given (here loopback port 0 for each), not fixed ports.
#[test]
fn demo_binds_the_listeners_it_is_given() {
    let dir = demo_manifests();
    let child = Command::new(env!("CARGO_BIN_EXE_ringress"))
        .args(["demo", "--manifests"])
        .arg(dir.path())
        .args([
            "--http=127.0.0.1:0",
            "--https=127.0.0.1:0",
            "--admin=127.0.0.1:0",
            "--health=127.0.0.1:0",
        ])
        .args(["--workers=1", "--no-pin", "--io-engine=epoll"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ringress demo");
    let mut child = Running(child);
    let lines = child.stderr_lines();
    let [http, https, admin, health] = start_addrs(&lines, ["http", "https", "admin", "health"]);
    for addr in [http, https, admin, health] {
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    }
    assert!(![8080, 8443, 9901].contains(&http.port()), "{http}");
    let deadline = Instant::now() + DEADLINE;
    while !admin_get(admin, "/readyz").starts_with("HTTP/1.1 200") {
        assert!(Instant::now() < deadline, "the demo never became ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(admin_get(admin, "/healthz").starts_with("HTTP/1.1 200"));
    assert_eq!(status_of(health, "/healthz"), 200);
    assert_eq!(status_of(health, "/routes"), 404);
    assert_eq!(Client::connect(http).get("unknown.example", "/", "").status, 404);
    TcpStream::connect(https).expect("the https listener accepts");
    // The curl commands it printed name the address it serves.
    let _ = child.0.kill();
    let mut out = String::new();
    child.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains(&format!("-H 'Host: site.example' http://{http}/")), "{out}");
}

/// A taken port given to `ringress demo` is named in its error, as the
/// listener it was given for.
#[test]
fn demo_names_a_taken_port_in_its_error() {
    let dir = demo_manifests();
    taken_https_port_is_named("demo", dir.path());
}

/// `GET path` on `addr`: the status, 0 when no answer came.
fn status_of(addr: SocketAddr, path: &str) -> u16 {
    let text = admin_get(addr, path);
    text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// `ringress run` on `listen` (with one epoll worker), serving `dir`; its
/// stderr line by line.
fn run_serving(
    dir: &std::path::Path,
    engine: &str,
    listen: &[&str],
) -> (Running, std::sync::mpsc::Receiver<String>) {
    let (child, lines) = spawn(
        Command::new(env!("CARGO_BIN_EXE_ringress"))
            .args(["run", "--manifests"])
            .arg(dir)
            .args(listen)
            .args(["--workers=1", "--no-pin", &format!("--io-engine={engine}")])
            .env("RUST_LOG", "info"),
    );
    (child, lines)
}

/// The health listener named in the start line serves `/healthz`,
/// `/readyz` and `/metrics` and nothing that reveals configuration:
/// `/routes` is 404 there and the live table on the admin listener.
#[test]
fn the_health_listener_serves_probes_and_metrics_only() {
    let up = Upstream::start("a");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.yaml"),
        yaml(&[
            service("web", &[up.addr]),
            ingress("i", Some("site.example"), &[("/", "Prefix", "web")]),
        ]),
    )
    .unwrap();
    let listen = ["--http=127.0.0.1:0", "--https=127.0.0.1:0", "--admin=127.0.0.1:0"];
    let (_child, lines) =
        run_serving(dir.path(), "epoll", &[&listen[..], &["--health=127.0.0.1:0"]].concat());
    let [health, admin] = start_addrs(&lines, ["health", "admin"]);
    assert!(health.port() != 0 && health != admin, "{health} {admin}");
    let deadline = Instant::now() + DEADLINE;
    while status_of(health, "/readyz") != 200 {
        assert!(Instant::now() < deadline, "never ready on the health listener");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(status_of(health, "/healthz"), 200);
    let metrics = admin_get(health, "/metrics");
    assert!(
        metrics.starts_with("HTTP/1.1 200") && metrics.contains("ringress_workers_alive"),
        "{metrics}"
    );
    for config in ["/routes", "/routes?x=1", "/config", "/"] {
        let text = admin_get(health, config);
        assert!(text.starts_with("HTTP/1.1 404"), "{config} on health: {text}");
        assert!(!text.contains("site.example"), "{config} on health: {text}");
    }
    let routes = admin_get(admin, "/routes");
    assert!(routes.starts_with("HTTP/1.1 200") && routes.contains("site.example"), "{routes}");
    for probe in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(status_of(admin, probe), 200, "{probe} on admin");
    }
}

/// `--health` on the admin listener's port is refused at start, naming
/// both addresses.
#[test]
fn health_on_the_admin_port_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ringress"))
        .args(["run", "--manifests", dir.path().to_str().unwrap(), "--no-pin", "--workers=1"])
        .args(["--http=127.0.0.1:0", "--https=127.0.0.1:0"])
        .args(["--admin=127.0.0.1:19901", "--health=0.0.0.0:19901"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run ringress");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot listen on 0.0.0.0:19901 (health)"), "{err}");
    assert!(err.contains("--admin 127.0.0.1:19901"), "{err}");
}

/// An address of this host other than loopback: the source address of a
/// route to a documentation address (no packet is sent), or loopback when
/// the host has no route at all.
fn own_address() -> std::net::IpAddr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    match probe.connect("198.51.100.1:9") {
        Ok(()) => probe.local_addr().unwrap().ip(),
        Err(_) => std::net::Ipv4Addr::LOCALHOST.into(),
    }
}

/// With the HTTP and health listeners on `0.0.0.0`, an EndpointSlice
/// naming this host's own address at either port is refused (the log
/// says which and why) and its route answers 503; a real upstream beside
/// it still serves.
fn wildcard_listeners_are_refused_as_endpoints(engine: &str) {
    let up = Upstream::start("a");
    let dir = tempfile::tempdir().unwrap();
    let listen =
        ["--http=0.0.0.0:0", "--https=127.0.0.1:0", "--admin=127.0.0.1:0", "--health=0.0.0.0:0"];
    let (_child, lines) = run_serving(dir.path(), engine, &listen);
    let [http, health] = start_addrs(&lines, ["http", "health"]);
    let ip = own_address();
    let (at_health, at_http) =
        (SocketAddr::new(ip, health.port()), SocketAddr::new(ip, http.port()));
    std::fs::write(
        dir.path().join("site.yaml"),
        yaml(&[
            service("web", &[up.addr]),
            service("pivot", &[at_health]),
            service("loop", &[at_http]),
            ingress("w", Some("web.example"), &[("/", "Prefix", "web")]),
            ingress("p", Some("pivot.example"), &[("/", "Prefix", "pivot")]),
            ingress("l", Some("loop.example"), &[("/", "Prefix", "loop")]),
        ]),
    )
    .unwrap();
    let local = SocketAddr::from(([127, 0, 0, 1], http.port()));
    let deadline = Instant::now() + DEADLINE;
    while Client::connect(local).get("web.example", "/", "").status != 200 {
        assert!(Instant::now() < deadline, "the table with web.example never loaded");
        std::thread::sleep(Duration::from_millis(10));
    }
    for host in ["pivot.example", "loop.example"] {
        assert_eq!(Client::connect(local).get(host, "/healthz", "").status, 503, "{host}");
    }
    let mut missing = vec![at_health, at_http];
    let mut log = Vec::new();
    while !missing.is_empty() {
        let line = lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("no refusal of {missing:?} logged: {log:#?}"));
        missing.retain(|a| !line.contains(&format!("{a} (one of ringress's own listeners)")));
        log.push(line);
    }
}

#[test]
fn wildcard_listeners_are_refused_as_endpoints_io_uring() {
    wildcard_listeners_are_refused_as_endpoints("io-uring");
}

#[test]
fn wildcard_listeners_are_refused_as_endpoints_epoll() {
    wildcard_listeners_are_refused_as_endpoints("epoll");
}

/// `--default-backend-service NS/NAME`: a request no rule matches (an
/// unknown host, a known host's other path) goes to that Service; matched
/// requests still go to their rules' Services.
fn default_backend_service_catches_the_unmatched(engine: &str) {
    let (web, catch) = (Upstream::start("web"), Upstream::start("catch"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.yaml"),
        yaml(&[
            service("web", &[web.addr]),
            service("catch", &[catch.addr]),
            ingress("i", Some("site.example"), &[("/app", "Prefix", "web")]),
        ]),
    )
    .unwrap();
    let listen = ["--http=127.0.0.1:0", "--https=127.0.0.1:0", "--admin=127.0.0.1:0"];
    let flag = ["--health=127.0.0.1:0", "--default-backend-service=default/catch"];
    let (_child, lines) = run_serving(dir.path(), engine, &[&listen[..], &flag[..]].concat());
    let [http, admin] = start_addrs(&lines, ["http", "admin"]);
    let deadline = Instant::now() + DEADLINE;
    while status_of(admin, "/readyz") != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut c = Client::connect(http);
    assert_eq!(c.get("site.example", "/app/x", "").text(), "web\n");
    assert_eq!(c.get("site.example", "/other", "").text(), "catch\n");
    assert_eq!(c.get("unknown.example", "/", "").text(), "catch\n");
}

#[test]
fn default_backend_service_catches_the_unmatched_io_uring() {
    default_backend_service_catches_the_unmatched("io-uring");
}

#[test]
fn default_backend_service_catches_the_unmatched_epoll() {
    default_backend_service_catches_the_unmatched("epoll");
}
