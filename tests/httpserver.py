"""A real HTTP(S) server on loopback that honours Range requests, with misbehaving routes.

`LoopbackServer.counters` counts the requests the file routes answer and the body bytes
they send. Routes (files come from the served directory):
  /files/NAME            the file, with single-range ``Range`` support (206) and keep-alive
                         (also HEAD: the headers alone)
  /norange/NAME          the file, ignoring ``Range`` (always 200 with the whole body)
  /status/CODE           an empty response with that status
  /stall                 accepts the request and never answers
  /loop                  redirects to itself forever
  /redirect/N/NAME       N redirects, then /files/NAME
  /huge                  declares and streams 4 GiB of zeros (for size limits)
  /endless               zeros without Content-Length until the client leaves (<= 4 GiB)
  /endless-chunked       the same, chunked
  /drip/N                declares N bytes and sends one every 0.8 s
  /drip-headers          sends the status line, then a header byte every 0.8 s (<= 100)

The file routes send an ``ETag`` (size and mtime) and answer ``If-Match`` with another ETag
by 412, as nginx does (``LoopbackServer.preconditions = False``: ignore it, as some servers
do). ``LoopbackServer.before_file(name, headers)`` is called before a file route reads its
file: a test can replace the file between two requests of one decode.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class Counters:
    """Requests answered and body bytes written, for tests that bound what a read costs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.connections = 0
        """TCP connections accepted (every route)."""
        self.delay_s = 0.0
        """Seconds each file request waits before answering (latency, for bench/)."""

    def add(self, body: int) -> None:
        with self.lock:
            self.requests += 1
            self.bytes += body

    def take_back(self, unsent: int) -> None:
        """Uncount body bytes that were counted but never sent (the client hung up)."""
        with self.lock:
            self.bytes -= unsent

    def reset(self) -> None:
        with self.lock:
            self.requests = self.bytes = self.connections = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root: Path
    log: list[tuple[str, str | None]]
    counters: Counters
    before_file: Callable[[str, HTTPMessage], None] | None = None
    preconditions = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.counters.lock:
            self.counters.connections += 1

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        """The file routes' headers without a body (what fsspec asks for a size); else 405."""
        parts = self.path.strip("/").split("/")
        if parts[0] in ("files", "norange"):
            self._file("/".join(parts[1:]), honour_range=parts[0] == "files", head=True)
        else:
            self._empty(405)

    def do_GET(self) -> None:
        self.log.append((self.path, self.headers.get("Range")))
        parts = self.path.strip("/").split("/")
        route = parts[0]
        if route == "status":
            self._empty(int(parts[1]))
        elif route == "stall":
            time.sleep(30)
        elif route == "loop":
            self._empty(302, {"Location": "/loop"})
        elif route == "redirect":
            n = int(parts[1])
            target = f"/redirect/{n - 1}/{parts[2]}" if n > 1 else f"/files/{parts[2]}"
            self._empty(301, {"Location": target})
        elif route == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(4 << 30))
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"\0" * (1 << 20))
            except OSError:
                pass
            self.close_connection = True
        elif route in ("endless", "endless-chunked"):
            self._endless(chunked=route == "endless-chunked")
        elif route == "drip":
            self._drip(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % int(parts[1]),
                b"x" * min(int(parts[1]), 100),
            )
        elif route == "drip-headers":
            self._drip(b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 92)
        elif route in ("files", "norange"):
            self._file("/".join(parts[1:]), honour_range=route == "files")
        else:
            self._empty(404)

    def _endless(self, *, chunked: bool) -> None:
        self.send_response(200)
        self.send_header(
            "Transfer-Encoding" if chunked else "Connection", "chunked" if chunked else "close"
        )
        self.end_headers()
        block = b"\0" * (1 << 20)
        piece = b"100000\r\n" + block + b"\r\n" if chunked else block
        try:
            for _ in range(4096):  # bounded: 4 GiB, far past any limit under test
                self.wfile.write(piece)
        except OSError:
            pass  # the client stopped reading: the point of the test
        self.close_connection = True

    def _drip(self, head: bytes, body: bytes) -> None:
        self.close_connection = True
        try:
            self.wfile.write(head)
            for i in range(len(body)):  # bounded: at most 100 bytes, 80 s
                self.wfile.flush()
                time.sleep(0.8)
                self.wfile.write(body[i : i + 1])
        except OSError:
            pass

    def _file(self, name: str, *, honour_range: bool, head: bool = False) -> None:
        if self.counters.delay_s:
            time.sleep(self.counters.delay_s)  # a far server's round trip (bench only)
        if self.before_file is not None:
            self.before_file(name, self.headers)
        path = self.root / name
        if not path.is_file():
            self._empty(404)
            return
        data = path.read_bytes()
        etag = f'"{len(data)}-{path.stat().st_mtime_ns}"'
        wanted = self.headers.get("If-Match")
        if self.preconditions and wanted not in (None, "*", etag):
            self._empty(412, {"ETag": etag})
            return
        m = _RANGE.match(self.headers.get("Range") or "")
        if honour_range and m:
            start = int(m.group(1)) if m.group(1) else len(data) - int(m.group(2))
            end = int(m.group(2)) if m.group(1) and m.group(2) else len(data) - 1
            end = min(end, len(data) - 1)
            if start >= len(data):
                self._empty(416, {"Content-Range": f"bytes */{len(data)}"})
                return
            body = data[start : end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes" if honour_range else "none")
        # Counted before sending: a client that has the bytes must see them counted. What a
        # client that hangs up never gets (a peer reading part of an open range) is taken off.
        self.counters.add(0 if head else len(body))
        self.end_headers()
        if head:
            return
        sent = 0
        try:
            for at in range(0, len(body), 1 << 18):
                self.wfile.write(body[at : at + (1 << 18)])
                sent = min(at + (1 << 18), len(body))
        except OSError:
            self.counters.take_back(len(body) - sent)
            self.close_connection = True


class LoopbackServer:
    """A running server; `url(route)` gives an address, `log` the requests seen."""

    def __init__(self, root: Path, tls: ssl.SSLContext | None = None) -> None:
        handler = type("Handler", (_Handler,), {"root": root, "log": [], "counters": Counters()})
        self.log: list[tuple[str, str | None]] = handler.log  # type: ignore[attr-defined]
        self.counters: Counters = handler.counters  # type: ignore[attr-defined]
        """Requests and body bytes served by the file routes (``/files``, ``/norange``)."""
        self._handler = handler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.scheme = "http"
        if tls is not None:  # HTTPS: the handshake runs as each connection is accepted
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def before_file(self) -> Callable[[str, HTTPMessage], None] | None:
        """Called with (file name, request headers) before a file route reads its file."""
        return self._handler.before_file  # type: ignore[attr-defined,no-any-return]

    @before_file.setter
    def before_file(self, hook: Callable[[str, HTTPMessage], None] | None) -> None:
        self._handler.before_file = staticmethod(hook) if hook else None  # type: ignore[attr-defined]

    @property
    def preconditions(self) -> bool:
        """Whether file routes honour ``If-Match`` (412 for another ETag)."""
        return bool(self._handler.preconditions)  # type: ignore[attr-defined]

    @preconditions.setter
    def preconditions(self, honour: bool) -> None:
        self._handler.preconditions = honour  # type: ignore[attr-defined]

    def url(self, route: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{route.lstrip('/')}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serve(root: Path, tls: ssl.SSLContext | None = None) -> Iterator[LoopbackServer]:
    server = LoopbackServer(root, tls)
    try:
        yield server
    finally:
        server.close()
