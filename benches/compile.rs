//! Compiling 10,000 Ingresses with their Services and EndpointSlices
//! (40,000 endpoints) into a RouteTable: ms per compile.
//!
//! `cargo bench --bench compile -- --warm-up-time 1 --measurement-time 10`

mod control;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ringress_control::{compile, CompileOptions};

fn compile_10k(c: &mut Criterion) {
    let snapshot = control::snapshot(10_000, 1_000);
    let options = CompileOptions::default();
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.bench_function("10k_ingresses_services_slices", |b| {
        b.iter(|| black_box(compile(black_box(&snapshot), &options)))
    });
    g.finish();
}

criterion_group!(benches, compile_10k);
criterion_main!(benches);
