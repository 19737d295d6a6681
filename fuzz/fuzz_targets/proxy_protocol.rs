//! The PROXY protocol parser, [`proxy_protocol::parse`], on arbitrary
//! connection starts.
//!
//! Besides never panicking: an accepted header is at most
//! `MAX_HEADER_BYTES` (v1: at most 107 and ends with CRLF; v2: starts with
//! the signature and is 16 bytes plus its length field), and the bytes
//! after it do not change the answer; every strict prefix of it asks for
//! more; an incomplete input is shorter than the limit; a refusal stays the
//! same refusal whatever follows; an accepted v1 header written again by
//! `write_v1` parses back to the same addresses. The first 37 bytes also
//! make a pair of addresses whose v1 header must parse back to them.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use ringress::proxy_protocol::{
    parse, write_v1, Addresses, ProxyHeader, Version, MAX_HEADER_BYTES, V1_MAX_BYTES, V2_SIGNATURE,
};
use ringress_fuzz::lossy;

fuzz_target!(|data: &[u8]| {
    let result = parse(data);
    let mut longer = data.to_vec();
    longer.extend_from_slice(b"\r\nGET / HTTP/1.1\r\n\x16\x03\x01");
    match result {
        Ok(Some((header, used))) => {
            assert!(
                used <= data.len() && used <= MAX_HEADER_BYTES,
                "used {used} of {}",
                data.len()
            );
            let raw = &data[..used];
            match header.version {
                Version::V1 => {
                    assert!(used <= V1_MAX_BYTES && raw.ends_with(b"\r\n"), "{}", lossy(raw));
                    assert_eq!(raw.iter().filter(|&&b| b == b'\n').count(), 1);
                    round_trip(&header.addresses);
                }
                Version::V2 => {
                    assert!(raw.starts_with(&V2_SIGNATURE));
                    assert_eq!(used, 16 + usize::from(u16::from_be_bytes([raw[14], raw[15]])));
                }
            }
            assert_eq!(parse(raw), Ok(Some((header, used))), "depends on the bytes after it");
            assert_eq!(parse(&longer), Ok(Some((header, used))));
            for n in 0..used {
                assert_eq!(parse(&raw[..n]), Ok(None), "prefix of {n} bytes of {}", lossy(raw));
            }
        }
        Ok(None) => assert!(data.len() < MAX_HEADER_BYTES, "waits past the limit"),
        Err(e) => assert_eq!(parse(&longer), Err(e), "a refusal changed with more bytes"),
    }
    if let Some(addresses) = addresses_from(data) {
        round_trip(&addresses);
    }
});

/// The v1 header written for `addresses` parses back to them.
fn round_trip(addresses: &Addresses) {
    let mut out = [0u8; V1_MAX_BYTES];
    let n = write_v1(addresses, &mut out).expect("one family, within 107 bytes");
    let expected = ProxyHeader { version: Version::V1, addresses: *addresses };
    assert_eq!(parse(&out[..n]), Ok(Some((expected, n))), "{}", lossy(&out[..n]));
}

/// Byte 0 picks the family; then two addresses and two ports.
fn addresses_from(data: &[u8]) -> Option<Addresses> {
    let (&family, rest) = data.split_first()?;
    let (source, destination) = if family & 1 == 0 {
        let b = rest.get(..8)?;
        let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(b[o], b[o + 1], b[o + 2], b[o + 3]));
        (ip(0), ip(4))
    } else {
        let b = rest.get(..32)?;
        let ip = |o: usize| {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[o..o + 16]).expect("16 bytes")))
        };
        (ip(0), ip(16))
    };
    let at = if family & 1 == 0 { 8 } else { 32 };
    let p = rest.get(at..at + 4)?;
    Some(Addresses::Tcp {
        source: SocketAddr::new(source, u16::from_be_bytes([p[0], p[1]])),
        destination: SocketAddr::new(destination, u16::from_be_bytes([p[2], p[3]])),
    })
}
