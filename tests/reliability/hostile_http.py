"""A loopback server that answers every request with canned, malformed bytes.

`tests/httpserver.py` speaks correct HTTP (and covers 404, 500, stalls, loops, Range);
this one breaks the protocol itself. The route is the first path segment.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

OK_HEAD = b"HTTP/1.1 200 OK\r\n"

RESPONSES: dict[str, bytes] = {
    "bad-chunk-size": OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "not-http": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "bad-status-code": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    "short-body": OK_HEAD + b"Content-Length: 100000\r\n\r\n" + b"\0" * 100,
    "closed-at-once": b"",
    "header-line-too-long": OK_HEAD + b"X-Pad: " + b"a" * 70_000 + b"\r\n\r\n",
    "too-many-headers": OK_HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n",
    "redirect-bad-port": b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:port/x\r\n"
    b"Content-Length: 0\r\n\r\n",
    "redirect-to-file": b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\n"
    b"Content-Length: 0\r\n\r\n",
    "redirect-no-location": b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
    "lying-content-range": b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-0/999999\r\n"
    b"Content-Length: 1\r\n\r\n\0",
    "bad-content-range": b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes x-y/z\r\n"
    b"Content-Length: 1\r\n\r\n\0",
    "negative-length": OK_HEAD + b"Content-Length: -5\r\n\r\nabc",
    "garbage-body": OK_HEAD + b"Content-Length: 64\r\n\r\n" + bytes(range(64)),
}
"""Route -> the whole answer; the connection is closed after it."""


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
            path = data.split(b" ", 2)[1].decode("latin-1")
            route = path.strip("/").split("/")[0]
            sock.sendall(RESPONSES.get(route, b"HTTP/1.1 404 Not Found\r\n\r\n"))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def serve() -> Iterator[str]:
    """Yield the base URL, ``http://127.0.0.1:PORT``."""
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
