//! Compiling 10,000 Ingresses with their Services and EndpointSlices
//! (40,000 endpoints) into a RouteTable: ms per compile.
//!
//! `cargo bench --bench compile -- --warm-up-time 1 --measurement-time 10`

mod control;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ringress_control::{compile, compile_with, CompileOptions, Memo};

fn compile_10k(c: &mut Criterion) {
    let snapshot = control::snapshot(10_000, 1_000);
    let options = CompileOptions::default();
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.bench_function("10k_ingresses_services_slices", |b| {
        b.iter(|| black_box(compile(black_box(&snapshot), &options)))
    });
    // What a provider does after a change: the memo of the previous
    // compile holds every backend made from objects that did not change.
    let mut memo = Memo::default();
    compile_with(&snapshot, &options, &mut memo);
    g.bench_function("10k_recompile_through_memo", |b| {
        b.iter(|| black_box(compile_with(black_box(&snapshot), &options, &mut memo)))
    });
    g.finish();
}

criterion_group!(benches, compile_10k);
criterion_main!(benches);
