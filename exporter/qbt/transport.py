"""A total deadline and a size cap for the HTTP requests to qBittorrent, underneath qbittorrentapi.

requests' `timeout` bounds each socket read, not the request: a qBittorrent that drips a byte every
few seconds, or sends its headers and then stalls, holds one request (and the sync, and every scrape
waiting for it) for as long as it likes. Here every request made inside `deadline(seconds)` ends by
then, counting the connect, the status line, the headers and every read of the body:

- `DeadlineAdapter`, which Connection mounts on qbittorrentapi's requests session, starts no request
  once the deadline has passed and gives each one connect and read timeouts of the time left;
- its connections read responses through `_DeadlineReader`, which sets the socket's timeout to the time
  left before every read, so that no read, and so no request, outlives the deadline.

Why not a worker thread and a bounded wait: the caller would get its answer in time, but the worker
would stay blocked on the socket (a dripping server never lets it go) while holding the connection's
lock, which the next sync and the action jobs need. Shrinking each read's timeout ends the request
itself, in the thread that made it, with the usual requests timeout error.

`post_direct` makes one form POST straight through the adapter's pool (sync/maindata, once per scrape).

`read_body` reads a streamed response with a cap on its (decompressed) size, so that an oversized
response costs at most the cap in memory instead of everything it sends.

`is_local` says whether qBittorrent's responses are worth compressing (connection.py asks for them
uncompressed from a local address: see its docstring).
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager

_local = threading.local()  # .at: the monotonic deadline of this thread's requests, or None


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Requests made by this thread inside the block end within `seconds`, or by the deadline of an
    enclosing block if that comes first."""
    outer: float | None = getattr(_local, "at", None)
    at = time.monotonic() + seconds
    _local.at = at if outer is None else min(at, outer)
    try:
        yield
    finally:
        _local.at = outer


def time_left() -> float | None:
    """Seconds until this thread's deadline (negative once passed), or None outside `deadline()`."""
    at: float | None = getattr(_local, "at", None)
    return None if at is None else at - time.monotonic()


class _DeadlineReader(io.RawIOBase):
    """The socket reads of one response, each with a timeout of the time left until `at`."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, at: float) -> None:
        super().__init__()
        self._raw, self._sock, self._at = raw, sock, at

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._at - time.monotonic()
        if left <= 0:
            raise TimeoutError("qBittorrent did not answer within the request deadline")
        self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()  # the socket's makefile() reference: the socket may close now
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading through a _DeadlineReader when the request has a deadline."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        at: float | None = getattr(_local, "at", None)
        if at is not None:  # nothing is buffered yet: detaching loses no byte
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, at))


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, bounded by the calling thread's `deadline()` (none outside one)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._use_our_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **kwargs)
        if isinstance(manager, ProxyManager):  # an http(s) proxy; SOCKS keeps its own connections
            self._use_our_pools(manager)
        return manager

    @staticmethod
    def _use_our_pools(manager: PoolManager) -> None:
        manager.pool_classes_by_scheme = _POOLS

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        left = time_left()
        if left is not None:
            if left <= 0:
                raise requests.exceptions.ReadTimeout("the request deadline has passed", request=request)
            kwargs["timeout"] = left  # connect and each read; _DeadlineReader shrinks it read by read
        if "verify" in kwargs:
            kwargs["verify"] = _tls_verify(request.url or "", kwargs["verify"])
        return super().send(request, *args, **kwargs)


def _tls_verify(url: str, verify: bool | str) -> bool | str:
    """`verify` for a request to `url`: on plain HTTP there is no TLS, and a CA path (ca_file,
    REQUESTS_CA_BUNDLE) would only cost requests a stat of it on every request (4 % of the CPU of a
    service watching 50 small qBittorrents)."""
    return True if isinstance(verify, str) and url.startswith("http://") else verify


class ResponseTooLarge(Exception):
    """The response is larger than the configured cap."""


CHUNK = 1 << 20


def post_direct(
    session: requests.Session, url: str, form: str, headers: Mapping[str, str], verify: bool | str
) -> BaseHTTPResponse | None:
    """A form POST through the session's DeadlineAdapter pool, without requests' per-request work
    (merging settings, cookies and hooks, building a Response: ~0.6 ms of CPU, most of a small delta
    sync's). For the one request a scrape makes per qBittorrent, sync/maindata.

    None, having sent nothing, when requests must handle it (a proxy, another adapter) or the deadline
    has passed. The response is streamed, redirects not followed, cookies it sets not kept; the caller
    reads it (`read_body(response.stream(...))`) and releases it. Errors are urllib3's."""
    adapter = session.get_adapter(url)
    left = time_left()
    if session.proxies or type(adapter) is not DeadlineAdapter or (left is not None and left <= 0):
        return None
    request = requests.PreparedRequest()
    request.url, request.headers = url, requests.structures.CaseInsensitiveDict()
    pool = adapter.get_connection_with_tls_context(request, _tls_verify(url, verify), None, session.cert)
    assert isinstance(pool, HTTPConnectionPool)
    sent: dict[str, str] = {k: str(v) for k, v in session.headers.items()}
    sent.update(headers)
    sent["Content-Type"] = "application/x-www-form-urlencoded"
    cookie = requests.cookies.get_cookie_header(session.cookies, request)
    if cookie:
        sent["Cookie"] = cookie
    parts = urlsplit(url)
    return pool.urlopen(
        "POST",
        parts.path + (f"?{parts.query}" if parts.query else ""),
        body=form.encode(),
        headers=sent,
        retries=False,
        redirect=False,
        assert_same_host=False,
        preload_content=False,
        decode_content=True,
        timeout=Timeout(connect=left, read=left) if left is not None else Timeout(),
    )


def read_body(chunks: Iterable[bytes], limit: int) -> bytearray:
    """A streamed response's body (its decompressed chunks); ResponseTooLarge as soon as it passes
    `limit` bytes."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise ResponseTooLarge(f"qBittorrent's response is larger than {limit / 2**20:g} MiB")
    return body


def feed_body(chunks: Iterable[bytes], limit: int, feed: Callable[[bytes], object]) -> int:
    """read_body, each chunk given to `feed` as it comes rather than kept: the bytes fed."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"qBittorrent's response is larger than {limit / 2**20:g} MiB")
        feed(chunk)
    return size


# Name endings of hosts on a local network (RFC 6762 .local, RFC 8375 home.arpa, ICANN's .internal, .lan).
_LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".home.arpa", ".internal")


def is_local(url: str) -> bool:
    """Whether `url` names this machine or a local network, from the URL alone (no DNS lookup):
    localhost, a loopback, private or link-local address, a name without a dot (a container or a
    hosts-file alias) or a name under a local-network suffix."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(_LOCAL_SUFFIXES)
    return address.is_loopback or address.is_private or address.is_link_local
