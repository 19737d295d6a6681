//! The pure compiler: Kubernetes objects in, one [`RouteTable`] and its
//! diagnostics out. No I/O.

use crate::snapshot::{Origin, Snapshot};
use crate::table::RouteTable;

/// How to compile.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// `--ingress-class` (default `ringress`): the legacy
    /// `kubernetes.io/ingress.class` annotation value we answer to.
    pub ingress_class: String,
    /// `--default-certificate NAMESPACE/NAME`.
    pub default_certificate: Option<(String, String)>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self { ingress_class: crate::DEFAULT_INGRESS_CLASS.to_string(), default_certificate: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// A problem found while reading or compiling: which object, which field,
/// why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// `Kind`, e.g. `Ingress`.
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// JSON-path-like field, e.g. `spec.rules[0].http.paths[1].backend.service.port`.
    pub field: String,
    pub reason: String,
    pub origin: Option<Origin>,
}

pub fn compile(_snapshot: &Snapshot, _options: &CompileOptions) -> (RouteTable, Vec<Diagnostic>) {
    todo!("route-table issue")
}
