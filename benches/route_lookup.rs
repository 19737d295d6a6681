//! Route lookup at 10,000 rules over 1,000 hosts: ns per `table.route()`.
//!
//! `cargo bench --bench route_lookup -- --warm-up-time 1 --measurement-time 3`

mod control;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
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

criterion_group!(benches, lookup);
criterion_main!(benches);
