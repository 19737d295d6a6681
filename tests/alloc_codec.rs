//! Zero allocations per request in the codec: parsing a typical request
//! head, rewriting it for the upstream, parsing the response head,
//! rewriting it for the client and following a chunked body allocate
//! nothing once the output buffer has grown to its working size.
//!
//! The counting global allocator (`ringress_test_support::alloc`) counts only on
//! the thread that asks for it (the test harness allocates on its own
//! threads meanwhile).

// Test clients and upstreams are plain threads that may block and sleep;
// the data plane's bans (clippy.toml) are for workers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;

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

#[test]
fn parse_and_rewrite_allocate_nothing_after_warm_up() {
    let ctx = ForwardContext::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4)), 8080, false);
    let mut dates = DateCache::new();
    let mut upstream = Vec::new();
    let mut downstream = Vec::new();
    // Warm-up: the output buffers grow to their working size.
    let expected = one_request(&ctx, &mut dates, &mut upstream, &mut downstream);
    assert!(expected > REQUEST.len());

    let requests = new_counter();
    count_on_this_thread(Some(requests));
    let mut bytes = 0;
    for _ in 0..10_000 {
        bytes += one_request(&ctx, &mut dates, &mut upstream, &mut downstream);
    }
    count_on_this_thread(None);

    assert_eq!(bytes, expected * 10_000);
    assert_eq!(requests.load(Ordering::Relaxed), 0, "allocations during 10,000 requests");

    // The counter itself works: one boxed value is one allocation.
    let boxes = new_counter();
    count_on_this_thread(Some(boxes));
    let boxed = std::hint::black_box(Box::new(bytes));
    count_on_this_thread(None);
    assert_eq!(*boxed, bytes);
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
