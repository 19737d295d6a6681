//! Request and response head parsing: a typical browser-like request, a
//! small API request, and a typical upstream response.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringress::http::{parse_request_head, parse_response_head, ChunkedState, HeadLimits};

/// A browser-like GET, about 500 bytes, 9 header lines.
pub const BROWSER_GET: &[u8] = b"GET /products/widgets?page=2&sort=price HTTP/1.1\r\n\
Host: shop.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
X-Forwarded-For: 203.0.113.9\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\r\n";

/// The load generator's request: short, 2 header lines.
pub const SMALL_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: load\r\n\r\n";

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sun, 22 Nov 2026 04:00:00 GMT\r\n\
Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nhello world\n";

fn parse(c: &mut Criterion) {
    let limits = HeadLimits::DEFAULT;
    let mut g = c.benchmark_group("head_parse");
    for (name, src) in [("request_browser", BROWSER_GET), ("request_small", SMALL_GET)] {
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| {
            b.iter(|| parse_request_head(black_box(src), &limits).unwrap().unwrap().head_len)
        });
    }
    // The floor: httparse alone, no derived facts, no checks of ours.
    g.bench_function("httparse_only_request_browser", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 100];
            let mut req = httparse::Request::new(&mut headers);
            req.parse(black_box(BROWSER_GET)).unwrap().unwrap()
        })
    });
    g.bench_function("response_typical", |b| {
        b.iter(|| {
            parse_response_head(black_box(RESPONSE), false, &limits).unwrap().unwrap().head_len
        })
    });
    let body = b"400\r\n".iter().chain([b'x'; 1024].iter()).chain(b"\r\n0\r\n\r\n").copied();
    let body: Vec<u8> = body.collect();
    g.bench_function("chunked_1k_body", |b| {
        b.iter(|| ChunkedState::new().advance(black_box(&body)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
