//! `run` against the bundled `upstream`, both as real processes on loopback,
//! then `compare` on the reports they wrote.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ringress-load");

/// The upstream process, killed when dropped.
struct Upstream {
    child: Child,
    addr: String,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn upstream(extra: &[&str]) -> Upstream {
    let mut child = Command::new(BIN)
        .args(["upstream", "--listen", "127.0.0.1:0", "--threads", "2", "--no-pin"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start upstream");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("upstream prints its address");
    let addr = line.split_whitespace().nth(4).expect("address in the ready line").to_string();
    Upstream { child, addr }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ringress-load-{}-{name}", std::process::id()))
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("run").args(args).output().expect("run ringress-load")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written"))
        .expect("valid JSON")
}

#[test]
fn closed_loop_against_the_bundled_upstream() {
    let up = upstream(&["--body-size", "100"]);
    let url = format!("http://{}/", up.addr);
    let report = temp("closed.json");
    let plot = temp("closed.svg");
    let out = run(&[
        &url,
        "-c",
        "4",
        "-t",
        "2",
        "-d",
        "1s",
        "-w",
        "200ms",
        "--no-pin",
        "-q",
        "-H",
        "x-body-size: 1000",
        "--json",
        report.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&report);
    let requests = v["requests"].as_u64().unwrap();
    assert!(requests > 0);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["errors_total"], 0, "{v}");
    assert_eq!(v["status"]["2xx"].as_u64(), Some(requests));
    assert_eq!(v["duration_s"], 1.0);
    // Every response carried the 1000-byte body asked for by the header.
    assert!(v["bytes"].as_u64().unwrap() > requests * 1000);
    for k in ["p50", "p90", "p99", "p999", "p9999", "max"] {
        assert!(v["latency_us"][k].as_f64().unwrap() > 0.0, "{k}");
    }
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<polyline"));
    let busy = v["generator_busy"].as_f64().unwrap();
    assert!(busy > 0.0 && busy < 2.0, "generator_busy {busy}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors    none"), "{text}");

    // The same report against itself passes the gate; a halved rate fails it.
    let cmp = |a: &Path, b: &Path| {
        Command::new(BIN)
            .args(["compare", a.to_str().unwrap(), b.to_str().unwrap()])
            .output()
            .unwrap()
    };
    assert_eq!(cmp(&report, &report).status.code(), Some(0));
    let mut slower = v.clone();
    slower["rate"] = serde_json::json!(v["rate"].as_f64().unwrap() / 2.0);
    let slower_path = temp("slower.json");
    std::fs::write(&slower_path, slower.to_string()).unwrap();
    let out = cmp(&report, &slower_path);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REGRESSION"));
    for p in [report, plot, slower_path] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn open_loop_keeps_to_the_schedule_and_carries_a_reference() {
    let up = upstream(&[]);
    let url = format!("http://{}/", up.addr);
    let report = temp("open.json");
    let out = run(&[
        &url,
        "-c",
        "4",
        "-d",
        "1s",
        "-R",
        "400",
        "--no-pin",
        "-q",
        "--reference-url",
        &url,
        "--json",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&report);
    // The schedule allows at most 400 sends in the 1 s window.
    let requests = v["requests"].as_u64().unwrap();
    assert!(requests > 0 && requests <= 400, "{requests}");
    assert_eq!(v["config"]["rate"], 400.0);
    let reference = &v["reference"];
    assert!(reference["requests"].as_u64().unwrap() > 0);
    assert!(reference["requests"].as_u64().unwrap() <= 400);
    assert_eq!(reference["url"], v["url"]);
    let _ = std::fs::remove_file(report);
}

#[test]
fn both_io_engines_serve_and_drive() {
    let up = upstream(&["--io-engine", "epoll"]);
    let url = format!("http://{}/", up.addr);
    for engine in ["epoll", "io-uring", "auto"] {
        let report = temp(&format!("engine-{engine}.json"));
        let out = run(&[
            &url,
            "-c",
            "2",
            "-d",
            "300ms",
            "--no-pin",
            "-q",
            "--io-engine",
            engine,
            "--json",
            report.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if engine == "io-uring" && !out.status.success() && stderr.contains("io_uring") {
            // The kernel refuses io_uring here (e.g. a seccomp profile).
            continue;
        }
        assert!(out.status.success(), "{engine}: {stderr}");
        let v = json(&report);
        assert!(v["requests"].as_u64().unwrap() > 0, "{engine}");
        assert_eq!(v["errors_total"], 0, "{engine}: {v}");
        assert_eq!(v["config"]["io_engine"], engine);
        let _ = std::fs::remove_file(report);
    }
}
