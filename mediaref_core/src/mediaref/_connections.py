"""Kept-alive HTTP connections shared by the sources of one host, and the proxy to use.

Opening a source costs a one-byte Range probe, then reads: without reuse each is a new TCP
(and TLS) connection. Idle connections wait here, per (scheme, host, port, proxy), a few
per host and for a short while; a forked child never takes its parent's (they share the
socket with it), and `mediaref.cleanup_cache` closes them.
"""

from __future__ import annotations

import base64
import http.client
import os
import ssl
import threading
import time
from collections import OrderedDict
from typing import NamedTuple
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

from ._limits import limits

__all__ = ["Route", "clear", "put", "route_of", "take"]

_PER_HOST = 4
_TOTAL = 32
_IDLE_S = 30.0
"""Idle connections older than this are closed rather than reused (servers drop them)."""


class Route(NamedTuple):
    """Where a URL's requests go: the origin, and the proxy that carries them, if any."""

    scheme: str
    host: str
    port: int
    proxy: str | None
    """``http://[user:pass@]host:port`` of the proxy (``HTTP(S)_PROXY``), or `None`."""

    def new_connection(self) -> http.client.HTTPConnection:
        """A connection (not yet connected) that reaches this route's origin."""
        timeout = limits.http_timeout_s
        if self.proxy is None:
            if self.scheme == "https":
                context = ssl.create_default_context()
                return http.client.HTTPSConnection(
                    self.host, self.port, timeout=timeout, context=context
                )
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        proxy = urlsplit(self.proxy)
        headers = _proxy_auth(proxy.username, proxy.password)
        if self.scheme == "https":  # a CONNECT tunnel through the proxy, TLS inside it
            context = ssl.create_default_context()
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                proxy.hostname or "", proxy.port, timeout=timeout, context=context
            )
            conn.set_tunnel(self.host, self.port, headers=headers)
            return conn
        conn = http.client.HTTPConnection(proxy.hostname or "", proxy.port, timeout=timeout)
        return conn

    def target(self, path_and_query: str) -> str:
        """The request target: origin-form, or absolute-form through an HTTP proxy."""
        if self.proxy is None or self.scheme == "https":
            return path_and_query
        return f"http://{self.host}:{self.port}{path_and_query}"

    def headers(self) -> dict[str, str]:
        """Headers every request on this route carries (proxy credentials for HTTP)."""
        if self.proxy is None or self.scheme == "https":
            return {}
        proxy = urlsplit(self.proxy)
        return _proxy_auth(proxy.username, proxy.password)


def _proxy_auth(user: str | None, password: str | None) -> dict[str, str]:
    if user is None:
        return {}
    token = base64.b64encode(f"{unquote(user)}:{unquote(password or '')}".encode()).decode()
    return {"Proxy-Authorization": f"Basic {token}"}


def route_of(scheme: str, host: str, port: int | None) -> Route:
    """Return the route of a URL, honouring ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``."""
    scheme = scheme.lower()
    port = port or (443 if scheme == "https" else 80)
    proxy = getproxies().get(scheme)
    if proxy and not proxy_bypass(f"{host}:{port}") and not proxy_bypass(host):
        if "://" not in proxy:
            proxy = "http://" + proxy
        return Route(scheme, host, port, proxy)
    return Route(scheme, host, port, None)


_lock = threading.Lock()
_idle: OrderedDict[int, tuple[Route, http.client.HTTPConnection, float]] = OrderedDict()
_pid = os.getpid()


def take(route: Route) -> http.client.HTTPConnection | None:
    """Take an idle connection of `route` (the most recent), or `None`."""
    stale: list[http.client.HTTPConnection] = []
    found = None
    with _lock:
        _forget_after_fork()
        now = time.monotonic()
        for key in reversed(list(_idle)):
            r, conn, since = _idle[key]
            if now - since > _IDLE_S:
                del _idle[key]
                stale.append(conn)
            elif found is None and r == route:
                del _idle[key]
                found = conn
    for conn in stale:
        conn.close()
    return found


def put(route: Route, conn: http.client.HTTPConnection) -> None:
    """Keep `conn` (its last response read to the end) for the next source of `route`."""
    evicted: list[http.client.HTTPConnection] = []
    with _lock:
        _forget_after_fork()
        _idle[id(conn)] = (route, conn, time.monotonic())
        same = [k for k, (r, _, _) in _idle.items() if r == route]
        for key in same[: max(0, len(same) - _PER_HOST)]:
            evicted.append(_idle.pop(key)[1])
        while len(_idle) > _TOTAL:
            evicted.append(_idle.popitem(last=False)[1][1])
    for old in evicted:
        old.close()


def clear() -> None:
    """Close every idle connection of this process."""
    with _lock:
        _forget_after_fork()
        conns = [conn for _, conn, _ in _idle.values()]
        _idle.clear()
    for conn in conns:
        conn.close()


def _forget_after_fork() -> None:
    # The parent's sockets are shared with it: drop them unclosed (no shutdown is sent).
    global _pid, _idle
    if _pid != os.getpid():
        _pid, _idle = os.getpid(), OrderedDict()


def _reset_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_after_fork)
