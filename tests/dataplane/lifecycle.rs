//! Live table swaps and graceful drain.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use ringress::worker::IoEngine;

fn manifests(up: &Upstream) -> String {
    yaml(&[service("web", &[up.addr]), ingress("i", None, &[("/", "Prefix", "web")])])
}

/// Tables swapped while clients keep sending: no request fails, no
/// connection drops, and the last table wins.
fn table_swap_under_load(engine: IoEngine) {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    // No request limit: any closed connection would be a failure here.
    let mut proxy = Proxy::builder(engine)
        .workers(2)
        .settings(|s| s.keepalive_requests = 0)
        .manifests(manifests(&a))
        .start();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, stop) = (proxy.addr, stop.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) && n < 5000 {
                    let r = c.get("x", "/", "");
                    assert_eq!(r.status, 200, "request {n} failed during swaps");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let (ya, yb) = (manifests(&a), manifests(&b));
    let mut last = 0;
    for i in 0..40 {
        last = proxy.publish(if i % 2 == 0 { &yb } else { &ya });
        std::thread::sleep(Duration::from_millis(5));
    }
    last = last.max(proxy.publish(&yb));
    stop.store(true, Ordering::SeqCst);
    let total: usize = clients.into_iter().map(|c| c.join().expect("client thread")).sum();
    assert!(total > 0);
    assert!(last > 40);
    let mut c = proxy.client();
    assert_eq!(c.get("x", "/", "").text(), "b\n");
}

/// Stop: in-flight requests finish, idle keep-alive connections close,
/// new connections are refused, the workers end.
fn graceful_drain(engine: IoEngine) {
    let up = Upstream::start("web");
    let mut proxy = Proxy::builder(engine).manifests(manifests(&up)).start();
    let mut idle = proxy.client();
    assert_eq!(idle.get("x", "/", "").status, 200);
    let addr = proxy.addr;
    let busy = std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        c.get("x", "/", "x-test-delay-ms: 2000\r\n")
    });
    // Wait until the slow request is in flight at the upstream.
    let deadline = std::time::Instant::now() + DEADLINE;
    while up.requests.load(Ordering::SeqCst) < 2 {
        assert!(std::time::Instant::now() < deadline, "slow request never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopper = proxy.stopper();
    stopper.stop();
    assert!(idle.closed(), "idle keep-alive connection should close on drain");
    let r = busy.join().unwrap();
    assert_eq!(r.status, 200, "in-flight request must finish");
    assert_eq!(r.header("connection"), Some("close"));
    proxy.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err(), "still accepting after drain");
}

engines!(table_swap_under_load, graceful_drain);
