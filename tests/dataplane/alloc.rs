//! The request path allocates nothing once a connection is warm: a
//! counting global allocator counts allocations made on the worker thread
//! (tagged through `on_thread_start`) while many keep-alive requests pass.
//! The worker's once-a-second chores (the `Date` value refresh, the
//! housekeeping timer) may allocate a little; that is time-bound, not
//! request-bound, hence the bound below instead of zero.

use std::sync::atomic::Ordering;

use crate::counting_alloc::{count_on_this_thread, new_counter};
use crate::engines;
use crate::support::*;
use ringress::worker::IoEngine;

/// After warm-up, 1000 proxied keep-alive requests cause no allocation per
/// request on the worker thread (at most a handful in total, from the
/// once-a-second chores during the run).
fn warm_requests_do_not_allocate(engine: IoEngine) {
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
