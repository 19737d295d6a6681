//! `ringress run` refuses a configuration source it cannot use before it
//! listens: the process exits at once with a message naming the flag's
//! value, and nothing is left serving an empty table.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

/// Run `ringress run ARGS` on ports 0; it must exit by itself.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringress"))
        .arg("run")
        .args(args)
        .args(["--http=127.0.0.1:0", "--https=127.0.0.1:0", "--admin=127.0.0.1:0"])
        .args(["--workers=1", "--no-pin"])
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
