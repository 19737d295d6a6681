//! Every manifest in `deploy/` parses into its k8s-openapi type, the RBAC
//! there grants exactly what the controller calls (the provider's own
//! `API_ACCESS` list), and the workloads carry what the docs promise.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PodSpec, PodTemplateSpec, Probe, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ringress_control::provider::kube::API_ACCESS;
use serde::de::DeserializeOwned;

const NS: &str = "ringress";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[derive(Default)]
struct Manifests {
    namespaces: Vec<Namespace>,
    accounts: Vec<ServiceAccount>,
    cluster_roles: Vec<ClusterRole>,
    cluster_bindings: Vec<ClusterRoleBinding>,
    roles: Vec<Role>,
    bindings: Vec<RoleBinding>,
    classes: Vec<IngressClass>,
    deployments: Vec<Deployment>,
    daemonsets: Vec<DaemonSet>,
    services: Vec<Service>,
    budgets: Vec<PodDisruptionBudget>,
    config_maps: Vec<ConfigMap>,
}

fn typed<T: DeserializeOwned>(path: &Path, doc: serde_yaml::Value) -> T {
    serde_yaml::from_value(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One document of a rendered overlay, with the kustomization it came
/// from (for messages).
type Doc = (PathBuf, serde_yaml::Value);

/// `kubectl kustomize DIR`, exactly what `kubectl apply -k DIR` applies
/// (generators, name hashes and patches included), as documents.
fn render(dir: &Path) -> Vec<Doc> {
    let path = dir.join("kustomization.yaml");
    let out =
        std::process::Command::new("kubectl").arg("kustomize").arg(dir).output().unwrap_or_else(
            |e| panic!("kubectl kustomize {}: {e} (kubectl must be on PATH)", dir.display()),
        );
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 YAML");
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc = serde_yaml::Value::deserialize(doc).unwrap();
        if !doc.is_null() {
            docs.push((path.clone(), doc));
        }
    }
    docs
}

/// The rendered overlay `deploy/<overlay>` as typed objects.
fn load_overlay(overlay: &str) -> Manifests {
    let mut m = Manifests::default();
    for (path, doc) in render(&deploy_dir().join(overlay)) {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "Namespace" => m.namespaces.push(typed(&path, doc)),
            "ServiceAccount" => m.accounts.push(typed(&path, doc)),
            "ClusterRole" => m.cluster_roles.push(typed(&path, doc)),
            "ClusterRoleBinding" => m.cluster_bindings.push(typed(&path, doc)),
            "Role" => m.roles.push(typed(&path, doc)),
            "RoleBinding" => m.bindings.push(typed(&path, doc)),
            "IngressClass" => m.classes.push(typed(&path, doc)),
            "Deployment" => m.deployments.push(typed(&path, doc)),
            "DaemonSet" => m.daemonsets.push(typed(&path, doc)),
            "Service" => m.services.push(typed(&path, doc)),
            "PodDisruptionBudget" => m.budgets.push(typed(&path, doc)),
            "ConfigMap" => m.config_maps.push(typed(&path, doc)),
            other => panic!("{}: unexpected kind {other:?}", path.display()),
        }
    }
    m
}

/// Every overlay `kubectl apply -k` is documented for.
const OVERLAYS: &[&str] = &["", "daemonset", "io-uring", "namespaced"];

/// The default install (`deploy/`) and the DaemonSet variant together,
/// for the checks about workloads.
fn load() -> Manifests {
    let mut m = load_overlay("");
    let ds = load_overlay("daemonset");
    m.daemonsets = ds.daemonsets;
    m
}

/// Every kustomization file under `deploy/`, with its parsed content.
fn kustomizations() -> Vec<(PathBuf, serde_yaml::Value)> {
    let mut all = Vec::new();
    files(&deploy_dir(), &mut all);
    all.into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "kustomization.yaml"))
        .map(|p| {
            let v = serde_yaml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p, v)
        })
        .collect()
}

use serde::Deserialize;

/// (group, resource, verb) triples a set of rules grants.
fn grants(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        assert!(rule.resource_names.is_none(), "rules are not narrowed by name here");
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    assert!(group != "*" && resource != "*" && verb != "*", "no wildcards");
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

fn binds_our_account(subjects: Option<&Vec<k8s_openapi::api::rbac::v1::Subject>>) -> bool {
    subjects.into_iter().flatten().any(|s| {
        s.kind == "ServiceAccount" && s.name == "ringress" && s.namespace.as_deref() == Some(NS)
    })
}

type Grants = BTreeSet<(String, String, String)>;

/// What an overlay grants the ringress ServiceAccount: cluster-wide (bound
/// ClusterRoles), and per namespace (bound Roles). Every role must be
/// bound to the account.
fn granted(m: &Manifests) -> (Grants, std::collections::BTreeMap<String, Grants>) {
    assert!(m.accounts.iter().any(|a| a.metadata.name.as_deref() == Some("ringress")
        && a.metadata.namespace.as_deref() == Some(NS)));
    let mut cluster = BTreeSet::new();
    for role in &m.cluster_roles {
        let name = role.metadata.name.as_deref().unwrap();
        let bound = m.cluster_bindings.iter().any(|b| {
            b.role_ref.kind == "ClusterRole"
                && b.role_ref.name == name
                && binds_our_account(b.subjects.as_ref())
        });
        assert!(bound, "ClusterRole {name} is bound to the ringress ServiceAccount");
        cluster.extend(grants(role.rules.as_deref().unwrap_or_default()));
    }
    let mut by_namespace = std::collections::BTreeMap::<String, Grants>::new();
    for role in &m.roles {
        let name = role.metadata.name.as_deref().unwrap();
        let ns = role.metadata.namespace.clone().expect("a Role has a namespace");
        let bound = m.bindings.iter().any(|b| {
            b.metadata.namespace.as_deref() == Some(&ns)
                && b.role_ref.kind == "Role"
                && b.role_ref.name == name
                && binds_our_account(b.subjects.as_ref())
        });
        assert!(bound, "Role {ns}/{name} is bound to the ringress ServiceAccount");
        by_namespace
            .entry(ns)
            .or_default()
            .extend(grants(role.rules.as_deref().unwrap_or_default()));
    }
    (cluster, by_namespace)
}

fn triple(group: &str, resource: &str, verb: &str) -> (String, String, String) {
    (group.to_string(), resource.to_string(), verb.to_string())
}

/// The cluster-wide installs grant exactly the provider's `API_ACCESS`:
/// the cluster-wide part through a ClusterRole, the Lease through a Role
/// in our namespace.
#[test]
fn rbac_grants_exactly_what_the_controller_calls() {
    let mut wanted_cluster = BTreeSet::new();
    let mut wanted_own = BTreeSet::new();
    for (group, resource, verb, own) in API_ACCESS {
        if *own {
            wanted_own.insert(triple(group, resource, verb))
        } else {
            wanted_cluster.insert(triple(group, resource, verb))
        };
    }
    for overlay in ["", "daemonset", "io-uring"] {
        let (cluster, by_namespace) = granted(&load_overlay(overlay));
        assert_eq!(cluster, wanted_cluster, "deploy/{overlay}: ClusterRole grants");
        assert_eq!(by_namespace.len(), 1, "deploy/{overlay}: Roles only in {NS}");
        assert_eq!(by_namespace[NS], wanted_own, "deploy/{overlay}: Role grants in {NS}");
    }
}

/// `deploy/namespaced/`: `--namespace apps`, everything about Ingresses
/// through a Role in `apps`, reading our own Service in our namespace, and
/// cluster-wide only the cluster-scoped IngressClasses — no cluster-wide
/// Secret access.
#[test]
fn the_namespaced_install_reads_secrets_only_in_its_namespace() {
    const WATCHED: &str = "apps";
    let m = load_overlay("namespaced");
    let (cluster, by_namespace) = granted(&m);
    let cluster_scoped = ["ingressclasses"];
    let mut wanted_cluster = BTreeSet::new();
    let mut wanted_watched = BTreeSet::new();
    let mut wanted_own = BTreeSet::new();
    for (group, resource, verb, own) in API_ACCESS {
        let t = triple(group, resource, verb);
        // --publish-service: a `get` of our own Service.
        let own = *own || (*resource == "services" && *verb == "get");
        if own {
            wanted_own.insert(t);
        } else if cluster_scoped.contains(resource) {
            wanted_cluster.insert(t);
        } else {
            wanted_watched.insert(t);
        }
    }
    assert_eq!(cluster, wanted_cluster, "ClusterRole: only the cluster-scoped kinds");
    assert!(!cluster.iter().any(|(_, r, _)| r == "secrets"));
    assert_eq!(by_namespace.keys().collect::<Vec<_>>(), [WATCHED, NS]);
    assert_eq!(by_namespace[WATCHED], wanted_watched, "Role in {WATCHED}");
    assert_eq!(by_namespace[NS], wanted_own, "Roles in {NS}");
    let deployment = m.deployments.first().expect("the Deployment");
    let pod = deployment.spec.template.spec.as_ref().unwrap();
    let args = container(pod).args.clone().unwrap_or_default();
    assert!(args.contains(&format!("--namespace={WATCHED}")), "{args:?}");
}

/// Every overlay renders (no kustomize cycle, every patch hits its one
/// target) and every object parses into its Kubernetes type.
#[test]
fn every_kustomization_renders_with_kubectl() {
    let all = kustomizations();
    assert!(all.len() >= 6, "base, deployment, daemonset, io-uring, namespaced and deploy/");
    for (path, _) in all {
        let dir = path.parent().expect("a directory");
        assert!(!render(dir).is_empty(), "{}: renders to objects", dir.display());
    }
}

#[test]
fn every_overlay_renders() {
    for overlay in OVERLAYS {
        let m = load_overlay(overlay);
        assert!(!m.deployments.is_empty() || !m.daemonsets.is_empty(), "deploy/{overlay}");
    }
}

fn container(spec: &PodSpec) -> &Container {
    spec.containers.iter().find(|c| c.name == "ringress").expect("a ringress container")
}

/// The health listener's port: probes and scrapes (as ingress-nginx).
const HEALTH_PORT: i32 = 10254;
/// The admin listener's port: `/routes` and the rest, loopback only.
const ADMIN_PORT: i32 = 9901;

/// The value of `--flag=VALUE` among `args`, if given.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().find_map(|a| a.strip_prefix(flag)?.strip_prefix('='))
}

/// A probe's port, by number or by the container port it names.
fn probe_port(c: &Container, probe: &Probe) -> i32 {
    let get = probe.http_get.as_ref().expect("an httpGet probe");
    match &get.port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => {
            let ports = c.ports.iter().flatten();
            let port = ports.clone().find(|p| p.name.as_deref() == Some(name.as_str()));
            port.unwrap_or_else(|| panic!("probe names port {name}, not declared")).container_port
        }
    }
}

/// The admin listener on the pod's loopback, never declared, published or
/// probed; the health listener on every address at 10254, probed and
/// scraped there.
fn check_listeners(what: &str, template: &PodTemplateSpec) {
    let spec = template.spec.as_ref().expect("a pod spec");
    let c = container(spec);
    let args = c.args.clone().unwrap_or_default();
    let admin: std::net::SocketAddr =
        flag(&args, "--admin").expect("--admin given").parse().expect("--admin an address");
    assert!(admin.ip().is_loopback(), "{what}: admin on loopback, not {admin}");
    assert_eq!(admin.port(), ADMIN_PORT as u16, "{what}");
    // Given, or the default (which is this).
    let health = flag(&args, "--health").unwrap_or("0.0.0.0:10254");
    assert_eq!(health, "0.0.0.0:10254", "{what}: health for kubelet and scrapers");
    for port in c.ports.iter().flatten() {
        assert_ne!(port.container_port, ADMIN_PORT, "{what}: admin declared as {port:?}");
        assert_ne!(port.host_port, Some(ADMIN_PORT), "{what}: admin published as {port:?}");
        assert_ne!(port.name.as_deref(), Some("admin"), "{what}: {port:?}");
    }
    let declared = c.ports.iter().flatten().find(|p| p.name.as_deref() == Some("health"));
    assert_eq!(declared.expect("a health port").container_port, HEALTH_PORT, "{what}");
    let probes = [
        (&c.liveness_probe, "/healthz"),
        (&c.readiness_probe, "/readyz"),
        (&c.startup_probe, "/healthz"),
    ];
    for (i, (probe, path)) in probes.into_iter().enumerate() {
        let Some(probe) = probe else {
            assert_eq!(i, 2, "{what}: liveness and readiness probes");
            continue;
        };
        let get = probe.http_get.as_ref().expect("an httpGet probe");
        assert_eq!(get.path.as_deref(), Some(path), "{what}");
        assert_eq!(probe_port(c, probe), HEALTH_PORT, "{what}: {path} on the health port");
    }
    let annotations = template.metadata.as_ref().and_then(|m| m.annotations.clone());
    let annotations = annotations.unwrap_or_default();
    let get = |k: &str| annotations.get(k).map(String::as_str);
    assert_eq!(get("prometheus.io/scrape"), Some("true"), "{what}");
    assert_eq!(get("prometheus.io/port"), Some("10254"), "{what}: scraped on the health port");
    assert_eq!(get("prometheus.io/path"), Some("/metrics"), "{what}");
}

/// The ports clients use: `--public-*-port` when given, else the
/// listener's own. Every overlay's workload answers clients on 80 and 443,
/// which is what the Service (or the host port) exposes, so redirects to
/// https carry no port and `X-Forwarded-Port` is 80 or 443.
fn check_public_ports(what: &str, template: &PodTemplateSpec, services: &[Service]) {
    let c = container(template.spec.as_ref().expect("a pod spec"));
    let args = c.args.clone().unwrap_or_default();
    for (scheme, listener, public, want) in [
        ("http", "--http", "--public-http-port", 80),
        ("https", "--https", "--public-https-port", 443),
    ] {
        let port = match flag(&args, public) {
            Some(p) => p.parse::<u16>().expect("a port"),
            None => {
                let addr = flag(&args, listener).expect("listener given");
                addr.parse::<std::net::SocketAddr>().expect("an address").port()
            }
        };
        assert_eq!(port, want, "{what}: clients reach {scheme} on {want}");
        let host_port = c.ports.iter().flatten().find(|p| p.name.as_deref() == Some(scheme));
        let exposed =
            services.iter().flat_map(|s| s.spec.iter().flat_map(|s| s.ports.iter().flatten()));
        let by_service = exposed.clone().any(|p| {
            p.port == i32::from(want) && p.target_port == Some(IntOrString::String(scheme.into()))
        });
        let by_host = host_port.and_then(|p| p.host_port) == Some(i32::from(want));
        assert!(by_service || by_host, "{what}: {scheme} exposed on {want}");
    }
}

/// A duration flag's seconds (`5s`, `30s`, `1m`), or `default`.
fn seconds(args: &[String], name: &str, default: i64) -> i64 {
    let Some(v) = flag(args, name) else { return default };
    match v.strip_suffix('s') {
        Some(n) => n.parse().expect("seconds"),
        None => v.strip_suffix('m').expect("s or m").parse::<i64>().expect("minutes") * 60,
    }
}

/// The kubelet's grace period covers the shutdown delay, the drain
/// timeout and a margin, so a rollout never kills a drain.
fn check_grace_period(what: &str, spec: &PodSpec) {
    let args = container(spec).args.clone().unwrap_or_default();
    let needed = seconds(&args, "--shutdown-delay", 5) + seconds(&args, "--drain-timeout", 30) + 10;
    let grace = spec.termination_grace_period_seconds.unwrap_or(30);
    assert!(grace >= needed, "{what}: terminationGracePeriodSeconds {grace} < {needed}");
}

/// Every overlay: the admin listener (which serves `/routes`: every host,
/// backend and Secret name) stays on the pod's loopback and no Service
/// reaches it; probes and Prometheus use the health listener.
#[test]
fn every_overlay_keeps_admin_on_loopback_and_probes_on_health() {
    for overlay in OVERLAYS {
        let m = load_overlay(overlay);
        let what = |kind: &str| format!("deploy/{overlay} {kind}");
        let ours = |name: &Option<String>| name.as_deref() == Some("ringress");
        let mut checked = 0;
        for d in m.deployments.iter().filter(|d| ours(&d.metadata.name)) {
            check_listeners(&what("Deployment"), &d.spec.template);
            check_public_ports(&what("Deployment"), &d.spec.template, &m.services);
            check_grace_period(&what("Deployment"), d.spec.template.spec.as_ref().expect("spec"));
            checked += 1;
        }
        for d in m.daemonsets.iter().filter(|d| ours(&d.metadata.name)) {
            check_listeners(&what("DaemonSet"), &d.spec.template);
            check_public_ports(&what("DaemonSet"), &d.spec.template, &m.services);
            check_grace_period(&what("DaemonSet"), d.spec.template.spec.as_ref().expect("spec"));
            checked += 1;
        }
        assert_eq!(checked, 1, "deploy/{overlay}: one ringress workload");
        for svc in &m.services {
            for port in svc.spec.as_ref().and_then(|s| s.ports.as_ref()).into_iter().flatten() {
                let target = port.target_port.clone();
                assert!(
                    port.port != ADMIN_PORT
                        && target != Some(IntOrString::Int(ADMIN_PORT))
                        && target != Some(IntOrString::String("admin".into())),
                    "{}: Service port {port:?} reaches the admin listener",
                    what("Service")
                );
            }
        }
    }
}

fn check_pod(what: &str, spec: &PodSpec) {
    assert_eq!(spec.service_account_name.as_deref(), Some("ringress"), "{what}");
    let c = container(spec);
    let args = c.args.clone().unwrap_or_default();
    assert!(args.iter().any(|a| a == "--kubernetes"), "{what}: --kubernetes");
    assert!(args.iter().any(|a| a.starts_with("--publish-service=")), "{what}: status source");
    // POD_NAME / POD_NAMESPACE through the downward API.
    for (var, field) in [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")] {
        let env = c.env.iter().flatten().find(|e| e.name == var).expect(var);
        let from = env.value_from.as_ref().and_then(|v| v.field_ref.as_ref()).expect(var);
        assert_eq!(from.field_path, field, "{what}: {var}");
    }
    let resources = c.resources.as_ref().expect("resources");
    assert!(resources
        .requests
        .as_ref()
        .is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory")));
    assert!(resources.limits.as_ref().is_some_and(|r| r.contains_key("memory")));
    let sc = c.security_context.as_ref().expect("securityContext");
    assert_eq!(sc.run_as_non_root, Some(true), "{what}");
    assert_eq!(sc.read_only_root_filesystem, Some(true), "{what}");
    let caps = sc.capabilities.as_ref().expect("capabilities");
    assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_string()][..]), "{what}");
    assert_eq!(caps.add.as_deref(), Some(&["NET_BIND_SERVICE".to_string()][..]), "{what}");
    let pod_sc = spec.security_context.as_ref().expect("pod securityContext");
    assert_eq!(pod_sc.run_as_non_root, Some(true));
    assert!(pod_sc.run_as_user.is_some_and(|u| u != 0));
    assert!(pod_sc.seccomp_profile.is_some(), "{what}: a seccomp profile");
}

#[test]
fn workloads_are_locked_down() {
    let m = load();
    let deployment = m.deployments.iter().find(|d| d.metadata.name.as_deref() == Some("ringress"));
    let deployment = deployment.expect("the Deployment");
    let spec = &deployment.spec;
    check_pod("Deployment", spec.template.spec.as_ref().unwrap());
    let c = container(spec.template.spec.as_ref().unwrap());
    assert_eq!(c.security_context.as_ref().unwrap().allow_privilege_escalation, Some(false));

    let ds = m.daemonsets.iter().find(|d| d.metadata.name.as_deref() == Some("ringress"));
    let pod = ds.expect("the DaemonSet variant").spec.template.spec.as_ref().unwrap();
    check_pod("DaemonSet", pod);
    assert_eq!(pod.host_network, Some(true));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));

    // The PodDisruptionBudget and the Service select the proxies.
    let labels = spec.template.metadata.as_ref().unwrap().labels.clone().unwrap();
    let pdb = m.budgets.first().expect("a PodDisruptionBudget");
    let selector =
        pdb.spec.as_ref().unwrap().selector.as_ref().unwrap().match_labels.clone().unwrap();
    assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let service =
        m.services.iter().find(|s| s.metadata.name.as_deref() == Some("ringress")).unwrap();
    let sspec = service.spec.as_ref().unwrap();
    assert_eq!(sspec.type_.as_deref(), Some("LoadBalancer"));
    assert!(sspec.selector.as_ref().unwrap().iter().all(|(k, v)| labels.get(k) == Some(v)));
    let names: BTreeSet<_> = c.ports.iter().flatten().filter_map(|p| p.name.clone()).collect();
    for port in sspec.ports.iter().flatten() {
        let IntOrString::String(target) = port.target_port.clone().unwrap() else {
            panic!("target ports by name")
        };
        assert!(names.contains(&target), "Service targets container port {target}");
    }
    // The published Service is the one in the manifests.
    let publish = c.args.iter().flatten().find(|a| a.starts_with("--publish-service=")).unwrap();
    assert_eq!(publish, "--publish-service=$(POD_NAMESPACE)/ringress");
}

#[test]
fn the_ingress_class_names_this_controller() {
    let m = load();
    let class = m.classes.first().expect("an IngressClass");
    assert_eq!(class.metadata.name.as_deref(), Some(ringress_control::DEFAULT_INGRESS_CLASS));
    let controller = class.spec.as_ref().and_then(|s| s.controller.as_deref());
    assert_eq!(controller, Some(ringress_control::CONTROLLER_NAME));
    assert!(m.namespaces.iter().any(|n| n.metadata.name.as_deref() == Some(NS)));
}

#[test]
fn kustomizations_reference_every_manifest_and_only_existing_files() {
    let mut referenced = BTreeSet::new();
    for (path, doc) in &kustomizations() {
        let dir = path.parent().unwrap();
        for r in doc["resources"].as_sequence().unwrap() {
            let target = dir.join(r.as_str().unwrap());
            assert!(target.exists(), "{}: {} exists", path.display(), target.display());
            if target.is_dir() {
                assert!(target.join("kustomization.yaml").exists());
            } else {
                referenced.insert(target.canonicalize().unwrap());
            }
        }
        for generator in doc["configMapGenerator"].as_sequence().into_iter().flatten() {
            for file in generator["files"].as_sequence().unwrap() {
                let target = dir.join(file.as_str().unwrap());
                assert!(target.exists(), "{}", target.display());
                referenced.insert(target.canonicalize().unwrap());
            }
        }
    }
    let mut all = Vec::new();
    files(&deploy_dir(), &mut all);
    for file in all {
        let name = file.file_name().unwrap().to_str().unwrap();
        if name == "kustomization.yaml" || name == "Containerfile" {
            continue;
        }
        assert!(referenced.contains(&file.canonicalize().unwrap()), "{} is used", file.display());
    }
}

#[test]
fn the_seccomp_profile_adds_io_uring_to_a_deny_by_default_allowlist() {
    let dir = deploy_dir().join("io-uring");
    let text = std::fs::read_to_string(dir.join("ringress-io-uring.json")).unwrap();
    let profile: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    let allowed: BTreeSet<&str> = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| r["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()))
        .collect();
    for name in ["io_uring_setup", "io_uring_enter", "io_uring_register", "epoll_wait", "accept4"] {
        assert!(allowed.contains(name), "{name} allowed");
    }
    // What runtime defaults keep out stays out.
    for name in
        ["mount", "ptrace", "bpf", "unshare", "setns", "kexec_load", "init_module", "userfaultfd"]
    {
        assert!(!allowed.contains(name), "{name} refused");
    }
    // The overlay points the Deployment at the file the installer writes.
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    assert!(kustomization.contains("localhostProfile: profiles/ringress-io-uring.json"));
    let installer = std::fs::read_to_string(dir.join("seccomp-installer.yaml")).unwrap();
    assert!(installer.contains("/host/profiles/ringress-io-uring.json"));
    assert!(installer.contains("path: /var/lib/kubelet/seccomp"));
}

/// The rendered io-uring overlay: the installer mounts the generated
/// ConfigMap, whose name carries a hash of the profile, so changing the
/// profile renames the ConfigMap and rolls the installer; the ConfigMap
/// holds the profile file byte for byte.
#[test]
fn a_changed_seccomp_profile_rolls_the_installer() {
    let m = load_overlay("io-uring");
    let profile = std::fs::read_to_string(deploy_dir().join("io-uring/ringress-io-uring.json"))
        .expect("the profile");
    let [cm] = m.config_maps.as_slice() else { panic!("one ConfigMap: {:?}", m.config_maps) };
    let name = cm.metadata.name.clone().expect("a name");
    let hash = name.strip_prefix("ringress-seccomp-profile-").expect("the generator's name");
    assert!(!hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
    let data = cm.data.as_ref().expect("data");
    assert_eq!(data.get("ringress-io-uring.json"), Some(&profile));
    let installer = m
        .daemonsets
        .iter()
        .find(|d| d.metadata.name.as_deref() != Some("ringress"))
        .expect("the installer DaemonSet");
    let spec = installer.spec.template.spec.as_ref().expect("pod spec");
    let mounted: Vec<_> = spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.config_map.as_ref())
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(mounted, [name], "the installer mounts the hashed ConfigMap");
}
