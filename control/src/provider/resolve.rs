//! The ExternalName resolver: the DNS names of the ExternalName Services
//! that served Ingresses name, looked up on the control thread and kept
//! current, for the compiler to read as [`ExternalNames`].
//!
//! Life of a name:
//! 1. before each compile the provider calls
//!    `ExternalNameResolver::options` with its snapshot: the names the
//!    snapshot wants are noted, and the options carry the answers found so
//!    far (a new name is "not resolved yet": 503 with a warning, for the
//!    moment its first lookup takes);
//! 2. a background task looks each wanted name up (A records, AAAA when
//!    there are none; as an absolute name, no search domains), each lookup
//!    a task of its own, so a slow name server delays no other name and
//!    never the compile loop;
//! 3. an answer is asked again when its TTL ends, the TTL clamped to
//!    [`DnsSettings::min_ttl`]..[`DnsSettings::max_ttl`] (5 s to 300 s);
//!    a name that does not resolve is asked again after a back-off
//!    ([`DnsSettings::retry_initial`] doubling to
//!    [`DnsSettings::retry_max`], 5 s to 60 s);
//! 4. when an answer changes, the provider is woken and compiles again.
//!
//! A name the DNS says does not exist (NXDOMAIN, or no address records) is
//! unresolvable: its routes answer 503 with a warning naming the Service,
//! the name and the error. A lookup that fails otherwise (a timeout, an
//! unreachable server) keeps the last addresses the name had, if any: a
//! DNS outage does not take routes down.
//!
//! Production asks the system's name servers (`/etc/resolv.conf`, and
//! `/etc/hosts` first); [`DnsSettings::name_servers`] replaces them (only
//! those servers are asked, no hosts file).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::compile::{
    external_name_target, namespace_of, served, Answer, CompileOptions, ExternalNames,
    ExternalTarget,
};
use crate::snapshot::Snapshot;

/// How ExternalName Services' DNS names are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// Name servers to ask (UDP, then TCP for a truncated answer) instead
    /// of the system's; empty (the default) reads `/etc/resolv.conf`.
    pub name_servers: Vec<SocketAddr>,
    /// Shortest time an answer is kept: a TTL of 0 or 1 s must not turn
    /// into a lookup storm.
    pub min_ttl: Duration,
    /// Longest time an answer is kept, whatever its TTL: a moved service
    /// is followed within this time even behind a day-long TTL.
    pub max_ttl: Duration,
    /// First and longest pause before asking again for a name that did
    /// not resolve (doubling in between).
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Longest one query may take before it is tried again (twice) or
    /// counted as failed.
    pub timeout: Duration,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            name_servers: Vec::new(),
            min_ttl: Duration::from_secs(5),
            max_ttl: Duration::from_secs(300),
            retry_initial: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The DNS names a snapshot wants resolved: those of the ExternalName
/// Services that the served Ingresses' backends name (IP literals need no
/// lookup, invalid names get their diagnostic from the compiler).
pub(crate) fn wanted(snapshot: &Snapshot, options: &CompileOptions) -> BTreeSet<Box<str>> {
    let mut external: HashMap<(&str, &str), Box<str>> = HashMap::new();
    for s in &snapshot.services {
        if let Some(Ok(ExternalTarget::Dns(name))) = external_name_target(&s.object) {
            let meta = &s.object.metadata;
            if let Some(service) = meta.name.as_deref() {
                external.insert((namespace_of(meta), service), name);
            }
        }
    }
    if external.is_empty() {
        // The common case: no Ingress walk at all.
        return BTreeSet::new();
    }
    let mut named: HashSet<(&str, &str)> = HashSet::new();
    for ingress in served(snapshot, options) {
        let ns = namespace_of(&ingress.metadata);
        let Some(spec) = ingress.spec.as_ref() else { continue };
        let rules = spec.rules.iter().flatten().filter_map(|r| r.http.as_ref());
        let paths = rules.flat_map(|h| h.paths.iter().map(|p| &p.backend));
        for backend in spec.default_backend.iter().chain(paths) {
            if let Some(service) = &backend.service {
                named.insert((ns, service.name.as_str()));
            }
        }
    }
    external.into_iter().filter(|(key, _)| named.contains(key)).map(|(_, name)| name).collect()
}

/// What the task and the compile loop share.
#[derive(Default)]
struct Shared {
    /// Written by the compile loop, read by the task.
    wanted: Mutex<BTreeSet<Box<str>>>,
    wanted_changed: Notify,
    /// Written by the task, read by the compile loop.
    answers: Mutex<ExternalNames>,
}

/// A running resolver; its task ends when this is dropped.
pub(crate) struct ExternalNameResolver {
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ExternalNameResolver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ExternalNameResolver {
    /// Start the resolver task on the current runtime; `wake` is notified
    /// whenever an answer changes. Nothing is read or asked until a name
    /// is wanted.
    pub(crate) fn start(settings: &DnsSettings, wake: Arc<Notify>) -> Self {
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(run(shared.clone(), settings.clone(), wake.clone()));
        Self { shared, wake, task }
    }

    /// Note the names `snapshot` wants, and return `options` with the
    /// answers found so far.
    pub(crate) fn options(&self, snapshot: &Snapshot, options: &CompileOptions) -> CompileOptions {
        let wanted = wanted(snapshot, options);
        {
            let mut current = self.shared.wanted.lock().expect("resolver lock");
            if *current != wanted {
                *current = wanted;
                self.shared.wanted_changed.notify_one();
            }
        }
        let mut options = options.clone();
        options.external_names = self.shared.answers.lock().expect("resolver lock").clone();
        options
    }

    /// Resolves when an answer changed since the last call (for a provider
    /// that does not share its wake-up with the resolver).
    pub(crate) async fn changed(&self) {
        self.wake.notified().await
    }
}

/// One wanted name, as the task tracks it.
struct Entry {
    answer: Option<Answer>,
    /// When to ask again (when not in flight).
    due: Instant,
    in_flight: bool,
    /// Failed lookups in a row, for the back-off.
    failures: u32,
}

type Outcome = (Box<str>, Result<(Vec<IpAddr>, Duration), Failure>);

/// Why a lookup found no address.
enum Failure {
    /// The DNS answered: no such name, or no address records.
    Unresolvable(String),
    /// No answer (timeout, network, server failure): keep what we had.
    Error(String),
}

async fn run(shared: Arc<Shared>, settings: DnsSettings, wake: Arc<Notify>) {
    let mut client: Option<Arc<TokioResolver>> = None;
    let mut entries: HashMap<Box<str>, Entry> = HashMap::new();
    let mut lookups: JoinSet<Outcome> = JoinSet::new();
    loop {
        let now = Instant::now();
        let wanted = shared.wanted.lock().expect("resolver lock").clone();
        let before = entries.len();
        entries.retain(|name, _| wanted.contains(name));
        let removed = entries.len() != before;
        let mut changed = false;
        for name in &wanted {
            entries.entry(name.clone()).or_insert(Entry {
                answer: None,
                due: now,
                in_flight: false,
                failures: 0,
            });
        }
        for (name, entry) in entries.iter_mut().filter(|(_, e)| !e.in_flight && e.due <= now) {
            let resolver = match &client {
                Some(c) => c.clone(),
                None => match build(&settings) {
                    Ok(c) => client.insert(Arc::new(c)).clone(),
                    Err(why) => {
                        let failed = Err(Failure::Unresolvable(why));
                        changed |= settle(name, entry, failed, &settings, now);
                        continue;
                    }
                },
            };
            entry.in_flight = true;
            let name = name.clone();
            let limit = settings.timeout * 4;
            lookups.spawn(async move {
                let result = tokio::time::timeout(limit, lookup(&resolver, &name)).await;
                let result = result.unwrap_or_else(|_| Err(Failure::Error("timed out".into())));
                (name, result)
            });
        }
        if changed || removed {
            publish(&shared, &entries, changed.then_some(&*wake));
        }
        let next = entries.values().filter(|e| !e.in_flight).map(|e| e.due).min();
        tokio::select! {
            () = shared.wanted_changed.notified() => {}
            Some(done) = lookups.join_next(), if !lookups.is_empty() => {
                let Ok((name, result)) = done else { continue };
                let Some(entry) = entries.get_mut(&name) else { continue };
                if settle(&name, entry, result, &settings, Instant::now()) {
                    publish(&shared, &entries, Some(&wake));
                }
            }
            () = sleep_until(next) => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Record a lookup's outcome at `now` and schedule the next; true when the
/// answer changed.
fn settle(
    name: &str,
    entry: &mut Entry,
    result: Result<(Vec<IpAddr>, Duration), Failure>,
    settings: &DnsSettings,
    now: Instant,
) -> bool {
    entry.in_flight = false;
    let answer = match result {
        Ok((mut ips, ttl)) => {
            ips.sort();
            ips.dedup();
            entry.failures = 0;
            entry.due = now + ttl.clamp(settings.min_ttl, settings.max_ttl);
            Answer::Addresses(ips)
        }
        Err(failure) => {
            let backoff = settings
                .retry_initial
                .saturating_mul(1 << entry.failures.min(16))
                .min(settings.retry_max);
            entry.failures = entry.failures.saturating_add(1);
            entry.due = now + backoff;
            match (failure, &entry.answer) {
                (Failure::Error(why), Some(Answer::Addresses(ips))) => {
                    tracing::warn!(
                        name,
                        error = %why,
                        ?ips,
                        "ExternalName lookup failed; keeping its last addresses"
                    );
                    return false;
                }
                (Failure::Error(why) | Failure::Unresolvable(why), _) => Answer::Unresolvable(why),
            }
        }
    };
    if entry.answer.as_ref() == Some(&answer) {
        return false;
    }
    match &answer {
        Answer::Addresses(ips) => tracing::info!(name, ?ips, "ExternalName resolved"),
        Answer::Unresolvable(why) => {
            tracing::warn!(name, error = %why, "ExternalName unresolvable")
        }
    }
    entry.answer = Some(answer);
    true
}

/// Hand the current answers to the compile loop; wake it when asked.
fn publish(shared: &Shared, entries: &HashMap<Box<str>, Entry>, wake: Option<&Notify>) {
    let answers: BTreeMap<Box<str>, Answer> =
        entries.iter().filter_map(|(name, e)| Some((name.clone(), e.answer.clone()?))).collect();
    *shared.answers.lock().expect("resolver lock") = ExternalNames::new(answers);
    if let Some(wake) = wake {
        wake.notify_one();
    }
}

/// A resolver as `settings` asks: its own cache is off (the schedule above
/// is the cache), so each lookup asks a name server.
fn build(settings: &DnsSettings) -> Result<TokioResolver, String> {
    let (config, mut options) = if settings.name_servers.is_empty() {
        hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("no name server: reading /etc/resolv.conf: {e}"))?
    } else {
        let servers: Vec<NameServerConfig> = settings
            .name_servers
            .iter()
            .flat_map(|&a| {
                [NameServerConfig::new(a, Protocol::Udp), NameServerConfig::new(a, Protocol::Tcp)]
            })
            .collect();
        let config =
            ResolverConfig::from_parts(None, Vec::new(), NameServerConfigGroup::from(servers));
        let mut options = ResolverOpts::default();
        options.use_hosts_file = ResolveHosts::Never;
        (config, options)
    };
    options.cache_size = 0;
    options.timeout = settings.timeout;
    options.attempts = 2;
    let provider = TokioConnectionProvider::default();
    Ok(TokioResolver::builder_with_config(config, provider).with_options(options).build())
}

/// Look `name` up as an absolute name: its addresses and their TTL.
async fn lookup(resolver: &TokioResolver, name: &str) -> Result<(Vec<IpAddr>, Duration), Failure> {
    resolver.clear_cache();
    let absolute = format!("{name}.");
    match resolver.lookup_ip(absolute.as_str()).await {
        Ok(found) => {
            let ips: Vec<IpAddr> = found.iter().collect();
            if ips.is_empty() {
                return Err(Failure::Unresolvable("no A or AAAA record".into()));
            }
            let ttl = found.valid_until().saturating_duration_since(std::time::Instant::now());
            Ok((ips, ttl))
        }
        Err(e) => Err(classify(&e)),
    }
}

fn classify(e: &ResolveError) -> Failure {
    if e.is_nx_domain() {
        Failure::Unresolvable("no such name (NXDOMAIN)".into())
    } else if e.is_no_records_found() {
        Failure::Unresolvable("no A or AAAA record".into())
    } else {
        Failure::Error(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the ExternalName Services that an Ingress of ours names are
    /// looked up; IP literals and other classes' Ingresses are not.
    #[test]
    fn only_names_that_served_ingresses_reach_are_wanted() {
        let yaml = "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: ringress}
spec: {controller: ringress.io/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: used, namespace: a}
spec: {type: ExternalName, externalName: Used.Example.com.}
---
apiVersion: v1
kind: Service
metadata: {name: ip, namespace: a}
spec: {type: ExternalName, externalName: 192.0.2.1}
---
apiVersion: v1
kind: Service
metadata: {name: unused, namespace: a}
spec: {type: ExternalName, externalName: unused.example.com}
---
apiVersion: v1
kind: Service
metadata: {name: theirs, namespace: a}
spec: {type: ExternalName, externalName: theirs.example.com}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ours, namespace: a}
spec:
  ingressClassName: ringress
  defaultBackend: {service: {name: ip, port: {number: 80}}}
  rules:
  - host: x.example
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: used, port: {number: 80}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: theirs, namespace: a}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: theirs, port: {number: 80}}}
";
        let mut snapshot = Snapshot::default();
        let diagnostics = crate::manifest::parse_str(yaml, None, &mut snapshot);
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        let names = wanted(&snapshot, &CompileOptions::default());
        assert_eq!(names.into_iter().collect::<Vec<_>>(), [Box::from("used.example.com")]);
    }

    fn entry(answer: Option<Answer>) -> Entry {
        Entry { answer, due: Instant::now(), in_flight: true, failures: 0 }
    }

    fn addresses(list: &[&str]) -> Answer {
        Answer::Addresses(list.iter().map(|a| a.parse().unwrap()).collect())
    }

    /// A TTL is kept within the bounds; a failed lookup backs off,
    /// doubling up to the longest retry.
    #[test]
    fn ttls_are_clamped_and_failures_back_off() {
        let s = DnsSettings::default();
        let now = Instant::now();
        let ip = || vec!["10.0.0.1".parse().unwrap()];
        for (ttl, kept) in [(0, 5), (1, 5), (30, 30), (86_400, 300)] {
            let mut e = entry(None);
            settle("n", &mut e, Ok((ip(), Duration::from_secs(ttl))), &s, now);
            assert_eq!(e.due - now, Duration::from_secs(kept), "ttl {ttl}");
        }
        let mut e = entry(None);
        for want in [5, 10, 20, 40, 60, 60] {
            settle("n", &mut e, Err(Failure::Unresolvable("nx".into())), &s, now);
            assert_eq!(e.due - now, Duration::from_secs(want));
        }
        settle("n", &mut e, Ok((ip(), Duration::from_secs(30))), &s, now);
        assert_eq!(e.failures, 0);
    }

    /// A lookup that got no answer keeps the addresses the name had; one
    /// the DNS answered NXDOMAIN drops them; either without addresses
    /// before is unresolvable.
    #[test]
    fn no_answer_keeps_the_last_addresses_and_nxdomain_drops_them() {
        let s = DnsSettings::default();
        let now = Instant::now();
        let had = addresses(&["10.0.0.1"]);
        let mut e = entry(Some(had.clone()));
        assert!(!settle("n", &mut e, Err(Failure::Error("timed out".into())), &s, now));
        assert_eq!(e.answer, Some(had.clone()));
        assert!(!e.in_flight);
        assert!(settle("n", &mut e, Err(Failure::Unresolvable("nx".into())), &s, now));
        assert_eq!(e.answer, Some(Answer::Unresolvable("nx".into())));

        let mut e = entry(None);
        assert!(settle("n", &mut e, Err(Failure::Error("timed out".into())), &s, now));
        assert_eq!(e.answer, Some(Answer::Unresolvable("timed out".into())));
        // The same answer again is no change.
        assert!(!settle("n", &mut e, Err(Failure::Error("timed out".into())), &s, now));
        let new = vec!["10.0.0.2".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        assert!(settle("n", &mut e, Ok((new, Duration::from_secs(9))), &s, now));
        assert_eq!(e.answer, Some(addresses(&["10.0.0.2"])));
    }
}
