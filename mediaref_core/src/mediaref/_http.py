"""``http(s):`` sources over the standard library: Range requests, timeouts, size limits."""

from __future__ import annotations

import http.client
import io
import math
import re
import socket
import ssl
import time
from typing import IO, Any, NamedTuple
from urllib.parse import quote, urljoin, urlsplit

from . import _connections
from ._errors import (
    InvalidReferenceError,
    MediaRefError,
    SourceNotFoundError,
    SourceUnreadableError,
    short_text,
    short_uri,
)
from ._limits import limits

__all__ = ["HTTPSource"]

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_BLOCK = 1 << 20
_REDIRECTS = {301, 302, 303, 307, 308}
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CHANGED = "the content changed while it was read: its ETag or size differs from when it was opened"


def _connect(url: str) -> tuple[_connections.Route, http.client.HTTPConnection, str, bool]:
    """Return the route of `url`, a connection to it, and the request target.

    The last item says whether the connection is a kept-alive one from an earlier source
    (its server may have dropped it since).

    Raises:
        ValueError: `url` has no host, a bad port, or characters no request can carry.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise ValueError("no host")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if _CONTROL.search(target) or _CONTROL.search(host):
        raise ValueError("a space or control character in the URL")
    # An IRI's non-ASCII characters go on the wire as percent-encoded UTF-8 (RFC 3987).
    target = _NON_ASCII.sub(lambda m: quote(m.group(), safe=""), target)
    route = _connections.route_of(parts.scheme, host, parts.port)
    kept = _connections.take(route)
    conn = kept if kept is not None else route.new_connection()
    return route, conn, route.target(target), kept is not None


class _StaleConnection(Exception):
    """A kept-alive connection was closed by the server before this request."""


class _DeadlineSocket:
    """A connection's socket whose every wait is cut at the request's deadline.

    `http.client` reads status line, headers and body through ``sock.makefile()``; here
    that file reads through `recv_into`, which sets the socket timeout to what is left
    of the request's time (at most `Limits.http_timeout_s`) before each receive. So a
    server that drips a byte now and then fails at the deadline, without a thread.
    """

    def __init__(self, sock: socket.socket, session: _Session) -> None:
        self._sock, self._session = sock, session
        self._files, self._closed = 0, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)  # sendall, settimeout, fileno... as they are

    def recv_into(self, buffer: Any, *args: int) -> int:
        self._sock.settimeout(self._session.wait_s())
        return self._sock.recv_into(buffer, *args)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> IO[bytes]:
        self._files += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        # As socket.socket does: a response still reading keeps the socket open after
        # the connection closes it (a body delimited by the end of the connection).
        self._files -= 1
        if self._closed and self._files <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._files <= 0:
            self._sock.close()


class _Session:
    """One keep-alive connection to the final URL after redirects.

    Each `request` (redirects included) and the body read after it must end within
    `Limits.http_deadline_s` of the request's start.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.url = uri
        self.conn: http.client.HTTPConnection | None = None
        self.route: _connections.Route | None = None
        self.target = ""
        self.kept = False
        """Whether `conn` came kept-alive from an earlier source (it may be stale)."""
        self.reusable = False
        """Whether the last response was read to its end on a connection that stays open."""
        self.deadline = math.inf
        self.cut_by_deadline = False

    def wait_s(self) -> float:
        """Return how long the next wait may last: `Limits.http_timeout_s` or less.

        Raises:
            TimeoutError: The request's deadline has passed.
        """
        remaining = self.deadline - time.monotonic()
        self.cut_by_deadline = remaining <= limits.http_timeout_s
        if remaining <= 0:
            raise TimeoutError("deadline")
        return min(remaining, limits.http_timeout_s)

    def request(
        self, headers: dict[str, str], allow: tuple[int, ...] = ()
    ) -> http.client.HTTPResponse:
        """Send a GET, following redirects; return a response with a 2xx status or in `allow`."""
        self.deadline = time.monotonic() + limits.http_deadline_s
        for _ in range(limits.http_max_redirects + 1):
            try:
                resp = self._send(headers)
            except _StaleConnection:
                resp = self._send(headers)  # the server closed a kept-alive connection
            if resp.status in _REDIRECTS:
                location = resp.getheader("Location")
                self.close()  # its body is not read: it might never end
                if not location:
                    raise SourceUnreadableError(
                        f"HTTP {resp.status} redirect without a Location", uri=self.uri
                    )
                self.url = urljoin(self.url, location)
                if urlsplit(self.url).scheme.lower() not in ("http", "https"):
                    raise SourceUnreadableError(
                        f"HTTP redirect to a non-HTTP URL {short_uri(self.url)!r} refused",
                        uri=self.uri,
                    )
                continue
            if resp.status == 412:  # only reads that sent If-Match get it
                self.close()
                raise SourceUnreadableError(
                    _CHANGED + " (HTTP 412: ETag no longer matches)", uri=self.uri
                )
            if resp.status >= 300 and resp.status not in allow:
                self.close()
                error = SourceNotFoundError if resp.status in (404, 410) else SourceUnreadableError
                raise error(f"HTTP {resp.status} {short_text(resp.reason)}", uri=self.uri)
            return resp
        self.close()
        raise SourceUnreadableError(
            f"more than {limits.http_max_redirects} redirects (mediaref.limits.http_max_redirects)",
            uri=self.uri,
        )

    def _open_connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.route, self.conn, self.target, self.kept = _connect(self.url)
        if self.conn.sock is None:
            self.conn.timeout = self.wait_s()  # connection and TLS handshake
            self.conn.connect()
            connected: Any = self.conn.sock  # connect() set it
            self.conn.sock = _DeadlineSocket(connected, self)
        else:
            sock: Any = self.conn.sock
            if isinstance(sock, _DeadlineSocket):
                sock._session = self  # kept alive from another source: our deadline now
            sock.settimeout(self.wait_s())  # sending the request
        return self.conn

    def _send(self, headers: dict[str, str]) -> http.client.HTTPResponse:
        fresh = self.conn is None
        self.reusable = False
        try:
            conn = self._open_connection()
            fresh = fresh and not self.kept
            assert self.route is not None
            conn.request("GET", self.target, headers={**self.route.headers(), **headers})
            return conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            self.close()
            if not fresh:
                raise _StaleConnection from e
            raise SourceUnreadableError(
                f"HTTP request failed: {short_text(e)}", uri=self.uri
            ) from None
        except TimeoutError:
            self.close()
            raise self._timeout() from None
        except ssl.SSLError as e:  # before ValueError: a failed verification is both
            self.close()
            raise SourceUnreadableError(
                f"HTTPS handshake failed: {short_text(e)}", uri=self.uri
            ) from None
        except (ValueError, http.client.InvalidURL) as e:  # also UnicodeError (IDNA host)
            self.close()
            raise self._bad_url(e) from None
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise SourceUnreadableError(
                f"HTTP request failed: {short_text(e)}", uri=self.uri
            ) from None

    def _bad_url(self, e: Exception) -> MediaRefError:
        if self.url == self.uri:
            return InvalidReferenceError(f"malformed HTTP URL: {short_text(e)}", uri=self.uri)
        return SourceUnreadableError(
            f"HTTP redirect to a malformed URL {short_uri(self.url)!r}: {short_text(e)}",
            uri=self.uri,
        )

    def read_body(
        self, resp: http.client.HTTPResponse, limit: int, *, asked: bool = False
    ) -> bytes:
        """Read a response body of at most `limit` bytes, in memory about its size.

        A declared ``Content-Length`` over `limit` is refused before reading; the body is
        read into a buffer of that size (zero pages until bytes arrive), or, without
        one (chunked, or until the connection closes), into a buffer that grows until
        the end or one byte past `limit`. `asked`: `limit` is the size of the range
        asked, not `Limits.max_read_bytes`.

        Raises:
            SourceUnreadableError: Over the limit, shorter than its ``Content-Length``,
                malformed, or too slow (`Limits.http_timeout_s`, `Limits.http_deadline_s`).
        """
        declared = resp.length  # None when chunked or delimited by the connection's end
        try:
            if declared is not None and declared > limit:
                raise self._too_large(declared, limit, asked)
            body = (
                self._read_growing(resp, limit, asked)
                if declared is None
                else self._read_sized(resp, declared)
            )
            self.reusable = not resp.will_close
            return body
        except MediaRefError:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise self._timeout() from None
        except (OSError, http.client.HTTPException, ValueError) as e:
            # ValueError: http.client's answer to a malformed chunk size.
            self.close()
            raise SourceUnreadableError(
                f"HTTP body incomplete: {short_text(e)}", uri=self.uri
            ) from None

    def _read_sized(self, resp: http.client.HTTPResponse, declared: int) -> bytes:
        # Written in place over calloc'd zeros (pages count once written), and returned
        # without a copy. Blocks of at most 1 MiB come through resp.read, so no view of
        # this buffer is left in a traceback when a read fails.
        buffer = io.BytesIO(bytes(declared))
        got = 0
        while got < declared and (block := resp.read(min(_BLOCK, declared - got))):
            got += buffer.write(block)
        if got < declared:
            raise SourceUnreadableError(
                f"HTTP body ended after {got} of the {declared} bytes of its Content-Length",
                uri=self.uri,
            )
        return buffer.getvalue()  # the buffer itself: no copy

    def _read_growing(self, resp: http.client.HTTPResponse, limit: int, asked: bool) -> bytes:
        out = io.BytesIO()  # grows by realloc (mremap for large blocks): no second copy
        total = 0
        while block := resp.read(min(_BLOCK, limit + 1 - total)):
            total += len(block)
            if total > limit:
                raise self._too_large(None, limit, asked)
            out.write(block)
        return out.getvalue()

    def _too_large(self, size: int | None, limit: int, asked: bool) -> SourceUnreadableError:
        what = f"{size} bytes" if size is not None else "larger"
        if asked:
            return SourceUnreadableError(
                f"HTTP server sent a body {what} than the {limit} bytes asked", uri=self.uri
            )
        return SourceUnreadableError(
            f"HTTP body is {what}, over the limit of {limit} bytes "
            "(mediaref.limits.max_read_bytes)",
            uri=self.uri,
        )

    def _timeout(self) -> SourceUnreadableError:
        if self.cut_by_deadline:
            return SourceUnreadableError(
                f"HTTP request took more than {limits.http_deadline_s} s in all "
                "(mediaref.limits.http_deadline_s)",
                uri=self.uri,
            )
        return SourceUnreadableError(
            f"HTTP server did not answer within {limits.http_timeout_s} s "
            "(mediaref.limits.http_timeout_s)",
            uri=self.uri,
        )

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def release(self) -> None:
        """Keep the connection for the next source of the same host if it can serve one."""
        conn, route = self.conn, self.route
        if conn is None or route is None or not self.reusable or conn.sock is None:
            self.close()
            return
        self.conn = None
        _connections.put(route, conn)


class _Validators(NamedTuple):
    """What a response says about the content's version: sent back with every range."""

    etag: str | None
    last_modified: str | None

    @classmethod
    def of(cls, resp: http.client.HTTPResponse) -> _Validators:
        return cls(resp.getheader("ETag"), resp.getheader("Last-Modified"))

    def conditions(self) -> dict[str, str]:
        """Preconditions that make the server refuse (412) a range of changed content."""
        if self.etag and not self.etag.startswith("W/"):  # If-Match compares strong ETags only
            return {"If-Match": self.etag}
        if self.last_modified:
            return {"If-Unmodified-Since": self.last_modified}
        return {}

    def differ(self, resp: http.client.HTTPResponse) -> bool:
        """Whether a response names another version (servers that ignore preconditions)."""
        etag, modified = resp.getheader("ETag"), resp.getheader("Last-Modified")
        if self.etag is not None and etag is not None:
            return etag != self.etag
        return self.last_modified is not None and modified not in (None, self.last_modified)


class _RangeReader(io.RawIOBase):
    """A seekable file over HTTP Range requests on one keep-alive connection.

    Every range asks for the version the file was opened on (``If-Match``) and checks the
    version and size its response names: a file never mixes bytes of two versions.
    """

    def __init__(self, session: _Session, size: int, validators: _Validators) -> None:
        self._session, self._size, self._pos = session, size, 0
        self._validators = validators

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        n = min(len(b), self._size - self._pos)
        if n <= 0:
            return 0
        end = self._pos + n - 1
        resp = self._session.request(
            {"Range": f"bytes={self._pos}-{end}", **self._validators.conditions()}, allow=(416,)
        )
        if resp.status == 416:  # past the end: of the object as it is now, if it shrank
            self._session.close()
            total = (resp.getheader("Content-Range") or "").rpartition("/")[2]
            why = _CHANGED if total != str(self._size) else "HTTP 416 Range Not Satisfiable"
            raise SourceUnreadableError(
                f"{why} (bytes={self._pos}-{end} of {short_text(total)})", uri=self._session.uri
            )
        if resp.status != 206:
            self._session.close()
            raise SourceUnreadableError(
                f"HTTP server stopped honouring Range (status {resp.status})",
                uri=self._session.uri,
            )
        m = _CONTENT_RANGE.match(resp.getheader("Content-Range") or "")
        if m is None or int(m.group(1)) != self._pos or int(m.group(2)) > end:
            self._session.close()
            raise SourceUnreadableError(
                f"HTTP server answered Range bytes={self._pos}-{end} with "
                f"{short_text(resp.getheader('Content-Range'))!r}",
                uri=self._session.uri,
            )
        if m.group(3) != str(self._size) or self._validators.differ(resp):
            self._session.close()
            raise SourceUnreadableError(
                _CHANGED + f" (a range answered with size {m.group(3)}, "
                f"ETag {short_text(resp.getheader('ETag'))!r})",
                uri=self._session.uri,
            )
        body = self._session.read_body(resp, n, asked=True)
        b[: len(body)] = body
        self._pos += len(body)
        return len(body)

    def close(self) -> None:
        self._session.release()
        super().close()


class HTTPSource:
    """An ``http:`` or ``https:`` URL; read whole or through Range requests."""

    __slots__ = ("_probe", "uri")

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._probe: tuple[int, bool, str] | None = None

    @property
    def local_path(self) -> None:
        """A URL has no local path."""
        return None

    def _probe_range(self) -> tuple[_Session, http.client.HTTPResponse, int, bool]:
        session = _Session(self.uri)
        resp = session.request({"Range": "bytes=0-0"})
        m = _CONTENT_RANGE.match(resp.getheader("Content-Range") or "")
        validator = resp.getheader("ETag") or resp.getheader("Last-Modified") or ""
        if resp.status == 206 and m and m.group(3) != "*":
            size, ranged = int(m.group(3)), True
        else:
            length = resp.getheader("Content-Length")
            size, ranged = (int(length) if length and length.isdigit() else -1), False
        self._probe = (size, ranged, validator)
        return session, resp, size, ranged

    @property
    def identity(self) -> tuple[object, ...]:
        """``(url, size, ETag or Last-Modified)`` from a one-byte Range request."""
        if self._probe is None:
            session, resp, _, ranged = self._probe_range()
            if ranged:  # one byte: read it, and the connection serves the next request
                session.read_body(resp, 1, asked=True)
                session.release()
            else:
                session.close()  # a whole body we do not want
        assert self._probe is not None
        return (self.uri, self._probe[0], self._probe[2])

    def read_all(self) -> bytes:
        """Download the whole body (at most `Limits.max_read_bytes`)."""
        session = _Session(self.uri)
        try:
            return session.read_body(session.request({}), limits.max_read_bytes)
        finally:
            session.release()

    def open(self) -> IO[bytes]:
        """Return a seekable file: Range requests if the server honours them, else memory."""
        session, resp, size, ranged = self._probe_range()
        if ranged:
            session.read_body(resp, 1, asked=True)
            reader = _RangeReader(session, size, _Validators.of(resp))
            return io.BufferedReader(reader, buffer_size=_BLOCK)
        try:
            return io.BytesIO(session.read_body(resp, limits.max_read_bytes))
        finally:
            session.release()
