"""The HTTP server: serves a table of routes (routes.py) on one address, with TLS and basic auth.

TLS and the users come from the exporter-toolkit web config file (parsed by exporter/config/web.py).
/healthz answers without authentication (it says only "ok"), so that a container health check
needs no credentials; everything else requires them when users are configured.

How it holds up against clients that connect and do nothing, or too little: one asyncio event loop
(thread "http") accepts, does the TLS handshakes and reads request heads for every connection, so an
idle connection costs a few kilobytes and no thread; a route runs in a pool of `workers` threads
(bcrypt and the scrape block). Every phase has a deadline (ServerLimits): a new connection must finish
its TLS handshake and send its request head within `header_timeout`; a kept-alive connection may wait
`idle_timeout` for its next request, then has `header_timeout` for that head; a response must be
taken within `write_timeout`. Past `max_connections` (also kept under the open-file limit) a new
connection closes the one that has waited longest for a request, so a scrape still gets in.

Why asyncio rather than a server library (each weighed for TLS with client certificates, bounded
threads, timeouts, slowloris, keep-alive and what it costs to depend on):
- http.server (before): a thread per connection and per-read socket timeouts only, so a slowloris or
  an HTTP/0.9 line held a thread forever; bounding its threads would let idle keep-alive clients
  starve the scrape, as nothing parks them outside the pool.
- cheroot 11 (under a WSGI adapter of the route table): a bounded pool, keep-alive connections parked
  in a selector, TLS from an SSLContext (mTLS works); but the handshake runs in its accept thread
  (`BuiltinSSLAdapter.wrap`, blocking up to `timeout`), so one silent TLS client stalls every accept,
  and its timeout is per socket operation, so a byte every few seconds keeps a worker. Three packages
  (cheroot, jaraco.functools, more-itertools).
- waitress 3: one select loop buffering request heads, a bounded pool, inactivity timeouts; no TLS (a
  reverse proxy would have to do the exporter-toolkit web config's job).
- asyncio (chosen): the same SSLContext through `start_tls`, handshakes in the loop under a deadline,
  whole-head deadlines (slowloris), idle connections outside the pool, no dependency. The price is
  protocol.py, a ~150-line request reader for GET/HEAD without bodies.
"""

from __future__ import annotations

import asyncio
import errno
import gzip
import logging
import resource
import socket
import ssl
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .auth import BasicAuth
from .protocol import MAX_LINE, BadRequest, Request, encode_response, read_request
from .routes import Response, Route

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"
FD_RESERVE = 64  # open files kept for the rest of the process (qBittorrent, store, logs) when capping


@dataclass(frozen=True)
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ServerLimits:
    """Deadlines (seconds) and bounds of the server; the timeouts are the --web.*-timeout options."""

    header_timeout: float = 10.0  # TLS handshake + request head of a new connection; any request head
    idle_timeout: float = 90.0  # a kept-alive connection waiting for its next request
    write_timeout: float = 60.0  # the client must take a whole response in this time
    max_connections: int = 512  # open connections at once (kept under the open-file limit)
    workers: int = 8  # threads running routes at once (scrapes, bcrypt checks)
    backlog: int = 1024  # connections the kernel queues before accept


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered so that connections leave FD_RESERVE files of the soft open-file limit free:
    under `ulimit -n 128` idle clients would otherwise take every file and the scrape's accept fails."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - FD_RESERVE))


class _Connection:
    """One client connection, as the eviction needs it: busy while a request is being answered."""

    def __init__(self, transport: asyncio.WriteTransport, now: float) -> None:
        self.transport = transport
        self.waiting_since = now
        self.busy = False
        self.task: asyncio.Task[None] | None = None

    def abort(self) -> None:
        self.transport.abort()


class WebServer:
    """Serves `routes` ({path: Route}) on one address. Start with `start()`, stop with `stop()`."""

    def __init__(
        self,
        address: tuple[str, int],
        routes: Mapping[str, Route],
        web: WebConfig,
        public_paths: tuple[str, ...] = ("/healthz",),
        limits: ServerLimits | None = None,
    ) -> None:
        limits = limits or ServerLimits()
        self.routes = dict(routes)
        self.public_paths = public_paths
        self.tls = web.tls
        self.limits = limits
        self.max_connections = connection_cap(limits.max_connections)
        if self.max_connections < limits.max_connections:
            log.info("serving at most %d connections (open-file limit)", self.max_connections)
        self.scheme = "https" if web.tls else "http"
        self._auth = BasicAuth(web.users)
        self._socket = _listen(address, limits.backlog)
        self._workers = ThreadPoolExecutor(limits.workers, thread_name_prefix="http-worker")
        self._connections: dict[asyncio.WriteTransport, _Connection] = {}
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_log_loop_error)
        self._thread: threading.Thread | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._last_full_warning = -3600.0

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> None:
        self._acceptor = self._loop.create_task(self._accept_forever())
        self._thread = threading.Thread(target=self._loop.run_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Closes the listener and every connection; answers being computed are dropped."""
        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()
        self._socket.close()
        self._workers.shutdown(wait=False, cancel_futures=True)

    async def _close(self) -> None:
        tasks = [c.task for c in self._connections.values() if c.task is not None]
        if self._acceptor is not None:
            tasks.append(self._acceptor)
        for conn in list(self._connections.values()):
            conn.abort()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- accepting -------------------------------------------------------------------------------

    async def _accept_forever(self) -> None:
        """Accept one connection at a time, making room first: asyncio's own accept takes up to 100
        per wake-up before any callback runs, which overshoots the limit into the open-file limit."""
        while True:
            self._make_room(len(self._connections) >= self.max_connections, "the connection limit")
            try:
                sock, _ = await self._loop.sock_accept(self._socket)
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    continue  # this client is gone already (ECONNABORTED and the like)
                self._make_room(True, "the open-file limit")
                await asyncio.sleep(0.05)  # let the closed one go before accepting again
                continue
            try:
                # _connected registers the connection in its first step, which asyncio runs before
                # this returns (callbacks run in order): the next _make_room counts it.
                await self._loop.connect_accepted_socket(
                    lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader(MAX_LINE), self._connected),
                    sock,
                )
            except OSError:
                sock.close()

    def _make_room(self, full: bool, limit: str) -> None:
        """When `full`, close the connection that has waited longest for a request (not one being
        answered): an attacker's idle connections give way to the scrape."""
        waiting = [c for c in self._connections.values() if not c.busy] if full else []
        if not waiting:
            return  # not full, or every connection is being answered (each within its deadlines)
        victim = min(waiting, key=lambda c: c.waiting_since)
        del self._connections[victim.transport]
        victim.abort()
        now = self._loop.time()
        if now - self._last_full_warning >= 60:
            self._last_full_warning = now
            log.warning("%s is reached: closing the connections idle longest", limit)

    # -- one connection --------------------------------------------------------------------------

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = self._connections[writer.transport] = _Connection(writer.transport, self._loop.time())
        conn.task = asyncio.current_task()
        try:
            await self._serve(conn, reader, writer)
        except (OSError, EOFError) as exc:  # the client went away or was too slow: TimeoutError is one
            log.debug("connection from %s closed: %s", _peer(writer), type(exc).__name__)
        except Exception:
            log.exception("error on the connection from %s", _peer(writer))
        except asyncio.CancelledError:  # stop(): end quietly (asyncio 3.11 logs a cancelled callback)
            pass
        finally:
            self._connections.pop(conn.transport, None)
            if conn.busy:  # cut off mid-response: nothing more to say
                writer.transport.abort()
            else:
                writer.close()

    async def _serve(
        self, conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        limits = self.limits
        if self.tls is not None:
            async with asyncio.timeout_at(conn.waiting_since + limits.header_timeout):
                await writer.start_tls(self.tls, ssl_handshake_timeout=limits.header_timeout)
        first = True
        while True:
            try:
                request = await self._next_request(conn, reader, first)
            except BadRequest as exc:
                await self._send(
                    writer, encode_response(exc.status, TEXT, f"{exc}\n".encode(), {}, close=True)
                )
                return
            if request is None:
                return
            conn.busy = True
            keep_alive = request.keep_alive
            data = await self._loop.run_in_executor(self._workers, self._respond, request, not keep_alive)
            await self._send(writer, data)
            conn.busy, conn.waiting_since, first = False, self._loop.time(), False
            if not keep_alive:
                return

    async def _next_request(
        self, conn: _Connection, reader: asyncio.StreamReader, first: bool
    ) -> Request | None:
        """The next request, or None when the client closed between requests. A new connection has
        header_timeout from its accept (TLS handshake included) for its first head; a kept-alive one
        waits up to idle_timeout for a first byte, then has header_timeout for the rest."""
        wait = self.limits.header_timeout if first else self.limits.idle_timeout
        async with asyncio.timeout_at(conn.waiting_since + wait) as deadline:
            start = await reader.read(1)
            if not start:
                return None
            if not first:
                deadline.reschedule(self._loop.time() + self.limits.header_timeout)
            return await read_request(reader, start)

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        async with asyncio.timeout(self.limits.write_timeout):
            await writer.drain()

    # -- one request (in a worker thread) --------------------------------------------------------

    def _respond(self, request: Request, close: bool) -> bytes:
        status, ctype, body, headers = self._answer(request)
        if "gzip" in request.headers.get("Accept-Encoding", "") and len(body) > 1024:
            body, headers = gzip.compress(body, 5), {**headers, "Content-Encoding": "gzip"}
        head_only = request.method == "HEAD"
        return encode_response(status, ctype, body, headers, head_only=head_only, close=close)

    def _answer(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return 405, TEXT, b"Method Not Allowed\n", {"Allow": "GET, HEAD"}
        path = request.path
        if path not in self.public_paths and not self._auth.check(request.headers.get("Authorization")):
            return 401, TEXT, b"Unauthorized\n", {"WWW-Authenticate": 'Basic realm="qbittorrent-monitor"'}
        route = self.routes.get(path)
        if route is None:
            return 404, TEXT, b"Not Found\n", {}
        try:
            return route(request.query, request.headers)
        except Exception:
            log.exception("error serving %s", path)
            return 500, TEXT, b"Internal Server Error\n", {}


def _listen(address: tuple[str, int], backlog: int) -> socket.socket:
    """The listening socket, bound now so that a taken port fails the start (cli.py reports it)."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if peer else "?"


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's own errors (e.g. accept() out of open files) as one line, not a traceback."""
    exc = context.get("exception")
    log.warning("http server: %s%s", context.get("message", "error"), f": {exc}" if exc else "")
