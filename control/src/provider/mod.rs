//! Where snapshots come from: a manifests directory (`dir`) or a cluster
//! (`kube`).
