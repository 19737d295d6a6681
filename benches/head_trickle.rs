//! A 48 KiB request head arriving one byte per read: the CPU for the
//! first 8 KiB and for the last 8 KiB, as `Conn::read_head` spends it
//! (`incremental`: `HeadScan::parse_request` after every read) and as it
//! spent it before the scan was wired in (`reparse`: the full parser after
//! every read). Linear work means the two windows cost about the same.
//!
//! `cargo bench --bench head_trickle -- --warm-up-time 1 --measurement-time 5`
//!
//! With `HEAD_TRICKLE_COUNT=1` in the environment it skips criterion and
//! prints the parser runs and bytes looked at per window instead.

use criterion::{black_box, criterion_group, BatchSize, Criterion, Throughput};
use ringress::http::{parse_request_head, HeadLimits, HeadScan, ScanWork};

const KIB: usize = 1024;
const HEAD: usize = 48 * KIB;
const WINDOW: usize = 8 * KIB;

/// A head of exactly [`HEAD`] bytes: request line, Host, padding lines of
/// about 500 bytes (99 lines in all, under the 100-line limit).
fn head() -> Vec<u8> {
    let mut head = b"GET /trickle HTTP/1.1\r\nHost: bench.local\r\n".to_vec();
    let mut i = 0;
    while head.len() + 2 < HEAD {
        let name = format!("X-Pad-{i:02}: ");
        let left = HEAD - 2 - head.len() - name.len() - 2;
        let value = if left >= 1000 { 500 } else { left };
        head.extend_from_slice(name.as_bytes());
        head.resize(head.len() + value, b'a');
        head.extend_from_slice(b"\r\n");
        i += 1;
    }
    head.extend_from_slice(b"\r\n");
    assert_eq!(head.len(), HEAD);
    assert!(parse_request_head(&head, &HeadLimits::DEFAULT).unwrap().is_some());
    head
}

/// The scan state after bytes `..from` arrived one per read.
fn scan_until(src: &[u8], from: usize) -> HeadScan {
    let mut scan = HeadScan::new();
    for len in 1..from {
        assert!(scan.parse_request(&src[..len], &HeadLimits::DEFAULT).unwrap().is_none());
    }
    scan
}

/// Feeds bytes `from..=to` one per read; returns the head length once
/// complete.
fn incremental(src: &[u8], mut scan: HeadScan, from: usize, to: usize) -> (usize, ScanWork) {
    let start = scan.work();
    for len in from..=to {
        if let Some(h) = scan.parse_request(black_box(&src[..len]), &HeadLimits::DEFAULT).unwrap() {
            let w = scan.work();
            return (
                h.head_len,
                ScanWork { parses: w.parses - start.parses, bytes: w.bytes - start.bytes },
            );
        }
    }
    let w = scan.work();
    (0, ScanWork { parses: w.parses - start.parses, bytes: w.bytes - start.bytes })
}

/// The old `read_head`: the full parser after every read.
fn reparse(src: &[u8], from: usize, to: usize) -> usize {
    for len in from..=to {
        if let Some(h) = parse_request_head(black_box(&src[..len]), &HeadLimits::DEFAULT).unwrap() {
            return h.head_len;
        }
    }
    0
}

fn windows() -> [(&'static str, usize, usize); 2] {
    [("first_8k", 1, WINDOW), ("last_8k", HEAD - WINDOW + 1, HEAD)]
}

fn trickle(c: &mut Criterion) {
    let src = head();
    let mut g = c.benchmark_group("head_trickle_48k");
    g.throughput(Throughput::Bytes(WINDOW as u64));
    g.sample_size(10);
    for (name, from, to) in windows() {
        let scan = scan_until(&src, from);
        g.bench_function(format!("incremental/{name}"), |b| {
            b.iter_batched(|| scan, |s| incremental(&src, s, from, to), BatchSize::SmallInput)
        });
    }
    for (name, from, to) in windows() {
        g.bench_function(format!("reparse/{name}"), |b| b.iter(|| reparse(&src, from, to)));
    }
    g.finish();
}

/// `HEAD_TRICKLE_COUNT=1`: the work per window, counted.
fn count_mode() {
    let src = head();
    for (name, from, to) in windows() {
        let (done, work) = incremental(&src, scan_until(&src, from), from, to);
        let reparse_bytes: usize = (from..=to).sum();
        println!(
            "{name}: incremental {} parser runs, {} bytes looked at{}; reparse {} parser runs, \
             about {reparse_bytes} bytes",
            work.parses,
            work.bytes,
            if done > 0 { " (head complete)" } else { "" },
            to - from + 1,
        );
    }
}

criterion_group!(benches, trickle);

fn main() {
    if std::env::var_os("HEAD_TRICKLE_COUNT").is_some() {
        count_mode();
        return;
    }
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
}
