//! Fuzz-style property tests: seeded random mutations of valid messages.
//! Whatever the input, parsing never panics, and a head that is accepted
//! keeps the invariants the smuggling defences promise; the rewritten head
//! parses back to the same facts.

use std::net::{IpAddr, Ipv4Addr};

use crate::http::{
    parse_request_head, parse_response_head, write_downstream_response_head,
    write_upstream_request_head, ChunkedState, ForwardContext, HeadLimits, RequestHead,
    ResponseContext,
};

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const CORPUS: &[&[u8]] = &[
    b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
    b"POST /u HTTP/1.1\r\nHost: a:81\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello",
    b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
    b"GET http://h/p HTTP/1.1\r\nHost: h\r\nConnection: x-y, close\r\nX-Y: 1\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
];

const INTERESTING: &[u8] = b"\r\n \t:,;\x00\x7f\x80aA0-/?#@";

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(v.len() + 1);
        let byte = if rng.below(4) == 0 {
            rng.next() as u8
        } else {
            INTERESTING[rng.below(INTERESTING.len())]
        };
        match rng.below(4) {
            0 if at < v.len() => v[at] = byte,
            1 => v.insert(at, byte),
            2 if at < v.len() => {
                v.remove(at);
            }
            _ => {
                // Duplicate a header line.
                let lines: Vec<&[u8]> = src.split(|b| *b == b'\n').collect();
                let line = lines[rng.below(lines.len())];
                let pos = v.iter().position(|b| *b == b'\n').map_or(0, |p| p + 1);
                let mut dup = line.to_vec();
                dup.push(b'\n');
                v.splice(pos..pos, dup);
            }
        }
    }
    v
}

/// Every LF of an accepted head ends a CRLF.
fn assert_no_bare_lf(raw: &[u8]) {
    for (i, b) in raw.iter().enumerate() {
        if *b == b'\n' {
            assert!(
                i > 0 && raw[i - 1] == b'\r',
                "bare LF accepted: {:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}

/// The invariants of an accepted head, checked independently of the parser.
fn check_accepted(src: &[u8], head: &RequestHead) {
    let raw = &src[..head.head_len];
    assert_no_bare_lf(raw);
    for (i, b) in raw.iter().enumerate() {
        if *b == b'\n' {
            let next = raw.get(i + 1).copied();
            assert!(next != Some(b' ') && next != Some(b'\t'), "obs-fold accepted");
        }
        if *b == b'\r' {
            assert_eq!(raw.get(i + 1), Some(&b'\n'), "bare CR accepted");
        }
    }
    for h in head.headers() {
        assert!(h.name.end as usize <= head.head_len && h.value.end as usize <= head.head_len);
    }
    let ctx = ForwardContext::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80, false);
    let mut out = Vec::new();
    write_upstream_request_head(src, head, &ctx, &mut out);
    let again = match parse_request_head(&out, &HeadLimits::DEFAULT) {
        Ok(Some(h)) => h,
        other => panic!(
            "rewrite of {:?} does not parse: {other:?}\n{}",
            String::from_utf8_lossy(raw),
            String::from_utf8_lossy(&out)
        ),
    };
    assert_eq!(again.head_len, out.len());
    assert_eq!(again.framing, head.framing);
    assert_eq!(
        again.host(&out).filter(|h| !h.is_empty()),
        head.host(src).filter(|h| !h.is_empty())
    );
    assert_eq!(again.path(&out), head.path(src));
    assert_eq!(again.method(&out), head.method(src));
    assert_eq!(again.upgrade, head.upgrade);
}

#[test]
fn fuzz_mutated_requests_never_panic_and_accepted_ones_hold_invariants() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for round in 0..20_000 {
        let base = CORPUS[round % CORPUS.len()];
        let input = mutate(&mut rng, base);
        if let Ok(Some(head)) = parse_request_head(&input, &HeadLimits::DEFAULT) {
            check_accepted(&input, &head);
            accepted += 1;
        }
    }
    assert!(accepted > 1000, "the mutations should leave many heads valid ({accepted})");
}

#[test]
fn fuzz_every_prefix_of_a_valid_head_is_incomplete() {
    for src in CORPUS {
        let head = parse_request_head(src, &HeadLimits::DEFAULT).unwrap().unwrap();
        for cut in 0..head.head_len {
            assert_eq!(parse_request_head(&src[..cut], &HeadLimits::DEFAULT), Ok(None));
        }
    }
}

/// A random valid chunked body and the data it carries.
fn chunked_body(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let (mut body, mut data) = (Vec::new(), Vec::new());
    for _ in 0..rng.below(5) {
        let n = 1 + rng.below(40);
        let hex = format!("{n:x}");
        body.extend_from_slice(if rng.below(2) == 0 { hex.to_uppercase() } else { hex }.as_bytes());
        if rng.below(3) == 0 {
            body.extend_from_slice(b";name=\"v a\"");
        }
        body.extend_from_slice(b"\r\n");
        let chunk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        body.extend_from_slice(&chunk);
        data.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n");
    if rng.below(2) == 0 {
        body.extend_from_slice(b"X-Checksum: abc\r\n");
    }
    body.extend_from_slice(b"\r\n");
    (body, data)
}

#[test]
fn fuzz_random_chunked_bodies_decode_under_random_splits() {
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let (body, data) = chunked_body(&mut rng);
        let mut state = ChunkedState::new();
        let (mut pos, mut decoded, mut done) = (0, Vec::new(), false);
        while pos < body.len() {
            let end = (pos + 1 + rng.below(17)).min(body.len());
            let (n, d) =
                state.advance_with(&body[pos..end], |b| decoded.extend_from_slice(b)).unwrap();
            pos += n;
            done = d;
            if d {
                break;
            }
        }
        assert!(done);
        assert_eq!(pos, body.len());
        assert_eq!(decoded, data);
    }
}

#[test]
fn fuzz_mutated_chunked_bodies_never_panic_or_overrun() {
    let mut rng = Rng(7);
    for _ in 0..5_000 {
        let (body, _) = chunked_body(&mut rng);
        let body = mutate(&mut rng, &body);
        let mut whole = ChunkedState::new();
        let whole_result = whole.advance(&body);
        if let Ok((n, done)) = whole_result {
            assert!(n <= body.len());
            assert!(done || n == body.len());
        }
        // Byte by byte gives the same answer.
        let mut bytewise = ChunkedState::new();
        let mut result = Ok((0, false));
        let mut pos = 0;
        while pos < body.len() {
            match bytewise.advance(&body[pos..pos + 1]) {
                Ok((n, done)) => {
                    pos += n;
                    result = Ok((pos, done));
                    if done {
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        assert_eq!(result, whole_result, "{:?}", String::from_utf8_lossy(&body));
    }
}

const RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: x-a\r\nX-A: 1\r\n\r\n",
    b"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
];

#[test]
fn fuzz_mutated_responses_never_panic_and_rewrite_back_to_the_same_framing() {
    let mut rng = Rng(0x1234_5678);
    let req_src = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let req = parse_request_head(req_src, &HeadLimits::DEFAULT).unwrap().unwrap();
    let date = b"Sun, 22 Nov 2026 04:00:00 GMT";
    let mut accepted = 0;
    for round in 0..20_000 {
        let input = mutate(&mut rng, RESPONSES[round % RESPONSES.len()]);
        let Ok(Some(resp)) = parse_response_head(&input, false, &HeadLimits::DEFAULT) else {
            continue;
        };
        accepted += 1;
        assert_no_bare_lf(&input[..resp.head_len]);
        let mut out = Vec::new();
        let ctx = ResponseContext::new(&req, &resp, date, false);
        write_downstream_response_head(&input, &resp, &ctx, &mut out);
        let again = parse_response_head(&out, false, &HeadLimits::DEFAULT)
            .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(&out)))
            .unwrap_or_else(|| panic!("incomplete: {}", String::from_utf8_lossy(&out)));
        assert_eq!(again.head_len, out.len());
        assert_eq!(again.status, resp.status);
        assert_eq!(again.framing, resp.framing, "{}", String::from_utf8_lossy(&out));
    }
    assert!(accepted > 1000, "{accepted}");
}
