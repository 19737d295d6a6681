//! A rule's or a `spec.tls` entry's `host` → [`HostMatch`]: the one
//! host syntax that `rules` and `tls` both parse.

use std::fmt;
use std::net::IpAddr;

use crate::table::HostMatch;

#[derive(Debug, PartialEq, Eq)]
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
