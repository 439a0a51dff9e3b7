"""The HTTP server: serves a table of routes (routes.py) on one address, with TLS and basic auth.

TLS and the users come from the exporter-toolkit web config file (parsed by exporter/config/web.py).
/healthz answers without authentication (it says only "ok"), so that a container health check
needs no credentials; everything else requires them when users are configured.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import bcrypt

from .routes import Route

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)


class BasicAuth:
    """bcrypt checks are slow by design (~0.1-0.3 s): remember what was verified, like exporter-toolkit."""

    def __init__(self, users: Mapping[str, bytes]) -> None:
        self.users = dict(users)
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()

    def check(self, header: str | None) -> bool:
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            bcrypt.checkpw(b"timing", b"$2b$10$" + b"." * 53)  # same cost whether the user exists or not
            return False
        key = hashlib.sha256(hashed + b"\0" + password.encode()).digest()
        with self._lock:
            if key in self._verified:
                return True
        if bcrypt.checkpw(password.encode(), hashed):
            with self._lock:
                self._verified.add(key)
            return True
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            # Handshake later, in the request's own thread: a slow client must not stall accept().
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(10)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address[0], exc)
                return
        super().finish_request(request, client_address)


class WebServer:
    """Serves `routes` ({path: Route}) on one address. Start with `start()`, stop with `stop()`."""

    def __init__(
        self,
        address: tuple[str, int],
        routes: Mapping[str, Route],
        web: WebConfig,
        public_paths: tuple[str, ...] = ("/healthz",),
    ) -> None:
        auth = BasicAuth(web.users)
        routes = dict(routes)

        class Handler(BaseHTTPRequestHandler):
            server_version = "qbittorrent-monitor"
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path, _, query_text = self.path.partition("?")
                route = routes.get(path)
                if path not in public_paths and not auth.check(self.headers.get("Authorization")):
                    self._send(
                        401,
                        "text/plain; charset=utf-8",
                        b"Unauthorized\n",
                        {"WWW-Authenticate": 'Basic realm="qbittorrent-monitor"'},
                    )
                    return
                if route is None:
                    self._send(404, "text/plain; charset=utf-8", b"Not Found\n", {})
                    return
                query = dict(p.partition("=")[::2] for p in query_text.split("&") if p)
                try:
                    status, ctype, body, headers = route(query, dict(self.headers.items()))
                except Exception:
                    log.exception("error serving %s", path)
                    status, ctype, body, headers = (
                        500,
                        "text/plain; charset=utf-8",
                        b"Internal Server Error\n",
                        {},
                    )
                if "gzip" in (self.headers.get("Accept-Encoding") or "") and len(body) > 1024:
                    body, headers = gzip.compress(body, 5), {**headers, "Content-Encoding": "gzip"}
                self._send(status, ctype, body, headers)

            def do_HEAD(self) -> None:  # noqa: N802
                self.do_GET()

            def _send(self, status: int, ctype: str, body: bytes, headers: Mapping[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("%s %s", self.address_string(), format % args)

        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        server_class = type("Server", (_Server,), {"address_family": family})
        self._httpd = server_class(address, Handler)
        self._httpd.tls = web.tls
        self._thread: threading.Thread | None = None
        self.scheme = "https" if web.tls else "http"

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
