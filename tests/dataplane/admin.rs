//! The admin endpoints, served by the real admin server on loopback.

use std::io::{Read, Write};

use ringress::admin::{self, AdminState};
use ringress::worker::IoEngine;

use crate::support::*;

fn admin_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: admin\r\n\r\n").as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// /healthz and /readyz follow the workers and the table; /routes shows
/// the live table with its generation; /metrics counts requests.
#[test]
fn admin_endpoints() {
    let up = Upstream::start("web");
    let mut proxy = Proxy::builder(IoEngine::Epoll).start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let admin_addr = listener.local_addr().unwrap();
    let state = AdminState {
        table: proxy.publisher.handle(),
        metrics: proxy.metrics.clone(),
        provider: None,
        shutting_down: Default::default(),
    };
    let server = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = tokio::time::timeout(DEADLINE * 3, admin::serve(listener, state)).await;
        })
    });
    // Workers run; no table yet.
    let deadline = std::time::Instant::now() + DEADLINE;
    while admin_get(admin_addr, "/healthz").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "healthz never became 200");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(admin_get(admin_addr, "/readyz").0, 503);
    let generation = proxy.publish(&yaml(&[
        service("web", &[up.addr]),
        ingress("shop", Some("shop.example"), &[("/", "Prefix", "web")]),
    ]));
    while admin_get(admin_addr, "/readyz").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "readyz never became 200");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (status, routes) = admin_get(admin_addr, "/routes");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&routes).unwrap();
    assert_eq!(json["generation"], generation);
    assert_eq!(json["hosts"][0]["host"], "shop.example");
    assert_eq!(json["hosts"][0]["routes"][0]["endpoints"][0], up.addr.to_string());
    let mut c = proxy.client();
    assert_eq!(c.get("shop.example", "/", "").status, 200);
    assert_eq!(c.get("nope.example", "/", "").status, 404);
    // Counters are written by the worker as it answers: poll briefly.
    let expected = [
        "ringress_responses_total{class=\"2xx\"} 1".to_string(),
        "ringress_responses_total{class=\"4xx\"} 1".to_string(),
        format!("ringress_table_generation {generation}"),
        "ringress_worker_io_engine{worker=\"0\",engine=\"epoll\"} 1".to_string(),
        "ringress_request_duration_seconds_count 2".to_string(),
        "ringress_request_errors_total{source=\"internal\",status=\"404\"} 1".to_string(),
    ];
    loop {
        let (status, metrics) = admin_get(admin_addr, "/metrics");
        assert_eq!(status, 200);
        if expected.iter().all(|e| metrics.contains(e.as_str())) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics never showed {expected:?}:\n{metrics}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(admin_get(admin_addr, "/nope").0, 404);
    proxy.shutdown();
    drop(server);
}
