//! The request path allocates nothing once a connection is warm: a
//! counting global allocator counts allocations made on the worker thread
//! (tagged through `on_thread_start`) while many keep-alive requests pass.
//! The worker's once-a-second chores (the `Date` value refresh, the
//! housekeeping timer) may allocate a little; that is time-bound, not
//! request-bound, hence the bound below instead of zero.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engines;
use crate::support::*;
use ringress::worker::IoEngine;

struct Counting;

thread_local! {
    /// The counter of the test whose worker runs on this thread. Each test
    /// has its own, so the io_uring and epoll variants running in parallel
    /// never count each other's allocations.
    static COUNTER: Cell<Option<&'static AtomicU64>> = const { Cell::new(None) };
}

fn count() {
    if let Ok(Some(counter)) = COUNTER.try_with(Cell::get) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counting touches only an atomic and a const-initialised thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// After warm-up, 1000 proxied keep-alive requests cause no allocation per
/// request on the worker thread (at most a handful in total, from the
/// once-a-second chores during the run).
fn warm_requests_do_not_allocate(engine: IoEngine) {
    let worker_allocs: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let up = Upstream::start("web");
    let proxy = Proxy::builder(engine)
        .on_thread_start(move |_| COUNTER.with(|c| c.set(Some(worker_allocs))))
        .settings(|s| s.keepalive_requests = 0)
        .manifests(yaml(&[
            service("web", &[up.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start();
    let mut c = proxy.client();
    let request = b"GET /path?q=1 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: t\r\n\r\n";
    for _ in 0..1000 {
        c.send(request);
        assert_eq!(c.response(false).status, 200);
    }
    let before = worker_allocs.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    for _ in 0..1000 {
        c.send(request);
        assert_eq!(c.response(false).status, 200);
    }
    let allocations = worker_allocs.load(Ordering::SeqCst) - before;
    // A few per second of run time, whatever the number of requests.
    let bound = 4 * (started.elapsed().as_secs() + 1);
    assert!(allocations <= bound, "{allocations} allocations on the worker for 1000 requests");
}

engines!(warm_requests_do_not_allocate);
