//! The Ingress API (networking.k8s.io/v1) as the Kubernetes documentation
//! states it, one named test per rule; each test's doc comment quotes or
//! paraphrases the rule it checks.

use ringress_test_support::manifests as support;

mod annotations;
mod backends;
mod classes;
mod hosts;
mod memo;
mod merge;
mod paths;
mod tls;
