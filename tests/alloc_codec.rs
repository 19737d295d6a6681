//! Zero allocations per request in the codec: parsing a typical request
//! head, rewriting it for the upstream, parsing the response head,
//! rewriting it for the client and following a chunked body allocate
//! nothing once the output buffer has grown to its working size, for an
//! untrusted peer and for a trusted proxy alike; nor does reading a PROXY
//! protocol header.
//!
//! The counting global allocator (`ringress_test_support::alloc`) counts only on
//! the thread that asks for it (the test harness allocates on its own
//! threads meanwhile).

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringress::http::{
    parse_request_head, parse_response_head, write_downstream_response_head,
    write_upstream_request_head, ChunkedState, DateCache, ForwardContext, HeadLimits,
    ResponseContext,
};

use ringress_test_support::alloc::{count_on_this_thread, new_counter, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const REQUEST: &[u8] = b"POST /api/v1/items?limit=10 HTTP/1.1\r\nHost: shop.example.com\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: application/json\r\n\
    Accept-Encoding: gzip, deflate\r\nCookie: session=abcdef0123456789\r\n\
    X-Forwarded-For: 203.0.113.9\r\nContent-Type: application/json\r\n\
    Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n";
const BODY: &[u8] = b"7\r\n{\"a\":1}\r\n0\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
    Content-Length: 12\r\nCache-Control: no-cache\r\nKeep-Alive: timeout=5\r\n\r\n";

fn one_request(
    ctx: &ForwardContext,
    dates: &mut DateCache,
    upstream: &mut Vec<u8>,
    downstream: &mut Vec<u8>,
) -> usize {
    upstream.clear();
    downstream.clear();
    let req = parse_request_head(REQUEST, &HeadLimits::DEFAULT).unwrap().unwrap();
    write_upstream_request_head(REQUEST, &req, ctx, upstream);
    let mut chunks = ChunkedState::new();
    let (_, done) = chunks.advance(BODY).unwrap();
    assert!(done);
    let resp = parse_response_head(RESPONSE, false, &HeadLimits::DEFAULT).unwrap().unwrap();
    let date = dates.get();
    let rctx = ResponseContext::new(&req, &resp, date, false);
    write_downstream_response_head(RESPONSE, &resp, &rctx, downstream);
    upstream.len() + downstream.len()
}

/// Both trust decisions: a peer outside `--trusted-proxies` (forwarding
/// headers replaced) and one inside it (X-Forwarded-For appended to, the
/// client found by walking it).
fn contexts() -> [(&'static str, ForwardContext); 2] {
    let trusted = Arc::new("198.51.100.0/24,10.0.0.0/8".parse().unwrap());
    [
        ("untrusted", ForwardContext::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4)), 8080, false)),
        (
            "trusted",
            ForwardContext::for_peer(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4)),
                &trusted,
                8080,
                false,
            ),
        ),
    ]
}

#[test]
fn parse_and_rewrite_allocate_nothing_after_warm_up() {
    for (trust, ctx) in contexts() {
        let mut dates = DateCache::new();
        let mut upstream = Vec::new();
        let mut downstream = Vec::new();
        // Warm-up: the output buffers grow to their working size.
        let expected = one_request(&ctx, &mut dates, &mut upstream, &mut downstream);
        assert!(expected > REQUEST.len());
        let xff: &[u8] = if ctx.peer_trusted() {
            b"X-Forwarded-For: 203.0.113.9, 198.51.100.4\r\n"
        } else {
            b"X-Forwarded-For: 198.51.100.4\r\n"
        };
        assert!(upstream.windows(xff.len()).any(|w| w == xff), "{trust}");
        let real_ip: &[u8] = if ctx.peer_trusted() {
            b"X-Real-IP: 203.0.113.9\r\n"
        } else {
            b"X-Real-IP: 198.51.100.4\r\n"
        };
        assert!(upstream.windows(real_ip.len()).any(|w| w == real_ip), "{trust}");

        let requests = new_counter();
        count_on_this_thread(Some(requests));
        let mut bytes = 0;
        for _ in 0..10_000 {
            bytes += one_request(&ctx, &mut dates, &mut upstream, &mut downstream);
        }
        count_on_this_thread(None);

        assert_eq!(bytes, expected * 10_000, "{trust}");
        assert_eq!(requests.load(Ordering::Relaxed), 0, "{trust}: allocations in 10,000 requests");
    }

    // The counter itself works: one boxed value is one allocation.
    let boxes = new_counter();
    count_on_this_thread(Some(boxes));
    let boxed = std::hint::black_box(Box::new(7u64));
    count_on_this_thread(None);
    assert_eq!(*boxed, 7);
    assert_eq!(boxes.load(Ordering::Relaxed), 1);
}

/// Normalising paths allocates nothing: a normal path is never copied, and
/// one that needs work reuses the caller's scratch buffer once it has grown.
#[test]
fn path_normalisation_allocates_nothing_after_warm_up() {
    use ringress::http::normalize::normalize_path;
    let normal = b"/api/v1/items.json?limit=10&next=/../%2e";
    let dotted = b"/public/%2e%2e/api/./v1/items%7e?limit=10";
    let mut scratch = Vec::new();
    assert_eq!(normalize_path(normal, &mut scratch), Ok(false));
    assert_eq!(scratch.capacity(), 0, "a normal path is not copied");
    assert_eq!(normalize_path(dotted, &mut scratch), Ok(true));
    assert_eq!(scratch, b"/api/v1/items~?limit=10");

    let allocations = new_counter();
    count_on_this_thread(Some(allocations));
    let mut changed = 0;
    for _ in 0..10_000 {
        changed += usize::from(normalize_path(normal, &mut scratch).unwrap());
        changed += usize::from(normalize_path(dotted, &mut scratch).unwrap());
    }
    count_on_this_thread(None);
    assert_eq!(changed, 10_000);
    assert_eq!(allocations.load(Ordering::Relaxed), 0, "allocations during 20,000 paths");
}

/// Reading PROXY headers allocates nothing: v1 (IPv4, IPv6), v2 with
/// TLVs, and refusals.
#[test]
fn proxy_protocol_parsing_allocates_nothing() {
    use ringress::proxy_protocol::parse;
    let v1 = b"PROXY TCP6 2001:db8::7 2001:db8::1 51234 443\r\nGET / HTTP/1.1\r\n";
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x13".to_vec();
    v2.extend_from_slice(&[198, 51, 100, 8, 192, 0, 2, 1, 0x9c, 0x40, 0x01, 0xbb]);
    v2.extend_from_slice(b"\x02\x00\x04a.ex"); // an authority TLV
    let bad = b"PROXY TCP4 198.51.100.7 192.0.2.1 51234 99999\r\n";
    let client = |buf: &[u8]| parse(buf).unwrap().map(|(h, n)| (h.client(([0; 4], 0).into()), n));
    assert_eq!(client(v1), Some(("[2001:db8::7]:51234".parse().unwrap(), 46)));
    assert_eq!(client(&v2), Some(("198.51.100.8:40000".parse().unwrap(), v2.len())));

    let allocations = new_counter();
    count_on_this_thread(Some(allocations));
    let mut used = 0;
    for _ in 0..10_000 {
        used += parse(std::hint::black_box(v1)).unwrap().map_or(0, |(_, n)| n);
        used += parse(std::hint::black_box(&v2)).unwrap().map_or(0, |(_, n)| n);
        used += usize::from(parse(std::hint::black_box(bad)).is_err());
    }
    count_on_this_thread(None);
    assert_eq!(used, 10_000 * (46 + v2.len() + 1));
    assert_eq!(allocations.load(Ordering::Relaxed), 0, "allocations during 30,000 headers");
}
