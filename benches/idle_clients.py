#!/usr/bin/env python3
"""Open N keep-alive connections to a proxy, one request on each, and hold
them idle. Prints "ready" when all N are idle, then waits for a line on
stdin (or EOF) before closing them. Used by benches/idle-memory.sh.

usage: idle_clients.py http|https PORT N
"""
import socket
import ssl
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: bench.local\r\n\r\n"


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise SystemExit("status %s" % status.decode())
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed mid-body")
        body += chunk


def main():
    scheme, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if scheme == "https":
            s = ctx.wrap_socket(s, server_hostname="bench.local")
        s.sendall(REQUEST)
        read_response(s)
        held.append(s)
    print("ready", flush=True)
    sys.stdin.readline()
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
