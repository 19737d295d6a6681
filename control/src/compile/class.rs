//! IngressClass selection: which Ingresses ringress serves.
//!
//! An Ingress is ours when
//! 1. `spec.ingressClassName` names an IngressClass whose `spec.controller`
//!    is `--controller-class` ([`crate::CONTROLLER_NAME`] by default), so
//!    several installs, each with its own controller class, share a
//!    cluster; or
//! 2. it has neither a class name nor the legacy annotation, and one of our
//!    IngressClasses carries `ingressclass.kubernetes.io/is-default-class: "true"`; or
//! 3. it has no class name and the legacy annotation
//!    `kubernetes.io/ingress.class` equals `--ingress-class`.

use k8s_openapi::api::networking::v1::Ingress;

use super::CompileOptions;
use crate::snapshot::Snapshot;

pub(crate) const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
pub(crate) const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

pub(crate) struct Classes<'a> {
    /// Our IngressClasses' names, sorted (a cluster has a handful: a
    /// search here is cheaper than hashing, and it runs for every Ingress
    /// on every change).
    ours: Vec<&'a str>,
    ours_is_default: bool,
    legacy_name: &'a str,
}

impl<'a> Classes<'a> {
    pub(crate) fn new(snapshot: &'a Snapshot, options: &'a CompileOptions) -> Self {
        let mut ours = Vec::new();
        let mut ours_is_default = false;
        for class in &snapshot.ingress_classes {
            let class = &class.object;
            let controller = class.spec.as_ref().and_then(|s| s.controller.as_deref());
            let Some(name) = class.metadata.name.as_deref() else { continue };
            if controller != Some(options.controller_class.as_str()) {
                continue;
            }
            ours.push(name);
            let default = class
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .is_some_and(|v| v == "true");
            ours_is_default |= default;
        }
        ours.sort_unstable();
        ours.dedup();
        Self { ours, ours_is_default, legacy_name: &options.ingress_class }
    }

    pub(crate) fn is_ours(&self, ingress: &Ingress) -> bool {
        selected(
            ingress,
            |name| self.ours.binary_search(&name).is_ok(),
            self.legacy_name,
            self.ours_is_default,
        )
    }

    /// The same selection, holding its own strings (kept beside the
    /// stores between compiles).
    pub(crate) fn to_owned(&self) -> ClassNames {
        ClassNames {
            ours: self.ours.iter().map(|n| n.to_string()).collect(),
            ours_is_default: self.ours_is_default,
            legacy_name: self.legacy_name.to_string(),
        }
    }
}

/// [`Classes`], owned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ClassNames {
    ours: Vec<String>,
    ours_is_default: bool,
    legacy_name: String,
}

impl ClassNames {
    pub(crate) fn is_ours(&self, ingress: &Ingress) -> bool {
        selected(
            ingress,
            |name| self.ours.binary_search_by(|o| o.as_str().cmp(name)).is_ok(),
            &self.legacy_name,
            self.ours_is_default,
        )
    }
}

/// The rule of the module's header, given which class names are ours.
fn selected(
    ingress: &Ingress,
    ours: impl Fn(&str) -> bool,
    legacy_name: &str,
    ours_is_default: bool,
) -> bool {
    let class_name = ingress.spec.as_ref().and_then(|s| s.ingress_class_name.as_deref());
    if let Some(class_name) = class_name {
        return ours(class_name);
    }
    let legacy = ingress.metadata.annotations.as_ref().and_then(|a| a.get(LEGACY_CLASS_ANNOTATION));
    match legacy {
        Some(value) => value == legacy_name,
        None => ours_is_default,
    }
}
