"""A forward HTTP proxy on loopback (absolute-form GET and CONNECT), for proxy tests.

It forwards each GET to its origin with ``Connection: close`` and answers with the
origin's response, then closes; a CONNECT opens a tunnel to the origin and relays bytes
both ways (HTTPS: TLS runs end to end inside it). `seen` records each request target
(``CONNECT host:port`` for tunnels) and its ``Proxy-Authorization`` header.
"""

from __future__ import annotations

import http.client
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit


class _Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        url = urlsplit(self.path)
        if not url.scheme or not url.hostname:
            self.send_error(400, "absolute-form target expected")
            return
        upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")}
        headers["Connection"] = "close"
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        upstream.request("GET", target, headers=headers)
        resp = upstream.getresponse()
        body = resp.read()
        self.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        upstream.close()
        self.close_connection = True

    def do_CONNECT(self) -> None:
        self.seen.append((f"CONNECT {self.path}", self.headers.get("Proxy-Authorization")))
        self.close_connection = True
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except (OSError, ValueError):
            self.send_error(502, "cannot reach the origin")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        with upstream:
            self._relay(upstream)

    def _relay(self, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or 30 s pass without any)."""
        ends = [self.connection, upstream]
        while True:
            ready, _, _ = select.select(ends, [], [], 30)
            if not ready:
                return
            for end in ready:
                try:
                    data = end.recv(1 << 16)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)
                except OSError:
                    return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def proxy() -> Iterator[tuple[int, list[tuple[str, str | None]]]]:
    """Run the proxy; yield its port and the list of requests it saw."""
    seen: list[tuple[str, str | None]] = []
    handler = type("Proxy", (_Proxy,), {"seen": seen})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
