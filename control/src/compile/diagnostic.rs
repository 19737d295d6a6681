//! A problem found while reading or compiling, and how it prints.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::snapshot::Origin;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The object still takes part (e.g. a backend answers 503).
    Warning,
    /// The object, or the part of it named by `field`, was skipped.
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

impl Diagnostic {
    /// A diagnostic about an object with metadata `meta`.
    pub(crate) fn about(
        severity: Severity,
        kind: &str,
        meta: &ObjectMeta,
        origin: Option<&Origin>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind: kind.to_string(),
            namespace: Some(super::namespace_of(meta).to_string()),
            name: meta.name.clone(),
            field: field.into(),
            reason: reason.into(),
            origin: origin.cloned(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

impl fmt::Display for Diagnostic {
    /// `error: FILE:LINE (document N): Kind ns/name: field: reason`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.severity)?;
        if let Some(o) = &self.origin {
            if o.file.as_os_str().is_empty() {
                write!(f, "document {}", o.document)?;
            } else {
                write!(f, "{}", o.file.display())?;
                if o.line > 0 {
                    write!(f, ":{}", o.line)?;
                }
                write!(f, " (document {})", o.document)?;
            }
            f.write_str(": ")?;
        }
        if !self.kind.is_empty() {
            f.write_str(&self.kind)?;
            match (&self.namespace, &self.name) {
                (Some(ns), Some(n)) => write!(f, " {ns}/{n}")?,
                (None, Some(n)) => write!(f, " {n}")?,
                _ => {}
            }
            f.write_str(": ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.reason)
    }
}
