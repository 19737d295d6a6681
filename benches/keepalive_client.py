#!/usr/bin/env python3
"""Send N requests over one keep-alive connection, one at a time, pausing
PAUSE_MS before each, and check that every answer is a 200 with a
Content-Length body on that connection. Used by benches/instructions.sh.

The pause makes the proxy's path the same for every request: it has
finished the previous one and is waiting for the socket when the next
request arrives, so the count does not depend on how fast this client is.

usage: keepalive_client.py http|https PORT N PAUSE_MS [CA_PEM]
"""
import socket
import ssl
import sys
import time

REQUEST = (b"GET / HTTP/1.1\r\nHost: bench.local\r\n"
           b"User-Agent: ringress-instructions\r\nAccept: */*\r\n\r\n")


def read_response(s, pending):
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise SystemExit("status %s" % status.decode())
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        if name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            raise SystemExit("the proxy closes the connection")
    if length is None:
        raise SystemExit("no Content-Length in the answer")
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed in the body")
        body += chunk
    return body[length:]


def main():
    scheme, port, n, pause_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=sys.argv[5])
        s = ctx.wrap_socket(s, server_hostname="bench.local")
    pending = b""
    for _ in range(n):
        time.sleep(pause_ms / 1000)
        s.sendall(REQUEST)
        pending = read_response(s, pending)
    if pending:
        raise SystemExit("%d unexpected bytes after the last answer" % len(pending))
    s.close()


if __name__ == "__main__":
    main()
