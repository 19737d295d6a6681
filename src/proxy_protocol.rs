//! The PROXY protocol (HAProxy, versions 1 and 2): the header a load
//! balancer in front of the proxy sends first on a connection, carrying the
//! client's address.
//!
//! [`parse`] reads the header from the start of a byte slice, incrementally:
//! `Ok(None)` means "not all of it yet, read more". Its signature holds no
//! `Vec`, `String` or `Box`, and nothing it calls allocates (addresses are
//! parsed with `core`'s parsers from borrowed `&str`s), so it allocates
//! nothing (`tests/alloc_codec.rs` counts). The connection start that
//! reads the header from a socket is `conn::start`.
//!
//! The rules are those of the HAProxy specification ("The PROXY protocol",
//! versions 1 and 2):
//! - v1 is one ASCII line, `PROXY TCP4|TCP6|UNKNOWN ...` ending in CRLF, at
//!   most [`V1_MAX_BYTES`] bytes; fields are separated by exactly one
//!   space; after `UNKNOWN` the rest of the line is ignored.
//! - v2 is binary: a 12-byte signature, version/command, family/transport,
//!   a big-endian length, the address block, then TLVs (skipped, but their
//!   framing must fit the length). The `LOCAL` command (health checks of
//!   the load balancer itself) and the `UNSPEC` and `UNIX` families carry
//!   no client address: the connection's own peer address is used.
//!   Datagram transports are refused: the listeners are TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Longest v1 header, CRLF included, as the specification fixes it
/// (`PROXY UNKNOWN` plus two full IPv6 addresses and ports: 107 bytes).
pub const V1_MAX_BYTES: usize = 107;

/// The v2 signature, the first 12 bytes of every v2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Fixed part of a v2 header: signature, version/command, family, length.
const V2_FIXED_BYTES: usize = 16;
/// The largest v2 address block, `AF_UNIX` (two 108-byte paths).
const V2_UNIX_ADDRESS_BYTES: usize = 216;
/// Room left for TLVs. The ones load balancers send (AWS NLB's VPC
/// endpoint id, GCP's PSC connection id, Azure's link id, ALPN, authority,
/// CRC32C, unique id up to 128 bytes, and HAProxy's SSL block) fit in a
/// few hundred bytes.
const V2_TLV_ALLOWANCE: usize = 512;

/// Largest v2 header accepted (the field allows 16 + 65535 bytes). A header
/// announcing more is refused as soon as its length field arrives, so a
/// peer cannot make the proxy buffer 64 KiB before it says what it is.
pub const V2_MAX_BYTES: usize = V2_FIXED_BYTES + V2_UNIX_ADDRESS_BYTES + V2_TLV_ALLOWANCE;

/// Largest header of either version: the most a reader must buffer.
pub const MAX_HEADER_BYTES: usize = V2_MAX_BYTES;

const _: () = assert!(V1_MAX_BYTES <= MAX_HEADER_BYTES);

/// Which version of the protocol a header used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// The text form.
    V1,
    /// The binary form.
    V2,
}

/// What a header says about the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addresses {
    /// A proxied TCP connection: the client's address and the address it
    /// connected to on the load balancer.
    Tcp {
        /// The client (the address the proxy acts on).
        source: SocketAddr,
        /// Where the client connected.
        destination: SocketAddr,
    },
    /// No client address: v2 `LOCAL` (the load balancer's own health
    /// check), v2 `UNSPEC` or `UNIX` family, v1 `UNKNOWN`. The connection's
    /// peer address stands.
    Peer,
}

/// A parsed PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    /// The version it was written in.
    pub version: Version,
    /// The addresses it carried.
    pub addresses: Addresses,
}

impl ProxyHeader {
    /// The client address for a connection whose TCP peer is `peer`.
    pub fn client(&self, peer: SocketAddr) -> SocketAddr {
        match self.addresses {
            Addresses::Tcp { source, .. } => source,
            Addresses::Peer => peer,
        }
    }
}

/// Why a connection's first bytes are not an acceptable PROXY header. Every
/// one of them closes the connection without a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyProtocolError {
    /// The bytes start neither `PROXY ` nor the v2 signature.
    #[error("the connection does not start with a PROXY protocol header")]
    NotProxyProtocol,
    /// No CRLF within the first 107 bytes.
    #[error("PROXY v1 header longer than {V1_MAX_BYTES} bytes")]
    V1TooLong,
    /// A bare LF, or a CR not followed by LF, before the line end.
    #[error("PROXY v1 header does not end with CRLF")]
    V1LineEnd,
    /// The protocol field is not `TCP4`, `TCP6` or `UNKNOWN`.
    #[error("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN")]
    V1Protocol,
    /// Not exactly four fields after the protocol, or not single spaces.
    #[error("PROXY v1 header does not have four fields separated by single spaces")]
    V1Fields,
    /// An address that is not of the protocol's family.
    #[error("PROXY v1 {0} address is not a valid address of the protocol's family")]
    V1Address(Side),
    /// A port that is not a decimal number in 0..=65535.
    #[error("PROXY v1 {0} port is not a decimal number in 0..=65535")]
    V1Port(Side),
    /// The v2 version nibble is not 2.
    #[error("PROXY v2 version {0} is not 2")]
    V2Version(u8),
    /// The v2 command nibble is neither LOCAL (0) nor PROXY (1).
    #[error("PROXY v2 command {0} is neither LOCAL nor PROXY")]
    V2Command(u8),
    /// The family/transport byte is none of the specified values.
    #[error("PROXY v2 family/transport byte {0:#04x} is not specified")]
    V2Family(u8),
    /// A UDP family on a TCP listener.
    #[error("PROXY v2 header announces a datagram transport on a TCP connection")]
    V2Datagram,
    /// The announced length takes the header past [`V2_MAX_BYTES`].
    #[error("PROXY v2 header of {0} bytes is larger than the {V2_MAX_BYTES}-byte limit")]
    V2TooLong(usize),
    /// The length is shorter than the family's address block.
    #[error("PROXY v2 length {0} is shorter than the address block of its family")]
    V2AddressLength(u16),
    /// The bytes after the addresses are not a sequence of whole TLVs.
    #[error("PROXY v2 TLVs overrun the header length")]
    V2Tlv,
}

/// Which address of a header a [`ProxyProtocolError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client's.
    Source,
    /// The load balancer's.
    Destination,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Destination => "destination",
        })
    }
}

/// Parses the PROXY header at the start of `buf`: `Ok(None)` when `buf` is
/// a prefix of a header that may still turn out valid (read more, but no
/// more than [`MAX_HEADER_BYTES`] in all, under the head timeout),
/// `Ok(Some((header, consumed)))` with `consumed <= buf.len()` the header's
/// length (the bytes after it are the connection's payload: a request head
/// or a TLS ClientHello), or the reason the connection must be closed.
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    match buf.first() {
        None => Ok(None),
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Err(ProxyProtocolError::NotProxyProtocol),
    }
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    use ProxyProtocolError as E;
    const PREFIX: &[u8] = b"PROXY ";
    let n = buf.len().min(PREFIX.len());
    if buf[..n] != PREFIX[..n] {
        return Err(E::NotProxyProtocol);
    }
    let window = &buf[..buf.len().min(V1_MAX_BYTES)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if let Some(cr) = window.iter().position(|&b| b == b'\r') {
            if cr + 1 < window.len() {
                return Err(E::V1LineEnd); // a CR followed by something else
            }
        }
        return if buf.len() >= V1_MAX_BYTES { Err(E::V1TooLong) } else { Ok(None) };
    };
    if lf == 0 || window[lf - 1] != b'\r' {
        return Err(E::V1LineEnd);
    }
    let line = &window[..lf - 1];
    if line.contains(&b'\r') {
        return Err(E::V1LineEnd);
    }
    if line.len() < PREFIX.len() {
        return Err(E::NotProxyProtocol);
    }
    let consumed = lf + 1;
    let rest = &line[PREFIX.len()..];
    let mut fields = rest.split(|&b| b == b' ');
    let proto = fields.next().unwrap_or_default();
    let v6 = match proto {
        b"UNKNOWN" => {
            let header = ProxyHeader { version: Version::V1, addresses: Addresses::Peer };
            return Ok(Some((header, consumed)));
        }
        b"TCP4" => false,
        b"TCP6" => true,
        _ => return Err(E::V1Protocol),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) =
        (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(E::V1Fields);
    };
    let source = v1_address(src, v6).ok_or(E::V1Address(Side::Source))?;
    let destination = v1_address(dst, v6).ok_or(E::V1Address(Side::Destination))?;
    let sport = v1_port(sport).ok_or(E::V1Port(Side::Source))?;
    let dport = v1_port(dport).ok_or(E::V1Port(Side::Destination))?;
    let addresses = Addresses::Tcp {
        source: SocketAddr::new(source, sport),
        destination: SocketAddr::new(destination, dport),
    };
    Ok(Some((ProxyHeader { version: Version::V1, addresses }, consumed)))
}

fn v1_address(field: &[u8], v6: bool) -> Option<IpAddr> {
    let text = std::str::from_utf8(field).ok()?;
    if v6 {
        text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

fn v1_port(field: &[u8]) -> Option<u16> {
    if field.is_empty() || field.len() > 5 || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = field.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).ok()
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    use ProxyProtocolError as E;
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] != V2_SIGNATURE[..n] {
        return Err(E::NotProxyProtocol);
    }
    let Some(&ver_cmd) = buf.get(12) else { return Ok(None) };
    if ver_cmd >> 4 != 2 {
        return Err(E::V2Version(ver_cmd >> 4));
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        other => return Err(E::V2Command(other)),
    };
    let (Some(&family), Some(&hi), Some(&lo)) = (buf.get(13), buf.get(14), buf.get(15)) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([hi, lo]);
    let total = V2_FIXED_BYTES + usize::from(len);
    if total > V2_MAX_BYTES {
        return Err(E::V2TooLong(total));
    }
    let Some(body) = buf.get(V2_FIXED_BYTES..total) else { return Ok(None) };
    let peer = |version| Ok(Some((ProxyHeader { version, addresses: Addresses::Peer }, total)));
    if local {
        // LOCAL: the protocol block, family included, is ignored.
        return peer(Version::V2);
    }
    let (address_len, tcp) = match family {
        0x00 => return peer(Version::V2), // UNSPEC: no address information
        0x11 => (12, true),
        0x21 => (36, true),
        0x31 | 0x32 => (V2_UNIX_ADDRESS_BYTES, false),
        0x12 | 0x22 => return Err(E::V2Datagram),
        other => return Err(E::V2Family(other)),
    };
    let Some((block, tlvs)) = body.split_at_checked(address_len) else {
        return Err(E::V2AddressLength(len));
    };
    skip_tlvs(tlvs)?;
    if !tcp {
        return peer(Version::V2);
    }
    let (source, destination) = if address_len == 12 {
        let ip = |at: usize| {
            IpAddr::V4(Ipv4Addr::new(block[at], block[at + 1], block[at + 2], block[at + 3]))
        };
        (ip(0), ip(4))
    } else {
        let ip = |at: usize| {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&block[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(octets))
        };
        (ip(0), ip(16))
    };
    let ports = &block[address_len - 4..];
    let addresses = Addresses::Tcp {
        source: SocketAddr::new(source, u16::from_be_bytes([ports[0], ports[1]])),
        destination: SocketAddr::new(destination, u16::from_be_bytes([ports[2], ports[3]])),
    };
    Ok(Some((ProxyHeader { version: Version::V2, addresses }, total)))
}

/// Walks the TLVs (type, 16-bit length, value) without reading them.
fn skip_tlvs(mut tlvs: &[u8]) -> Result<(), ProxyProtocolError> {
    while !tlvs.is_empty() {
        let [_, hi, lo, rest @ ..] = tlvs else { return Err(ProxyProtocolError::V2Tlv) };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        tlvs = rest.get(len..).ok_or(ProxyProtocolError::V2Tlv)?;
    }
    Ok(())
}

/// Writes the v1 header for `addresses` into `out` and returns its length
/// (at most [`V1_MAX_BYTES`]), or `None` when the two addresses are not of
/// one family. For tests, fuzzing and test clients; the proxy only reads.
pub fn write_v1(addresses: &Addresses, out: &mut [u8; V1_MAX_BYTES]) -> Option<usize> {
    use std::io::Write;
    let mut cursor: &mut [u8] = out;
    let written = match addresses {
        Addresses::Peer => write!(cursor, "PROXY UNKNOWN\r\n"),
        Addresses::Tcp { source, destination } => {
            let proto = match (source.ip(), destination.ip()) {
                (IpAddr::V4(_), IpAddr::V4(_)) => "TCP4",
                (IpAddr::V6(_), IpAddr::V6(_)) => "TCP6",
                _ => return None,
            };
            write!(
                cursor,
                "PROXY {proto} {} {} {} {}\r\n",
                source.ip(),
                destination.ip(),
                source.port(),
                destination.port()
            )
        }
    };
    written.ok()?;
    Some(V1_MAX_BYTES - cursor.len())
}

#[cfg(test)]
mod tests;
