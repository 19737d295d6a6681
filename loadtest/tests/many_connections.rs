//! Many connections from one generator: opened at `--connect-rate` before
//! the load starts, the open-files limit raised as needed, connect errors
//! reported apart from request errors, and the generator's own memory
//! per connection. The bundled upstream and the generator are separate
//! processes, so each one's descriptors and memory are its own.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ringress-load");
const CONNECTIONS: u32 = 2000;
/// Far longer than the run (0.2 s of opening, 1 s of load) needs.
const DEADLINE: Duration = Duration::from_secs(60);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ringress-load-{}-{name}", std::process::id()))
}

/// Runs the generator with `args`, killed at the deadline; its report.
fn run(args: &[&str], json: &PathBuf) -> serde_json::Value {
    let mut child = Killed(
        Command::new(BIN)
            .arg("run")
            .args(args)
            .args(["-q", "--no-pin", "--json", json.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ringress-load run"),
    );
    let until = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for run") {
            break status;
        }
        assert!(Instant::now() < until, "run still going after {DEADLINE:?}");
        std::thread::park_timeout(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr);
    assert!(status.success(), "run failed: {stderr}");
    let text = std::fs::read_to_string(json).expect("report written");
    let _ = std::fs::remove_file(json);
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn two_thousand_connections_open_at_the_connect_rate_and_report_their_memory() {
    let mut up = Killed(
        Command::new(BIN)
            .args(["upstream", "--listen", "127.0.0.1:0", "--threads", "1", "--no-pin"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start upstream"),
    );
    let mut line = String::new();
    BufReader::new(up.0.stdout.take().unwrap()).read_line(&mut line).expect("ready line");
    let addr = line.split_whitespace().nth(4).expect("address in the ready line");
    let url = format!("http://{addr}/");
    let n = CONNECTIONS.to_string();
    let r = run(
        &[
            &url,
            "-c",
            &n,
            "--rate",
            "2000",
            "-d",
            "1s",
            "--connect-rate",
            "10000",
            "--timeout",
            "10s",
        ],
        &temp("many.json"),
    );
    assert_eq!(r["config"]["connect_rate"], 10000.0);
    assert_eq!(r["connections_opened"], u64::from(CONNECTIONS), "{r}");
    assert_eq!(r["connections_failed"], 0, "{r}");
    assert_eq!(r["connect_errors"], 0, "{r}");
    assert_eq!(r["request_errors"], 0, "{r}");
    assert!(r["requests"].as_u64().unwrap() > 0, "{r}");
    // An idle HTTP/1.1 connection: its socket, its task, no buffer yet.
    let per = r["generator_rss_per_connection"].as_f64().unwrap();
    assert!(per > 0.0 && per < 16.0 * 1024.0, "{per} bytes per connection");
}

#[test]
fn connect_errors_are_apart_from_request_errors() {
    // A port nothing listens on: every connect is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let url = format!("http://{addr}/");
    let r = run(&[&url, "-c", "4", "-d", "300ms", "--rate", "100"], &temp("refused.json"));
    assert_eq!(r["connections_opened"], 0, "{r}");
    assert_eq!(r["connections_failed"], 4, "{r}");
    assert!(r["connect_errors"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["request_errors"], 0, "{r}");
    assert_eq!(r["connect_errors"], r["errors"]["connect"], "{r}");
}

#[test]
fn an_open_files_limit_that_cannot_be_raised_is_named() {
    // The child gets a hard limit of 256 (prlimit, util-linux) and, when
    // this test runs as root, loses CAP_SYS_RESOURCE (setpriv), so that
    // it cannot raise the hard limit to the 1,064 descriptors -c 1000 needs.
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut command = Command::new(if root { "setpriv" } else { "prlimit" });
    if root {
        command.args(["--bounding-set=-sys_resource", "--inh-caps=-sys_resource", "prlimit"]);
    }
    let out = command
        .args(["--nofile=256:256", "--", BIN, "run", "http://127.0.0.1:1/", "-c", "1000"])
        .args(["-d", "100ms", "-q", "--no-pin"])
        .output()
        .expect("run prlimit (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("RLIMIT_NOFILE") && stderr.contains("1064"), "{stderr}");
    assert!(stderr.contains("hard limit 256"), "{stderr}");
}
