//! Trusted proxies and the client address, one test per rule.

use std::net::{IpAddr, Ipv4Addr};

use super::{TrustError, TrustedProxies};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn set(s: &str) -> TrustedProxies {
    s.parse().unwrap()
}

fn client(t: &TrustedProxies, peer: &str, xff: &[&str]) -> IpAddr {
    t.client_address(ip(peer), xff.iter().map(|l| l.as_bytes()))
}

#[test]
fn list_of_networks_and_single_addresses_parses() {
    let t = set("10.0.0.0/8, fd00::/8,192.168.1.1,2001:db8::7");
    let shown: Vec<String> = t.networks().iter().map(|n| n.to_string()).collect();
    assert_eq!(shown, ["10.0.0.0/8", "fd00::/8", "192.168.1.1/32", "2001:db8::7/128"]);
    assert!(t.contains(ip("10.255.0.1")));
    assert!(t.contains(ip("fdff::1")));
    assert!(t.contains(ip("192.168.1.1")));
    assert!(!t.contains(ip("192.168.1.2")));
    assert!(!t.contains(ip("11.0.0.1")));
    assert!(!t.contains(ip("fe00::1")));
    assert!(set("0.0.0.0/0").contains(ip("203.0.113.1")));
    assert!(!set("0.0.0.0/0").contains(ip("::1")));
}

#[test]
fn bad_entries_are_named_in_the_error() {
    assert_eq!("10.0.0.0/8,,fd00::/8".parse::<TrustedProxies>(), Err(TrustError::Empty));
    assert_eq!("".parse::<TrustedProxies>(), Err(TrustError::Empty));
    assert_eq!(
        "10.0.0.0/8,example.com".parse::<TrustedProxies>(),
        Err(TrustError::Address("example.com".into()))
    );
    for (entry, max) in
        [("10.0.0.0/33", 32), ("10.0.0.0/+8", 32), ("fd00::/129", 128), ("::/", 128)]
    {
        assert_eq!(
            entry.parse::<TrustedProxies>(),
            Err(TrustError::Prefix { entry: entry.into(), max }),
            "{entry}"
        );
    }
    let e = "10.1.2.3/8".parse::<TrustedProxies>().unwrap_err();
    assert_eq!(
        e,
        TrustError::HostBits { entry: "10.1.2.3/8".into(), network: "10.0.0.0/8".into() }
    );
    assert_eq!(
        e.to_string(),
        "trusted proxy `10.1.2.3/8`: bits set after the prefix; the network is 10.0.0.0/8"
    );
}

#[test]
fn ipv4_mapped_ipv6_is_ipv4_on_both_sides() {
    let t = set("10.0.0.0/8");
    assert!(t.contains(IpAddr::V6(Ipv4Addr::new(10, 1, 1, 1).to_ipv6_mapped())));
    let mapped = set("::ffff:192.0.2.0/120");
    assert_eq!(mapped.networks()[0].to_string(), "192.0.2.0/24");
    assert!(mapped.contains(ip("192.0.2.9")));
    assert!(mapped.contains(ip("::ffff:192.0.2.9")));
}

#[test]
fn untrusted_peer_is_the_client_whatever_it_sends() {
    let t = set("10.0.0.0/8");
    assert_eq!(client(&t, "203.0.113.5", &["1.1.1.1"]), ip("203.0.113.5"));
    assert_eq!(client(&TrustedProxies::NONE, "10.0.0.1", &["1.1.1.1"]), ip("10.0.0.1"));
}

#[test]
fn trusted_peer_gives_the_rightmost_untrusted_address() {
    let t = set("10.0.0.0/8,fd00::/8");
    // The client forged 6.6.6.6; 198.51.100.7 is what the first trusted hop saw.
    assert_eq!(client(&t, "10.0.0.1", &["6.6.6.6, 198.51.100.7, 10.0.0.2"]), ip("198.51.100.7"));
    assert_eq!(client(&t, "10.0.0.1", &["6.6.6.6", "198.51.100.7,10.9.9.9"]), ip("198.51.100.7"));
    assert_eq!(client(&t, "fd00::1", &["2001:db8::1"]), ip("2001:db8::1"));
}

#[test]
fn all_trusted_gives_the_leftmost_and_none_gives_the_peer() {
    let t = set("10.0.0.0/8");
    assert_eq!(client(&t, "10.0.0.1", &["10.0.0.3, 10.0.0.2"]), ip("10.0.0.3"));
    assert_eq!(client(&t, "10.0.0.1", &[]), ip("10.0.0.1"));
    assert_eq!(client(&t, "10.0.0.1", &[" , "]), ip("10.0.0.1"));
}

#[test]
fn garbage_entry_stops_the_walk_at_the_last_trusted_address() {
    let t = set("10.0.0.0/8");
    assert_eq!(client(&t, "10.0.0.1", &["1.1.1.1, unknown, 10.0.0.2"]), ip("10.0.0.2"));
    assert_eq!(client(&t, "10.0.0.1", &["1.1.1.1, 300.1.1.1"]), ip("10.0.0.1"));
}

#[test]
fn forwarded_entries_may_carry_ports_and_brackets() {
    let t = set("10.0.0.0/8");
    assert_eq!(client(&t, "10.0.0.1", &["192.0.2.1:4711"]), ip("192.0.2.1"));
    assert_eq!(client(&t, "10.0.0.1", &["[2001:db8::1]:80"]), ip("2001:db8::1"));
    assert_eq!(client(&t, "10.0.0.1", &["[2001:db8::1]"]), ip("2001:db8::1"));
    assert_eq!(client(&t, "10.0.0.1", &["::ffff:192.0.2.1"]), ip("192.0.2.1"));
    assert_eq!(client(&t, "10.0.0.1", &["[2001:db8::1]x"]), ip("10.0.0.1"));
}
