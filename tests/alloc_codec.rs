//! Zero allocations per request in the codec: parsing a typical request
//! head, rewriting it for the upstream, parsing the response head,
//! rewriting it for the client and following a chunked body allocate
//! nothing once the output buffer has grown to its working size.
//!
//! A counting global allocator, counting only on the thread that asks for
//! it (the test harness allocates on its own threads meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

use ringress::http::{
    parse_request_head, parse_response_head, write_downstream_response_head,
    write_upstream_request_head, ChunkedState, DateCache, ForwardContext, HeadLimits,
    ResponseContext,
};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only counts, in thread-locals that need no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

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

    COUNT.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    let mut bytes = 0;
    for _ in 0..10_000 {
        bytes += one_request(&ctx, &mut dates, &mut upstream, &mut downstream);
    }
    COUNTING.with(|on| on.set(false));

    assert_eq!(bytes, expected * 10_000);
    assert_eq!(COUNT.with(Cell::get), 0, "allocations during 10,000 requests");

    // The counter itself works: one boxed value is one allocation.
    COUNTING.with(|on| on.set(true));
    let boxed = std::hint::black_box(Box::new(bytes));
    COUNTING.with(|on| on.set(false));
    assert_eq!(*boxed, bytes);
    assert_eq!(COUNT.with(Cell::get), 1);
}
