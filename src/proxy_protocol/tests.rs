//! The PROXY protocol parser, one test per rule of the specification.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{
    parse, write_v1, Addresses, ProxyHeader, ProxyProtocolError as E, Side, Version,
    MAX_HEADER_BYTES, V1_MAX_BYTES, V2_MAX_BYTES, V2_SIGNATURE,
};

fn tcp(source: &str, destination: &str) -> Addresses {
    Addresses::Tcp { source: source.parse().unwrap(), destination: destination.parse().unwrap() }
}

fn ok(buf: &[u8]) -> (ProxyHeader, usize) {
    parse(buf).unwrap().unwrap()
}

/// Every strict prefix of `header` asks for more bytes.
fn prefixes_need_more(header: &[u8]) {
    for n in 0..header.len() {
        assert_eq!(parse(&header[..n]), Ok(None), "prefix of {n} bytes");
    }
}

/// A v2 header: `ver_cmd`, `family`, then `body` (addresses and TLVs).
fn v2(ver_cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(ver_cmd);
    h.push(family);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn v4_body() -> Vec<u8> {
    let mut b = vec![192, 0, 2, 1, 198, 51, 100, 2];
    b.extend_from_slice(&51234u16.to_be_bytes());
    b.extend_from_slice(&443u16.to_be_bytes());
    b
}

fn v6_body() -> Vec<u8> {
    let mut b = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets().to_vec();
    b.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&65535u16.to_be_bytes());
    b
}

#[test]
fn v1_tcp4_gives_source_and_leaves_the_payload() {
    let buf = b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\nGET / HTTP/1.1\r\n";
    let (h, used) = ok(buf);
    assert_eq!(h.version, Version::V1);
    assert_eq!(h.addresses, tcp("192.0.2.1:51234", "198.51.100.2:443"));
    assert_eq!(&buf[used..], b"GET / HTTP/1.1\r\n");
    prefixes_need_more(&buf[..used]);
}

#[test]
fn v1_tcp6_gives_source() {
    let buf = b"PROXY TCP6 2001:db8::1 ::ffff:198.51.100.2 0 65535\r\n";
    let (h, used) = ok(buf);
    assert_eq!(used, buf.len());
    assert_eq!(h.addresses, tcp("[2001:db8::1]:0", "[::ffff:198.51.100.2]:65535"));
}

#[test]
fn v1_unknown_ignores_the_rest_of_the_line_and_uses_the_peer() {
    for buf in [&b"PROXY UNKNOWN\r\n"[..], b"PROXY UNKNOWN ffff::1 anything at all 1 2\r\n"] {
        let (h, used) = ok(buf);
        assert_eq!((h.addresses, used), (Addresses::Peer, buf.len()));
        let peer: SocketAddr = "10.0.0.9:1234".parse().unwrap();
        assert_eq!(h.client(peer), peer);
    }
}

#[test]
fn v1_longest_header_is_accepted_and_one_more_byte_refused() {
    let longest = b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    let mut buf = longest[..longest.len() - 2].to_vec();
    buf.resize(V1_MAX_BYTES - 2, b'x');
    buf.extend_from_slice(b"\r\n");
    assert_eq!(ok(&buf).1, V1_MAX_BYTES);
    let mut over = buf[..V1_MAX_BYTES - 2].to_vec();
    over.extend_from_slice(b"x\r\n");
    assert_eq!(parse(&over), Err(E::V1TooLong));
    // Refused as soon as 107 bytes hold no line end, without waiting.
    assert_eq!(parse(&over[..V1_MAX_BYTES]), Err(E::V1TooLong));
    assert_eq!(parse(&over[..V1_MAX_BYTES - 1]), Ok(None));
}

#[test]
fn v1_line_must_end_with_crlf() {
    assert_eq!(parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), Err(E::V1LineEnd));
    assert_eq!(parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx"), Err(E::V1LineEnd));
    assert_eq!(parse(b"PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"), Err(E::V1LineEnd));
    assert_eq!(parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"), Ok(None));
}

#[test]
fn v1_truncated_header_needs_more() {
    prefixes_need_more(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n");
}

#[test]
fn v1_protocol_must_be_tcp4_tcp6_or_unknown() {
    assert_eq!(parse(b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), Err(E::V1Protocol));
    assert_eq!(parse(b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), Err(E::V1Protocol));
    assert_eq!(parse(b"PROXY \r\n"), Err(E::V1Protocol));
}

#[test]
fn v1_fields_are_four_separated_by_single_spaces() {
    assert_eq!(parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), Err(E::V1Fields));
    assert_eq!(parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), Err(E::V1Fields));
    assert_eq!(parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), Err(E::V1Fields));
    assert_eq!(parse(b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), Err(E::V1Fields));
}

#[test]
fn v1_addresses_must_match_the_protocol_family() {
    let e = parse(b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n");
    assert_eq!(e, Err(E::V1Address(Side::Source)));
    let e = parse(b"PROXY TCP6 ::1 5.6.7.8 1 2\r\n");
    assert_eq!(e, Err(E::V1Address(Side::Destination)));
    let e = parse(b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n");
    assert_eq!(e, Err(E::V1Address(Side::Source)), "leading zero octets are ambiguous");
    let e = parse(b"PROXY TCP4 1.2.3.4 example.com 1 2\r\n");
    assert_eq!(e, Err(E::V1Address(Side::Destination)));
}

#[test]
fn v1_ports_are_decimal_in_range() {
    let e = parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n");
    assert_eq!(e, Err(E::V1Port(Side::Source)));
    let e = parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n");
    assert_eq!(e, Err(E::V1Port(Side::Destination)));
    let e = parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n");
    assert_eq!(e, Err(E::V1Port(Side::Source)));
    let e = parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 0x50\r\n");
    assert_eq!(e, Err(E::V1Port(Side::Destination)));
}

#[test]
fn other_first_bytes_are_not_proxy_protocol() {
    for buf in [&b"GET / HTTP/1.1\r\n"[..], b"\x16\x03\x01\x02\x00", b"PROXZ", b"\r\n\r\n\x01"] {
        assert_eq!(parse(buf), Err(E::NotProxyProtocol), "{buf:?}");
    }
    assert_eq!(parse(b""), Ok(None));
    assert_eq!(parse(b"PRO"), Ok(None));
    assert_eq!(parse(b"\r\n\r\n\0\r"), Ok(None));
}

#[test]
fn v2_tcp4_gives_source_and_leaves_the_payload() {
    let mut buf = v2(0x21, 0x11, &v4_body());
    let header_len = buf.len();
    prefixes_need_more(&buf);
    buf.extend_from_slice(b"\x16\x03\x01");
    let (h, used) = ok(&buf);
    assert_eq!(used, header_len);
    assert_eq!(h.version, Version::V2);
    assert_eq!(h.addresses, tcp("192.0.2.1:51234", "198.51.100.2:443"));
}

#[test]
fn v2_tcp6_gives_source() {
    let buf = v2(0x21, 0x21, &v6_body());
    prefixes_need_more(&buf);
    assert_eq!(ok(&buf).0.addresses, tcp("[2001:db8::1]:1", "[2001:db8::2]:65535"));
}

#[test]
fn v2_tlvs_are_skipped() {
    let mut body = v4_body();
    body.extend_from_slice(&[0xEA, 0, 4, b'v', b'p', b'c', b'e']); // AWS VPC endpoint
    body.extend_from_slice(&[0x04, 0, 0]); // NOOP, empty
    body.extend_from_slice(&[0x01, 0, 2, b'h', b'2']); // ALPN
    let buf = v2(0x21, 0x11, &body);
    assert_eq!(ok(&buf), (ok(&v2(0x21, 0x11, &v4_body())).0, buf.len()));
    let mut v6 = v6_body();
    v6.extend_from_slice(&[0x05, 0, 1, 7]);
    assert_eq!(ok(&v2(0x21, 0x21, &v6)).0.addresses, tcp("[2001:db8::1]:1", "[2001:db8::2]:65535"));
}

#[test]
fn v2_tlv_overrunning_the_length_is_refused() {
    let mut body = v4_body();
    body.extend_from_slice(&[0xEA, 0, 9, b'v']);
    assert_eq!(parse(&v2(0x21, 0x11, &body)), Err(E::V2Tlv));
    let mut body = v4_body();
    body.extend_from_slice(&[0xEA, 0]);
    assert_eq!(parse(&v2(0x21, 0x11, &body)), Err(E::V2Tlv));
}

#[test]
fn v2_local_uses_the_peer_whatever_the_family() {
    for (family, body) in [(0x00, vec![]), (0x11, v4_body()), (0x77, vec![1, 2, 3])] {
        let buf = v2(0x20, family, &body);
        let (h, used) = ok(&buf);
        assert_eq!((h.addresses, used), (Addresses::Peer, buf.len()));
    }
}

#[test]
fn v2_unspec_and_unix_families_use_the_peer() {
    assert_eq!(ok(&v2(0x21, 0x00, &[])).0.addresses, Addresses::Peer);
    for family in [0x31, 0x32] {
        let buf = v2(0x21, family, &[b'/'; 216]);
        assert_eq!(
            ok(&buf),
            (ProxyHeader { version: Version::V2, addresses: Addresses::Peer }, buf.len())
        );
        assert_eq!(parse(&v2(0x21, family, &[b'/'; 215])), Err(E::V2AddressLength(215)));
    }
}

#[test]
fn v2_short_address_block_is_refused() {
    assert_eq!(parse(&v2(0x21, 0x11, &v4_body()[..11])), Err(E::V2AddressLength(11)));
    assert_eq!(parse(&v2(0x21, 0x21, &v4_body())), Err(E::V2AddressLength(12)));
}

#[test]
fn v2_version_command_and_family_are_checked() {
    assert_eq!(parse(&v2(0x11, 0x11, &v4_body())), Err(E::V2Version(1)));
    assert_eq!(parse(&v2(0x31, 0x11, &v4_body())), Err(E::V2Version(3)));
    assert_eq!(parse(&v2(0x22, 0x11, &v4_body())), Err(E::V2Command(2)));
    assert_eq!(parse(&v2(0x21, 0x12, &v4_body())), Err(E::V2Datagram));
    assert_eq!(parse(&v2(0x21, 0x22, &v6_body())), Err(E::V2Datagram));
    for family in [0x01, 0x10, 0x13, 0x41] {
        assert_eq!(parse(&v2(0x21, family, &v4_body())), Err(E::V2Family(family)));
    }
    // Refused from the fixed part alone, before the body arrives.
    assert_eq!(parse(&v2(0x22, 0x11, &v4_body())[..13]), Err(E::V2Command(2)));
}

#[test]
fn v2_oversized_header_is_refused_from_its_length_field() {
    let mut body = vec![0u8; 216];
    let tlv = V2_MAX_BYTES - 16 - 216 - 3;
    body.extend_from_slice(&[0x04]);
    body.extend_from_slice(&(tlv as u16).to_be_bytes());
    body.resize(216 + 3 + tlv, 0);
    let largest = v2(0x21, 0x31, &body);
    assert_eq!(largest.len(), V2_MAX_BYTES);
    assert_eq!(ok(&largest).1, V2_MAX_BYTES);
    let over = v2(0x21, 0x31, &vec![0; V2_MAX_BYTES - 16 + 1]);
    assert_eq!(parse(&over[..16]), Err(E::V2TooLong(V2_MAX_BYTES + 1)));
    let mut huge = V2_SIGNATURE.to_vec();
    huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    assert_eq!(parse(&huge), Err(E::V2TooLong(16 + 65535)));
    assert_eq!(MAX_HEADER_BYTES, V2_MAX_BYTES);
}

#[test]
fn v1_written_header_parses_back() {
    let mut out = [0u8; V1_MAX_BYTES];
    let longest = tcp(
        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
    );
    for a in [tcp("192.0.2.1:1", "198.51.100.2:443"), longest, Addresses::Peer] {
        let n = write_v1(&a, &mut out).unwrap();
        assert_eq!(ok(&out[..n]), (ProxyHeader { version: Version::V1, addresses: a }, n));
    }
    let mixed = Addresses::Tcp {
        source: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1),
        destination: SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 2),
    };
    assert_eq!(write_v1(&mixed, &mut out), None);
}
