//! A real DNS server on loopback (UDP, port 0) for the ExternalName
//! tests: it answers `A` queries for the names it is given, with the TTL
//! it is given, `NXDOMAIN` for any other name, and an empty answer for
//! other query types of a known name. Answers can be changed while it
//! runs; it counts the queries it answered per name.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Zone {
    /// name (lowercase, no trailing dot) -> (addresses, TTL in seconds)
    records: HashMap<String, (Vec<Ipv4Addr>, u32)>,
    queries: HashMap<String, usize>,
}

pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    pub fn start() -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind DNS server");
        socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let addr = socket.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(Zone::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (z, s) = (zone.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !s.load(Ordering::SeqCst) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else { continue };
                if let Some(answer) = answer(&buf[..n], &z) {
                    let _ = socket.send_to(&answer, peer);
                }
            }
        });
        DnsServer { addr, zone, stop, thread: Some(thread) }
    }

    /// Answer `name` with `addresses` and `ttl` seconds from now on.
    pub fn set(&self, name: &str, addresses: &[Ipv4Addr], ttl: u32) {
        let mut zone = self.zone.lock().unwrap();
        zone.records.insert(name.to_ascii_lowercase(), (addresses.to_vec(), ttl));
    }

    /// Answer `name` with `NXDOMAIN` from now on.
    pub fn remove(&self, name: &str) {
        self.zone.lock().unwrap().records.remove(&name.to_ascii_lowercase());
    }

    /// Queries answered for `name` so far.
    pub fn queries(&self, name: &str) -> usize {
        self.zone.lock().unwrap().queries.get(&name.to_ascii_lowercase()).copied().unwrap_or(0)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
const NXDOMAIN: u16 = 3;
const FORMERR: u16 = 1;

/// The response to one query message (RFC 1035 section 4), or `None` for
/// something that is not a query.
fn answer(query: &[u8], zone: &Mutex<Zone>) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let be16 = |at: usize| u16::from_be_bytes([query[at], query[at + 1]]);
    // The question: labels up to the root, then type and class.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 || at + len > query.len() {
            return None;
        }
        labels.push(String::from_utf8_lossy(&query[at..at + len]).to_ascii_lowercase());
        at += len;
    }
    if at + 4 > query.len() {
        return None;
    }
    let (qtype, qclass) = (be16(at), be16(at + 2));
    let question = &query[12..at + 4];
    let name = labels.join(".");

    let (rcode, records, ttl) = {
        let mut zone = zone.lock().unwrap();
        *zone.queries.entry(name.clone()).or_default() += 1;
        match zone.records.get(&name) {
            _ if be16(4) != 1 => (FORMERR, Vec::new(), 0),
            None => (NXDOMAIN, Vec::new(), 0),
            Some((ips, ttl)) if qtype == TYPE_A && qclass == CLASS_IN => (0, ips.clone(), *ttl),
            Some(_) => (0, Vec::new(), 0),
        }
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]); // id
    let rd = u16::from(query[2] & 0x01) << 8;
    out.extend_from_slice(&(0x8000 | 0x0400 | rd | 0x0080 | rcode).to_be_bytes()); // QR AA RD RA
    out.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    out.extend_from_slice(&(records.len() as u16).to_be_bytes()); // ANCOUNT
    out.extend_from_slice(&[0, 0, 0, 0]); // NSCOUNT, ARCOUNT
    out.extend_from_slice(question);
    for ip in records {
        out.extend_from_slice(&[0xc0, 12]); // the name: a pointer to the question's
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    Some(out)
}
