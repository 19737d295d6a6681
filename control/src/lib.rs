//! # ringress-control
//!
//! The control plane of ringress. It never depends on the data plane; the
//! data plane depends on it only for the [`table::RouteTable`] contract.
//!
//! # Layout
//!
//! - [`table`]: the contract. One immutable [`table::RouteTable`] holding
//!   virtual hosts, routes, backends with their ready endpoints, and TLS
//!   certificates, with a `generation` number; and its lookup.
//! - [`snapshot`]: plain data in: the Kubernetes objects a provider saw.
//! - [`compile`]: pure `compile(&Snapshot, &CompileOptions) -> (RouteTable, Vec<Diagnostic>)`.
//! - [`provider`]: where snapshots come from (manifests directory, Kubernetes).
//! - [`manifest`]: Kubernetes YAML/JSON text → snapshot objects, with
//!   diagnostics naming file, document, object and field.
//! - [`publish`]: the arc-swap cell the workers read from.
//! - [`check`]: the readable report behind `ringress check`.
//! - [`leader`]: Lease-based leader election (client-go scheme).
//! - [`status`]: Ingress `status.loadBalancer`, written by the leader.
//! - [`events`]: Kubernetes Events for invalid Ingresses, by the leader.
#![forbid(unsafe_code)]

pub mod check;
pub mod compile;
pub mod events;
pub mod leader;
pub mod manifest;
pub mod provider;
pub mod publish;
pub mod snapshot;
pub mod status;
pub mod table;

pub use compile::{compile, compile_with, CompileOptions, Diagnostic, Memo, Severity};
pub use publish::{Publisher, TableHandle};
pub use snapshot::Snapshot;
pub use table::RouteTable;

/// The `spec.controller` value of the IngressClasses ringress serves.
pub const CONTROLLER_NAME: &str = "ringress.io/ingress-controller";
/// Default for `--ingress-class`.
pub const DEFAULT_INGRESS_CLASS: &str = "ringress";

/// Parse multi-document Kubernetes YAML (or JSON) from a string and compile
/// it: a helper for tests and tools that want a real table from manifests
/// written inline. Parse problems come back as diagnostics, like compile
/// problems.
pub fn compile_yaml(yaml: &str, options: &CompileOptions) -> (RouteTable, Vec<Diagnostic>) {
    let mut snapshot = Snapshot::default();
    let mut diagnostics = manifest::parse_str(yaml, None, &mut snapshot);
    diagnostics.extend(manifest::dedup(&mut snapshot));
    let (table, mut more) = compile(&snapshot, options);
    diagnostics.append(&mut more);
    (table, diagnostics)
}
