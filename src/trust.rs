//! Which downstream peers are trusted to say who the client is
//! (`--trusted-proxies`), and the client address that follows from it.
//!
//! A peer outside the set is the client, whatever its headers claim. A
//! peer inside it (a load balancer or CDN in front of the proxy) has its
//! `X-Forwarded-For` believed: the client is the right-most address in it
//! that is not itself trusted, as nginx's `real_ip_recursive on`. Reading
//! from the right matters: everything left of the first untrusted hop was
//! written by that hop, so a client cannot choose it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// One network: an address with its prefix length, host bits zero.
/// IPv4-mapped IPv6 networks (`::ffff:a.b.c.d/n`, n >= 96) are stored as
/// IPv4, so a mapped peer and a plain IPv4 one are the same client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` (canonicalised: IPv4-mapped IPv6 as IPv4) is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask32(self.prefix) & u32::from(ip) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(self.prefix) & u128::from(ip) == u128::from(net)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// Why a `--trusted-proxies` entry was refused; each names the entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// An empty entry (`a,,b`, a trailing comma, or an empty list).
    #[error("empty entry in the trusted proxy list")]
    Empty,
    /// The part before `/` is not an IP address.
    #[error("trusted proxy `{0}`: not an IP address or CIDR (like 10.0.0.0/8 or fd00::/8)")]
    Address(String),
    /// The prefix length is not a number within the family's width.
    #[error("trusted proxy `{entry}`: prefix length must be a number from 0 to {max}")]
    Prefix {
        /// The entry as given.
        entry: String,
        /// 32 or 128.
        max: u8,
    },
    /// Bits set below the prefix: probably a typo for the network.
    #[error("trusted proxy `{entry}`: bits set after the prefix; the network is {network}")]
    HostBits {
        /// The entry as given.
        entry: String,
        /// What was probably meant.
        network: String,
    },
}

/// The peers trusted to report the client's address: `--trusted-proxies`.
/// Empty by default: no peer is trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<Cidr>,
}

impl TrustedProxies {
    /// No peer trusted (the default).
    pub const NONE: TrustedProxies = TrustedProxies { networks: Vec::new() };

    /// Whether no peer is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// The networks, in the order given.
    pub fn networks(&self) -> &[Cidr] {
        &self.networks
    }

    /// Whether `ip` is a trusted proxy (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The client address of a request from `peer` whose `X-Forwarded-For`
    /// lines, in order, are `forwarded_for`: `peer` when it is not trusted;
    /// otherwise the right-most listed address that is not trusted, or the
    /// left-most one when all are. An entry that is not an address (the
    /// `unknown` of RFC 7239, garbage) stops the walk: the last address
    /// read, a trusted one, is the client then. Entries may carry a port
    /// (`192.0.2.1:80`, `[2001:db8::1]:80`). Allocates nothing.
    pub fn client_address<'a, I>(&self, peer: IpAddr, forwarded_for: I) -> IpAddr
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        for line in forwarded_for.rev() {
            for entry in line.rsplit(|&b| b == b',') {
                let entry = entry.trim_ascii();
                if entry.is_empty() {
                    continue;
                }
                let Some(ip) = parse_forwarded_address(entry) else { return client };
                client = ip.to_canonical();
                if !self.contains(client) {
                    return client;
                }
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = TrustError;

    /// Parses `10.0.0.0/8,fd00::/8,192.168.1.1`: comma-separated networks
    /// or single addresses (a /32 or /128), whitespace around entries
    /// allowed.
    fn from_str(list: &str) -> Result<Self, TrustError> {
        let networks = list.split(',').map(|e| e.trim().parse()).collect::<Result<_, _>>()?;
        Ok(TrustedProxies { networks })
    }
}

impl FromStr for Cidr {
    type Err = TrustError;

    fn from_str(entry: &str) -> Result<Self, TrustError> {
        if entry.is_empty() {
            return Err(TrustError::Empty);
        }
        let (addr, prefix) = match entry.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (entry, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| TrustError::Address(entry.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Digits only: `u8`'s parser would take a leading `+`.
            Some(p) => Some(p)
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u8>().ok())
                .filter(|&p| p <= max)
                .ok_or_else(|| TrustError::Prefix { entry: entry.to_owned(), max })?,
        };
        let cidr = match addr {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => Cidr {
                addr: IpAddr::V4(v6.to_ipv4_mapped().expect("checked")),
                prefix: prefix - 96,
            },
            _ => Cidr { addr, prefix },
        };
        let network = match cidr.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(cidr.prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(cidr.prefix))),
        };
        if network != cidr.addr {
            let network = Cidr { addr: network, prefix: cidr.prefix }.to_string();
            return Err(TrustError::HostBits { entry: entry.to_owned(), network });
        }
        Ok(cidr)
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port.
fn parse_forwarded_address(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if !(after.is_empty() || is_port(after.strip_prefix(':')?)) {
            return None;
        }
        return v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    let (v4, port) = text.split_once(':')?;
    if !is_port(port) {
        return None;
    }
    v4.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests;
