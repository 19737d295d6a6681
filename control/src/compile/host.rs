//! A rule's or a `spec.tls` entry's `host` → [`HostMatch`]: the one
//! host syntax that `rules` and `tls` both parse.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::Ingress;

use crate::snapshot::Sourced;
use crate::table::{FastMap, HostMatch};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostError {
    IpAddress,
    Invalid(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::IpAddress => f.write_str("a host must be a DNS name, not an IP address"),
            HostError::Invalid(why) => f.write_str(why),
        }
    }
}

/// Parse a rule's `host`: absent or empty → [`HostMatch::Any`]; `*.suffix`
/// → wildcard; otherwise a DNS-1123 subdomain, lower-cased.
pub(crate) fn parse_host(host: Option<&str>) -> Result<HostMatch, HostError> {
    let Some(host) = host.filter(|h| !h.is_empty()) else { return Ok(HostMatch::Any) };
    if host.parse::<IpAddr>().is_ok() {
        return Err(HostError::IpAddress);
    }
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, host),
    };
    check_dns_name(name).map_err(|why| HostError::Invalid(format!("\"{host}\": {why}")))?;
    let name = name.to_ascii_lowercase().into_boxed_str();
    Ok(if wildcard { HostMatch::Wildcard(name) } else { HostMatch::Exact(name) })
}

fn check_dns_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty DNS name");
    }
    if name.len() > 253 {
        return Err("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each label must have 1 to 63 characters");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("only letters, digits, '-' and '.' are allowed (a '*' only as the whole first label)");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label must not start or end with '-'");
        }
    }
    Ok(())
}

/// The hosts of one Ingress, parsed once per object.
#[derive(Debug)]
pub(crate) struct IngressHosts {
    /// Each rule's `host`, parsed, in rule order.
    pub(crate) rules: Vec<Result<HostMatch, HostError>>,
    /// The hosts it names, in a rule or under `spec.tls`, each once, sorted;
    /// host-less rules and hosts that do not parse are left out.
    pub(crate) named: Vec<HostMatch>,
}

impl IngressHosts {
    fn of(ingress: &Ingress) -> Self {
        let Some(spec) = ingress.spec.as_ref() else {
            return Self { rules: Vec::new(), named: Vec::new() };
        };
        let rules: Vec<_> =
            spec.rules.iter().flatten().map(|r| parse_host(r.host.as_deref())).collect();
        let tls_hosts = spec.tls.iter().flatten().flat_map(|t| t.hosts.iter().flatten());
        let mut named: Vec<HostMatch> = rules
            .iter()
            .filter_map(|h| h.as_ref().ok().cloned())
            .chain(tls_hosts.filter_map(|h| parse_host(Some(h)).ok()))
            .filter(|h| *h != HostMatch::Any)
            .collect();
        if named.len() > 1 {
            named.sort();
            named.dedup();
        }
        Self { rules, named }
    }
}

/// [`IngressHosts`] of the Ingresses of the previous compile, by object
/// identity (the providers hand out the same `Arc` until an object
/// changes): a compile parses the hosts of new objects only.
#[derive(Default)]
pub(crate) struct HostsMemo {
    seen: FastMap<usize, (Arc<Ingress>, Arc<IngressHosts>)>,
    next: FastMap<usize, (Arc<Ingress>, Arc<IngressHosts>)>,
}

impl HostsMemo {
    /// The hosts of each Ingress, in the order given.
    pub(crate) fn hosts_of(&mut self, ingresses: &[&Sourced<Ingress>]) -> Vec<Arc<IngressHosts>> {
        self.next.clear();
        let hosts = ingresses
            .iter()
            .map(|i| {
                let key = Arc::as_ptr(&i.object) as usize;
                let hosts = match self.seen.get(&key) {
                    Some((_, hosts)) => hosts.clone(),
                    None => Arc::new(IngressHosts::of(&i.object)),
                };
                self.next.insert(key, (i.object.clone(), hosts.clone()));
                hosts
            })
            .collect();
        std::mem::swap(&mut self.seen, &mut self.next);
        self.next.clear();
        hosts
    }
}
