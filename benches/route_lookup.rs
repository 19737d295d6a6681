//! Route lookup at 10,000 rules over 1,000 hosts: ns per `table.route()`.
//!
//! `cargo bench --bench route_lookup -- --warm-up-time 1 --measurement-time 3`
//!
//! With `ROUTE_LOOKUPS=N` in the environment it skips criterion and does
//! N exact-host lookups after building the table, for instruction counts
//! under callgrind (`benches/lookup-instructions.sh` subtracts a run with
//! N=0, so only the lookups remain).

mod control;

use criterion::{black_box, criterion_group, Criterion, Throughput};
use ringress_control::{compile, CompileOptions, RouteTable};

const RULES: usize = 10_000;
const HOSTS: usize = 1_000;

fn table() -> RouteTable {
    let (table, diagnostics) =
        compile(&control::snapshot(RULES, HOSTS), &CompileOptions::default());
    assert!(diagnostics.is_empty(), "{:?}", diagnostics.first());
    table
}

/// Requests as they arrive: mixed-case hosts with ports, paths with
/// queries, deeper than the rule.
fn requests(kind: &str) -> Vec<(String, String)> {
    (0..RULES)
        .step_by(7)
        .filter_map(|i| {
            let h = i % HOSTS;
            let wildcard = h % 10 == 9;
            let host = match (kind, wildcard) {
                ("wildcard", true) => format!("Tenant{i}.H{h}.bench.example:8443"),
                ("exact", false) | ("miss", false) => format!("H{h}.Bench.Example:8080"),
                _ => return None,
            };
            let path = match (kind, i % 4) {
                ("miss", _) => "/nothing/here/at/all".to_string(),
                (_, 0) => format!("/svc{i}/items/42?page=2"),
                (_, 1) => format!("/api/v{}/svc{i}/users/7", i % 3),
                (_, 2) => format!("/svc{i}/status"),
                _ => format!("/static/svc{i}/app.js?v=3"),
            };
            Some((host, path))
        })
        .collect()
}

fn lookup(c: &mut Criterion) {
    let table = table();
    let mut g = c.benchmark_group("route_lookup_10k_rules_1k_hosts");
    g.throughput(Throughput::Elements(1));
    for kind in ["exact", "wildcard", "miss"] {
        let reqs = requests(kind);
        for (h, p) in &reqs {
            let found = table.route(h, p).is_some();
            assert_eq!(found, kind != "miss", "{h} {p}");
        }
        let mut i = 0;
        g.bench_function(kind, |b| {
            b.iter(|| {
                let (h, p) = &reqs[i % reqs.len()];
                i += 1;
                black_box(table.route(black_box(h), black_box(p)))
            })
        });
    }
    g.finish();
}

/// `ROUTE_LOOKUPS=N`: build the table, then N lookups cycling over the
/// exact-host requests, and nothing else.
fn count_mode(n: usize) {
    let table = table();
    let reqs = requests("exact");
    let mut found = 0usize;
    for i in 0..n {
        let (h, p) = &reqs[i % reqs.len()];
        found += usize::from(black_box(table.route(black_box(h), black_box(p))).is_some());
    }
    assert_eq!(found, n, "every exact-host request has a route");
    println!("{n} lookups over {} distinct requests", reqs.len());
}

criterion_group!(benches, lookup);

fn main() {
    if let Ok(n) = std::env::var("ROUTE_LOOKUPS") {
        count_mode(n.parse().expect("ROUTE_LOOKUPS is a number of lookups"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
