//! The `ringress` binary as a child process, for the tests that run it as
//! deployed: killed when dropped, its stderr delivered line by line, the
//! addresses read off its start line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::DEADLINE;

/// Start `command` (the `ringress` binary with its arguments and
/// `RUST_LOG` set) with colours off, stdout dropped and stderr read line by
/// line: the child, and its stderr lines.
pub fn spawn(command: &mut Command) -> (Running, mpsc::Receiver<String>) {
    let child = command
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ringress");
    let mut child = Running(child);
    let lines = child.stderr_lines();
    (child, lines)
}

/// A running child, killed and reaped when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Its stderr (which must be piped), line by line, colours removed.
    pub fn stderr_lines(&mut self) -> mpsc::Receiver<String> {
        let (tx, lines) = mpsc::channel();
        let stderr = self.0.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(plain(&line));
            }
        });
        lines
    }
}

/// Wait for the `ringress running` line and read the addresses named in
/// it (`http`, `admin`, …), in the order asked.
pub fn start_addrs<const N: usize>(
    lines: &mpsc::Receiver<String>,
    names: [&str; N],
) -> [SocketAddr; N] {
    let mut log = Vec::new();
    loop {
        let line = lines.recv_timeout(DEADLINE).unwrap_or_else(|_| panic!("no start: {log:#?}"));
        if line.contains("ringress running") {
            return names.map(|name| {
                let prefix = format!("{name}=");
                let addr = line.split_whitespace().find_map(|f| f.strip_prefix(prefix.as_str()));
                addr.unwrap_or_else(|| panic!("{name}= in {line}")).parse().unwrap()
            });
        }
        log.push(line);
    }
}

/// Remove ANSI colour sequences from a log line.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
