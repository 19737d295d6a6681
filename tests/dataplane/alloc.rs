//! The request path allocates nothing once a connection is warm: a
//! counting global allocator counts allocations made on the worker thread
//! (tagged through `on_thread_start`) while many keep-alive requests pass.
//! The worker's once-a-second chores (the `Date` value refresh, the
//! housekeeping timer) may allocate a little; that is time-bound, not
//! request-bound, hence the bound below instead of zero.

use std::sync::atomic::Ordering;

use crate::counting_alloc::{count_on_this_thread, new_counter};
use crate::support::*;
use ringress::worker::IoEngine;

/// After warm-up, 1000 proxied keep-alive requests cause no allocation per
/// request on the worker thread (at most a handful in total, from the
/// once-a-second chores during the run).
fn warm_requests_do_not_allocate(engine: IoEngine) {
    warm_requests_to_do_not_allocate(engine, "/path?q=1", "/path?q=1");
}

/// The same with a path that is normalised (decoded, dot segments removed)
/// before routing and forwarding: the per-connection scratch buffer is
/// reused, nothing is allocated per request.
fn warm_normalised_requests_do_not_allocate(engine: IoEngine) {
    warm_requests_to_do_not_allocate(engine, "/a/%2e%2e/p%61th/./?q=1", "/path/?q=1");
}

fn warm_requests_to_do_not_allocate(engine: IoEngine, path: &str, seen: &str) {
    let worker_allocs = new_counter();
    let up = Upstream::start("web");
    let proxy = Proxy::builder(engine)
        .on_thread_start(move |_| count_on_this_thread(Some(worker_allocs)))
        .settings(|s| s.keepalive_requests = 0)
        .manifests(yaml(&[
            service("web", &[up.addr]),
            ingress("i", None, &[("/", "Prefix", "web")]),
        ]))
        .start();
    let mut c = proxy.client();
    let request = format!("GET {path} HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: t\r\n\r\n");
    let request = request.as_bytes();
    c.send(request);
    assert_eq!(c.response(false).header("x-seen-path"), Some(seen));
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

engines!(warm_requests_do_not_allocate, warm_normalised_requests_do_not_allocate);
