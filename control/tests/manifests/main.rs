//! Manifests as files: parsing (YAML streams, JSON, Lists), malformed
//! input and invalid objects reported with file, document, object and
//! field, the directory provider's live reload, and the `check` report.

mod check;
mod dir_provider;
mod parse;

/// An IngressClass, a Service with a ready endpoint and an Ingress routing
/// `host` to it: a complete, valid manifest.
pub fn site(host: &str, svc: &str, ip: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: ringress}}
spec: {{controller: ringress.io/ingress-controller}}
---
apiVersion: v1
kind: Service
metadata: {{name: {svc}, namespace: default}}
spec:
  ports: [{{name: http, port: 80}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {svc}-1
  namespace: default
  labels: {{kubernetes.io/service-name: {svc}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{{addresses: [\"{ip}\"]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {svc}, namespace: default}}
spec:
  ingressClassName: ringress
  rules:
  - host: {host}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}}}
"
    )
}
