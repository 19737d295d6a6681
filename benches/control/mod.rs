//! A synthetic cluster for the control-plane benches: `ingresses` Ingresses
//! spread over `hosts` hosts (exact and wildcard), each with its own
//! Service (named port) and an EndpointSlice of three ready endpoints and
//! one not ready. Written as ordinary manifests YAML and parsed once.

use std::fmt::Write;

use ringress_control::manifest::parse_str;
use ringress_control::Snapshot;

pub fn manifests(ingresses: usize, hosts: usize) -> String {
    let mut y = String::with_capacity(ingresses * 1400);
    y.push_str(
        "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: ringress}
spec: {controller: ringress.io/ingress-controller}
",
    );
    for i in 0..ingresses {
        let h = i % hosts;
        // Every tenth host is a wildcard.
        let host = if h % 10 == 9 {
            format!("*.h{h}.bench.example")
        } else {
            format!("h{h}.bench.example")
        };
        let ns = format!("ns{}", i % 50);
        let (a, b) = ((i / 250) % 250, i % 250);
        let (path, path_type) = match i % 4 {
            0 => (format!("/svc{i}"), "Prefix"),
            1 => (format!("/api/v{}/svc{i}", i % 3), "Prefix"),
            2 => (format!("/svc{i}/status"), "Exact"),
            _ => (format!("/static/svc{i}/"), "ImplementationSpecific"),
        };
        let _ = write!(
            y,
            "---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: ing{i}, namespace: {ns}}}
spec:
  ingressClassName: ringress
  rules:
  - host: \"{host}\"
    http:
      paths:
      - path: {path}
        pathType: {path_type}
        backend: {{service: {{name: svc{i}, port: {{number: 80}}}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: svc{i}, namespace: {ns}}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc{i}-x1
  namespace: {ns}
  labels: {{kubernetes.io/service-name: svc{i}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints:
- {{addresses: [10.{a}.{b}.1], conditions: {{ready: true}}}}
- {{addresses: [10.{a}.{b}.2], conditions: {{ready: true}}}}
- {{addresses: [10.{a}.{b}.3]}}
- {{addresses: [10.{a}.{b}.4], conditions: {{ready: false}}}}
"
        );
    }
    y
}

pub fn snapshot(ingresses: usize, hosts: usize) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let diagnostics = parse_str(&manifests(ingresses, hosts), None, &mut snapshot);
    assert!(diagnostics.is_empty(), "synthetic manifests parse: {:?}", diagnostics.first());
    snapshot
}
