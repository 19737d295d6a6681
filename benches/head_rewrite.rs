//! Head rewriting: the request head sent upstream (from an already parsed
//! head) and the response head sent downstream, into a reused buffer; and
//! the whole parse-plus-rewrite of a request.

use std::net::{IpAddr, Ipv4Addr};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ringress::http::{
    parse_request_head, parse_response_head, write_downstream_response_head,
    write_upstream_request_head, ForwardContext, HeadLimits, ResponseContext,
};

const BROWSER_GET: &[u8] = b"GET /products/widgets?page=2&sort=price HTTP/1.1\r\n\
Host: shop.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
X-Forwarded-For: 203.0.113.9\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\r\n";

const SMALL_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: load\r\n\r\n";

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n\
Content-Length: 12\r\nConnection: keep-alive\r\n\r\nhello world\n";

const DATE: &[u8] = b"Sun, 22 Nov 2026 04:00:00 GMT";

fn rewrite(c: &mut Criterion) {
    let limits = HeadLimits::DEFAULT;
    let ctx = ForwardContext::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4)), 8080, false);
    let mut out = Vec::with_capacity(4096);
    let mut g = c.benchmark_group("head_rewrite");
    for (name, src) in [("request_browser", BROWSER_GET), ("request_small", SMALL_GET)] {
        let head = parse_request_head(src, &limits).unwrap().unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                write_upstream_request_head(black_box(src), black_box(&head), &ctx, &mut out);
                out.len()
            })
        });
        g.bench_function(format!("parse_and_{name}"), |b| {
            b.iter(|| {
                out.clear();
                let head = parse_request_head(black_box(src), &limits).unwrap().unwrap();
                write_upstream_request_head(src, &head, &ctx, &mut out);
                out.len()
            })
        });
    }
    let req = parse_request_head(SMALL_GET, &limits).unwrap().unwrap();
    let resp = parse_response_head(RESPONSE, false, &limits).unwrap().unwrap();
    g.bench_function("response_typical", |b| {
        b.iter(|| {
            out.clear();
            let rctx = ResponseContext::new(&req, &resp, DATE, false);
            write_downstream_response_head(black_box(RESPONSE), black_box(&resp), &rctx, &mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, rewrite);
criterion_main!(benches);
