#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/corpus/<target>/<name>.

Run from anywhere: `python3 fuzz/seeds/generate.py`. The seeds are valid
messages of each shape the codec knows plus the refused ones the unit and
data-plane tests check (request smuggling: duplicate or differing
Content-Length, Content-Length with Transfer-Encoding, codings other than
one final chunked, obs-fold, bare LF and CR, bad bytes in names and values,
bad chunk sizes), the PROXY protocol headers of the parser's tests, and
the dot-segment and escape cases of path normalisation. libFuzzer mutates from these; findings of long runs go to
fuzz/work/, not here.
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")

REQUESTS = {
    # Accepted shapes.
    "get": b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n",
    "get-http10": b"GET / HTTP/1.0\r\n\r\n",
    "get-http10-keep-alive": b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nKeep-Alive: 5\r\n\r\n",
    "leading-empty-lines": b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "absolute-form": b"GET http://Example.com:81/x?y HTTP/1.1\r\nHost: other\r\n\r\n",
    "absolute-form-no-path": b"GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "options-asterisk": b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "post-content-length": b"POST /u HTTP/1.1\r\nHost: a:81\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello",
    "post-chunked": b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "content-length-equal-twice": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "content-length-equal-list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
    "content-length-leading-zeros": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0042\r\n\r\n",
    "expect-continue": b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc",
    "websocket-upgrade": b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "h2c-upgrade": b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    "hop-by-hop": b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret, keep-alive\r\nKeep-Alive: 5\r\nX-Secret: s\r\nTE: trailers\r\nX-Forwarded-Proto: https\r\nX-Real-IP: 1.1.1.1\r\nX-Forwarded-For: 9.9.9.9\r\nAccept: */*\r\n\r\n",
    "empty-host": b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
    "extension-method": b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",
    "ipv6-host": b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
    "dot-segments": b"GET /public/../admin/./x/%2e%2e/y?q=/../ HTTP/1.1\r\nHost: a\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    "partial": b"GET / HTTP/1.1\r\nHost: a\r\n",
    # Refused: request smuggling and framing.
    "cl-and-te": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-and-cl": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "content-length-differing": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "content-length-differing-list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
    "content-length-sign": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
    "content-length-hex": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
    "content-length-overflow": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "content-length-trailing-comma": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n",
    "content-length-space-before-colon": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
    "content-length-underscore": b"POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n",
    "te-gzip": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxx",
    "te-chunked-not-last": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "te-chunked-twice": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    "te-chunked-parameter": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
    "te-xchunked": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
    "te-empty": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
    "te-http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    "te-underscore": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n",
    "bad-chunk-size-body": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "connection-names-content-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: Content-Length\r\n\r\n",
    "connection-names-host": b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, host\r\n\r\n",
    # Refused: line endings and bytes.
    "bare-lf": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare-lf-after-request-line": b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    "bare-lf-final": b"GET / HTTP/1.1\r\nHost: a\r\n\n",
    "bare-lf-leading": b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "bare-cr": b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
    "bare-cr-request-line": b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n",
    "obs-fold-tab": b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n",
    "obs-fold-content-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 5\r\n\r\nhello",
    "bad-header-name": b"GET / HTTP/1.1\r\nHost: x\r\nX A: a\r\n\r\n",
    "bad-header-name-nul": b"GET / HTTP/1.1\r\nHost: a\r\nX\x00: v\r\n\r\n",
    "bad-header-name-utf8": b"GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: v\r\n\r\n",
    "bad-header-value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
    "bad-header-value-del": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
    "missing-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "two-hosts-http10": b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n",
    "bad-host": b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
    "bad-host-space": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "absolute-form-userinfo": b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
    "absolute-form-ftp": b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
    "absolute-form-empty-authority": b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
    "fragment": b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
    "non-ascii-target": "GET /é HTTP/1.1\r\nHost: a\r\n\r\n".encode(),
    "asterisk-get": b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
    "connect": b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    "http2-version": b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    "http12-version": b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    "bad-method": b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
    "double-space": b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    # Over the request-line limit (8 KiB) before any line end.
    "request-line-too-long": b"GET /" + b"a" * 8200,
}

RESPONSES = {
    "ok-length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello",
    "ok-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: x-a\r\nX-A: 1\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "ok-close-delimited": b"HTTP/1.1 200 OK\r\n\r\nbody",
    "ok-connection-close": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    "http10-keep-alive": b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx",
    "http10-not-found": b"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    "unavailable": b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    "continue-then-ok": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "early-hints": b"HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\n",
    "switching-protocols": b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    "no-content": b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
    "not-modified": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    "no-reason": b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    "hop-by-hop": b"HTTP/1.1 200 OK\r\nConnection: x-a\r\nX-A: 1\r\nKeep-Alive: t=1\r\nTrailer: x\r\nDate: Sun, 22 Nov 2026 04:00:00 GMT\r\nContent-Length: 0\r\n\r\n",
    "connection-names-server": b"HTTP/1.1 200 OK\r\nConnection: server\r\nServer: x\r\n\r\n",
    "cl-and-te": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "content-length-differing": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "content-length-bad": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    "te-gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    "te-http10": b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n",
    "bare-lf-final": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\n",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
    "bad-header-value": b"HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n",
    "status-two-digits": b"HTTP/1.1 20 OK\r\n\r\n",
    "status-below-100": b"HTTP/1.1 099 X\r\n\r\n",
    "status-600": b"HTTP/1.1 600 X\r\n\r\n",
    "http2-version": b"HTTP/2 200 OK\r\n\r\n",
    "framing-lookalike": b"HTTP/1.1 200 OK\r\nContent_Length: 1\r\n\r\n",
}

# Request targets as the normaliser sees them (origin-form, query kept).
PATHS = {
    "root": b"/",
    "plain": b"/a/b/c.html?x=1",
    "empty-segments": b"/a//b///c/",
    "dot-dot": b"/public/../admin",
    "dot": b"/a/./b/.",
    "encoded-dot-dot": b"/public/%2e%2e/admin",
    "encoded-dot-dot-upper": b"/public/%2E%2E/admin",
    "mixed-dot-dot": b"/public/.%2e/admin",
    "encoded-dot": b"/a/%2e/b",
    "encoded-slash": b"/public%2F..%2Fadmin",
    "encoded-backslash": b"/public/..%5Cadmin",
    "literal-backslash": b"/public\\..\\admin",
    "unreserved-escapes": b"/%41%62%2D%5f%7E%30",
    "reserved-escapes-lower": b"/%2f%3f%23%25%c3%a9",
    "climb-above-root": b"/..",
    "climb-after-pop": b"/a/../..",
    "climb-encoded": b"/%2e%2e/etc/passwd",
    "deep-climb": b"/a/b/../../../c",
    "trailing-dot-dot": b"/a/b/..",
    "dot-dot-after-empty": b"/a//..",
    "query-with-dots": b"/a/b/..?next=/../x&y=%2e%2e",
    "query-only-dots": b"/?/../",
    "bad-escape": b"/%zz",
    "short-escape": b"/a%4",
    "percent-at-end": b"/a/%",
    "dot-dot-then-bad-escape": b"/../%zz",
    "asterisk": b"*",
    "not-a-path": b"a/../b",
    "dotted-names": b"/.well-known/..hidden/...",
}

# Chunked seeds carry the split prefix of the chunked target: a first byte
# whose low four bits give k, then k piece sizes (each + 1).
CHUNKED_BODIES = {
    "two-chunks-trailer": b"5\r\nhello\r\n6;ext=1;q=\"a b\"\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nGET /next",
    "no-trailers": b"A\r\n0123456789\r\n0\r\n\r\n",
    "upper-lower-hex": b"a\r\n0123456789\r\nA\r\n0123456789\r\n00\r\n\r\n",
    "whitespace-before-extension": b"5 ;a\r\nhello\r\n0\r\n\r\n",
    "incomplete": b"5\r\nhello\r\n0\r\n",
    "empty-size": b"\r\n",
    "non-hex-size": b"zz\r\nhello\r\n0\r\n\r\n",
    "negative-size": b"-1\r\n",
    "0x-size": b"0x5\r\n",
    "leading-space-size": b" 5\r\n",
    "extension-without-size": b";ext\r\n",
    "whitespace-without-extension": b"5 \r\n",
    "size-overflow": b"10000000000000000\r\n",
    "size-17-digits": b"00000000000000001\r\n",
    "size-u64-max": b"ffffffffffffffff\r\n",
    "data-not-followed-by-crlf": b"5\r\nhelloX\r\n0\r\n\r\n",
    "data-followed-by-cr": b"5\r\nhello\r0\r\n\r\n",
    "bare-lf-size": b"5\nhello\r\n0\r\n\r\n",
    "bare-lf-after-data": b"5\r\nhello\n0\r\n\r\n",
    "bare-lf-final": b"5\r\nhello\r\n0\r\n\n",
    "cr-cr-final": b"5\r\nhello\r\n0\r\n\r\r",
    "nul-in-extension": b"5;a\x00\r\n",
    "lf-in-extension": b"5;a\nb\r\n",
    "trailer-leading-space": b"0\r\n X: 1\r\n\r\n",
    "trailer-no-colon": b"0\r\nX 1\r\n\r\n",
    "trailer-control-byte": b"0\r\nX: \x01\r\n\r\n",
    "trailer-empty-name": b"0\r\n: v\r\n\r\n",
    "decoded-space": b"5\r\nhello\r\n1;x\r\n \r\n5\r\nworld\r\n0\r\nT: 1\r\n\r\n",
    "long-size-line": b"5;" + b"a" * 4100 + b"\r\n",
}
SPLITS = {
    "": b"\x00",  # one byte at a time
    "-whole": b"\x01\xff",  # pieces of 256 bytes
    "-mixed": b"\x03\x00\x02\x06",  # pieces of 1, 3, 7 bytes
}

def proxy_v2(ver_cmd, family, body):
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([ver_cmd, family])
            + len(body).to_bytes(2, "big") + body)


V4_BLOCK = bytes([192, 0, 2, 1, 198, 51, 100, 2]) + (51234).to_bytes(2, "big") + (443).to_bytes(2, "big")
V6_BLOCK = bytes(range(16)) + bytes(range(16, 32)) + (1).to_bytes(2, "big") + (65535).to_bytes(2, "big")
PROXY_HEADERS = {
    # Accepted shapes, each followed by the payload a connection carries.
    "v1-tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\nGET / HTTP/1.1\r\n\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 ::ffff:198.51.100.2 0 65535\r\n\x16\x03\x01",
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v1-unknown-rest": b"PROXY UNKNOWN ffff::1 anything 1 2\r\n",
    "v2-tcp4": proxy_v2(0x21, 0x11, V4_BLOCK) + b"GET / HTTP/1.1\r\n",
    "v2-tcp6": proxy_v2(0x21, 0x21, V6_BLOCK),
    "v2-tcp4-tlvs": proxy_v2(0x21, 0x11, V4_BLOCK + b"\xea\x00\x04vpce\x04\x00\x00\x01\x00\x02h2"),
    "v2-local": proxy_v2(0x20, 0x00, b""),
    "v2-unspec": proxy_v2(0x21, 0x00, b""),
    "v2-unix": proxy_v2(0x21, 0x31, b"/" * 216),
    # Refused ones.
    "v1-bare-lf": b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    "v1-too-long": b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n",
    "v1-port-range": b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    "v1-family-mismatch": b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
    "v2-udp": proxy_v2(0x21, 0x12, V4_BLOCK),
    "v2-short-block": proxy_v2(0x21, 0x21, V4_BLOCK),
    "v2-tlv-overrun": proxy_v2(0x21, 0x11, V4_BLOCK + b"\xea\x00\x09v"),
    "v2-version-1": proxy_v2(0x11, 0x11, V4_BLOCK),
    "v2-oversized": proxy_v2(0x21, 0x11, V4_BLOCK)[:14] + b"\xff\xff",
    "http-request": b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
}


def write(target, seeds):
    path = os.path.join(CORPUS, target)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for name, data in seeds.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


write("request_head", REQUESTS)
write("response_head", RESPONSES)
write("normalize_path", PATHS)
write("proxy_protocol", PROXY_HEADERS)
chunked = {}
for name, body in CHUNKED_BODIES.items():
    for suffix, prefix in SPLITS.items():
        if suffix and name.startswith(("long-", "size-")):
            continue
        chunked[name + suffix] = prefix + body
write("chunked", chunked)
