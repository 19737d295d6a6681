//! Invalid flags get a clear message and exit code 2.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ringress-load");

fn fails_with_2(args: &[&str], says: &str) {
    let out = Command::new(BIN).args(args).output().expect("run ringress-load");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: expected {says:?} in {stderr}");
}

#[test]
fn bad_values_name_the_flag_and_the_problem() {
    fails_with_2(&["run", "http://127.0.0.1:1/", "--duration", "10parsecs"], "unknown unit");
    fails_with_2(&["run", "ftp://127.0.0.1/"], "must start with http:// or https://");
    fails_with_2(&["run", "http://127.0.0.1:1/", "--rate", "0"], "rate");
    fails_with_2(&["run", "http://127.0.0.1:1/", "-c", "0"], "--connections");
    fails_with_2(&["run", "http://127.0.0.1:1/", "-H", "no colon"], "Name: value");
    fails_with_2(&["run", "http://127.0.0.1:1/", "--bogus"], "--bogus");
    fails_with_2(&["upstream", "--listen", "nowhere"], "IP:PORT");
    fails_with_2(&["frobnicate"], "frobnicate");
}

#[test]
fn unreadable_files_are_named() {
    let missing = std::env::temp_dir().join("ringress-load-no-such-file.bin");
    let missing = missing.to_str().unwrap();
    fails_with_2(&["run", "http://127.0.0.1:1/", "--body-file", missing], missing);
    fails_with_2(&["run", "https://127.0.0.1:1/", "--cacert", missing], missing);
    fails_with_2(&["compare", missing, missing], missing);
}
