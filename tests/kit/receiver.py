"""Loopback HTTP servers for the tests: one server base and the recording Receiver built on it.

`LoopbackServer` is the only http.server code in the tests (tests/unit/test_test_kit.py enforces that):
a ThreadingHTTPServer on 127.0.0.1 on a free port, optionally with TLS, serving from a daemon thread, used
as a context manager or closed by its fixture, and never alive longer than `lifetime` seconds. A subclass
decides the answer to each request in `respond`.

`Receiver` records every request and answers as told: a webhook receiver (unit and integration tests), the
Alertmanager webhook (e2e), a dead tracker (status 503), a working one (a bencoded announce `body`). It
can answer late (`delay`), hold each request until the test lets it go (`gate`), or fail without
answering (`failure="close"`).
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIFETIME = 300.0  # seconds: longer than any one test, so a server a test forgot cannot outlive the run


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str  # with the query string
    headers: Message  # case-insensitive: headers["content-type"] == headers["Content-Type"]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def form(self) -> dict[str, str]:
        """The urlencoded body and the query string's parameters."""
        query = urllib.parse.urlsplit(self.path).query
        return {
            **dict(urllib.parse.parse_qsl(self.body.decode(errors="replace"))),
            **dict(urllib.parse.parse_qsl(query)),
        }


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, body: str | dict | list = "", **headers: str) -> Response:
        """A JSON body for a dict or list, plain text otherwise."""
        if isinstance(body, (dict, list)):
            return cls(status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})
        return cls(status, body.encode(), {"Content-Type": "text/plain", **headers})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(self.command, self.path, self.headers, self.rfile.read(length) if length else b"")
        response = self.server.owner.respond(request)
        if response is None:  # fail without answering: the client sees the connection closed
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815 - http.server's names

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left before its answer (it timed out, as some tests make it) is no error."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class LoopbackServer:
    """A server on 127.0.0.1:<free port>. Subclasses implement `respond`; `closed` is set at close, so
    anything a handler waits for can end then."""

    def __init__(
        self, tls: ssl.SSLContext | None = None, lifetime: float = LIFETIME, host: str = "127.0.0.1"
    ) -> None:
        """host: a loopback address (127.0.0.0/8): another one is another tracker host to qBittorrent."""
        if not host.startswith("127."):
            raise ValueError(f"LoopbackServer listens on loopback only, not {host}")
        self.host = host
        self.closed = threading.Event()
        self.httpd = _Server((host, 0), _Handler)
        self.httpd.owner = self
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        # a short poll interval: close() (shutdown) returns within 50 ms rather than 500
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self._expiry = threading.Timer(lifetime, self.close)
        self._expiry.daemon = True
        self._expiry.start()

    def respond(self, request: Request) -> Response | None:
        """The answer to `request`; None closes the connection without one."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "") -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self._expiry.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Receiver(LoopbackServer):
    """Records every request (any method) and answers `status`, or `statuses[path]` for a path listed
    there (the path without its query string), with `body`. All of it may change while the server runs.

    delay: seconds to wait before answering (a slow receiver).
    gate: while clear, each request is held open (the sender waits) until it is set, or `hold` seconds.
    failure: "close" closes the connection without an answer (after recording the request).
    """

    FAILURES = (None, "close")

    def __init__(
        self,
        status: int = 200,
        *,
        statuses: dict[str, int] | None = None,
        body: bytes = b"",
        delay: float = 0.0,
        failure: str | None = None,
        hold: float = 30.0,
        tls: ssl.SSLContext | None = None,
        lifetime: float = LIFETIME,
        host: str = "127.0.0.1",
    ) -> None:
        if failure not in self.FAILURES:
            raise ValueError(f"failure must be one of {self.FAILURES}, not {failure!r}")
        self.status, self.statuses, self.body = status, dict(statuses or {}), body
        self.delay, self.failure, self.hold = delay, failure, hold
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        super().__init__(tls, lifetime, host)

    @property
    def requests(self) -> list[Request]:
        """What was received so far, oldest first (a copy: safe while requests keep arriving)."""
        with self._lock:
            return list(self._requests)

    def respond(self, request: Request) -> Response | None:
        with self._lock:
            self._requests.append(request)
        if self.delay:
            self.closed.wait(self.delay)
        self.gate.wait(self.hold)
        if self.failure == "close":
            return None
        path = urllib.parse.urlsplit(request.path).path
        return Response(self.statuses.get(path, self.status), self.body)

    def close(self) -> None:
        self.gate.set()  # let held requests finish
        super().close()
