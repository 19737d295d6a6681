//! A `use-regex` host with 100 regex paths: ns per `table.route()`. The
//! target (issue 13) is under 2 µs per lookup on the project machine.
//!
//! `cargo bench -p ringress-control --bench regex_route -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringress_control::{compile_yaml, CompileOptions, RouteTable};

const PATHS: usize = 100;

/// One Ingress, `use-regex: "true"`, 100 ImplementationSpecific paths in
/// the shapes real manifests use (capture groups, alternations, classes).
fn table() -> RouteTable {
    let mut paths = String::new();
    for i in 0..PATHS {
        let path = match i % 4 {
            0 => format!("/svc{i}(/|$)(.*)"),
            1 => format!("/api/v[0-9]+/svc{i}/.*"),
            2 => format!("/static/svc{i}/.+\\\\.(js|css)"),
            _ => format!("/(en|de|fr)/svc{i}"),
        };
        paths.push_str(&format!(
            "      - {{path: \"{path}\", pathType: ImplementationSpecific, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}\n"
        ));
    }
    let yaml = format!(
        "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: ringress}}
spec: {{controller: ringress.io/ingress-controller}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec: {{ports: [{{name: http, port: 80}}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: regex
  namespace: default
  annotations: {{nginx.ingress.kubernetes.io/use-regex: \"true\"}}
spec:
  ingressClassName: ringress
  rules:
  - host: regex.example
    http:
      paths:
{paths}"
    );
    let (table, diagnostics) = compile_yaml(&yaml, &CompileOptions::default());
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:#?}");
    table
}

fn lookup(c: &mut Criterion) {
    let table = table();
    let requests: Vec<String> = (0..PATHS)
        .map(|i| match i % 4 {
            0 => format!("/svc{i}/items/42?page=2"),
            1 => format!("/api/v2/svc{i}/users/7"),
            2 => format!("/static/svc{i}/app.js?v=3"),
            _ => format!("/de/svc{i}"),
        })
        .collect();
    for r in &requests {
        assert!(table.route("regex.example", r).is_some(), "{r}");
    }
    let mut g = c.benchmark_group("regex_host_100_paths");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("hit", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            black_box(table.route(black_box("Regex.Example:8080"), black_box(&requests[i])))
        })
    });
    g.bench_function("miss", |b| {
        b.iter(|| black_box(table.route(black_box("regex.example"), black_box("/nothing/here"))))
    });
    g.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
