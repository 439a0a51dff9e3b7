"""The HTTP side: /, /metrics, /healthz, /readyz and extra routes, with TLS and basic auth.

TLS and basic auth use the web config file format of Prometheus's exporter-toolkit:

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_ca_file: ca.crt            # optional: ask clients for certificates
      client_auth_type: RequireAndVerifyClientCert
      min_version: TLS12                # optional
    basic_auth_users:
      prometheus: $2b$12$...            # bcrypt hash

/healthz answers without authentication (it says only "ok"), so that a container health check
needs no credentials; everything else requires them when users are configured.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import html
import json
import logging
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping

import bcrypt
import yaml

from .config import ConfigError

log = logging.getLogger(__name__)

CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)


def load_web_config(path: str) -> WebConfig:
    name = "web.config-file"
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(name, f"cannot read {path!r}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise ConfigError(name, f"{path!r} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(name, "must hold a mapping")
    unknown = set(data) - {"tls_server_config", "basic_auth_users", "http_server_config"}
    if unknown:
        raise ConfigError(f"{name}: {sorted(unknown)[0]}", "unknown key")
    base = Path(path).resolve().parent
    tls = _tls_context(data.get("tls_server_config"), base) if data.get("tls_server_config") else None
    users: dict[str, bytes] = {}
    raw_users = data.get("basic_auth_users") or {}
    if not isinstance(raw_users, dict):
        raise ConfigError(f"{name}: basic_auth_users", "must map user names to bcrypt hashes")
    for user, hashed in raw_users.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            # Never echo the value: a user may have put a plain password here by mistake.
            raise ConfigError(f"{name}: basic_auth_users.{user}", "must be a bcrypt hash ($2y$...)")
        users[str(user)] = hashed.replace("$2y$", "$2b$", 1).encode()
    return WebConfig(tls=tls, users=users)


def _tls_context(cfg: Any, base: Path) -> ssl.SSLContext:
    where = "web.config-file: tls_server_config"
    if not isinstance(cfg, dict):
        raise ConfigError(where, "must be a mapping")
    known = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
             "max_version", "cipher_suites", "prefer_server_cipher_suites", "curve_preferences"}
    for key in cfg:
        if key not in known:
            raise ConfigError(f"{where}.{key}", "unknown key")
    for key in ("cert_file", "key_file"):
        if not cfg.get(key):
            raise ConfigError(f"{where}.{key}", "is required")

    def resolve(p: str) -> str:
        return str((base / p) if not Path(p).is_absolute() else Path(p))

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS.get(str(cfg.get("min_version", "TLS12")), ssl.TLSVersion.TLSv1_2)
    try:
        ctx.load_cert_chain(resolve(cfg["cert_file"]), resolve(cfg["key_file"]))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}.cert_file", f"cannot load certificate/key: {exc}") from None
    auth_type = cfg.get("client_auth_type", "NoClientCert" if not cfg.get("client_ca_file") else "RequireAndVerifyClientCert")
    if auth_type not in CLIENT_AUTH_TYPES:
        raise ConfigError(f"{where}.client_auth_type", f"must be one of {', '.join(CLIENT_AUTH_TYPES)}")
    if cfg.get("client_ca_file"):
        try:
            ctx.load_verify_locations(resolve(cfg["client_ca_file"]))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{where}.client_ca_file", f"cannot load: {exc}") from None
    elif auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
        raise ConfigError(f"{where}.client_ca_file", f"is required for client_auth_type {auth_type}")
    ctx.verify_mode = CLIENT_AUTH_TYPES[auth_type]
    return ctx


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


# A route answers (status, content type, body bytes, extra headers) for (path, query, headers).
Response = tuple[int, str, bytes, Mapping[str, str]]
Route = Callable[[Mapping[str, str], Mapping[str, str]], Response]


def text(status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return status, content_type, body.encode(), {}


def as_json(status: int, payload: Any) -> Response:
    return status, "application/json", json.dumps(payload, indent=1, default=str).encode(), {}


def landing_page(title: str, links: Mapping[str, str]) -> Route:
    items = "".join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a> {html.escape(d)}</li>' for p, d in links.items())
    body = (f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><ul>{items}</ul></body></html>")
    return lambda query, headers: text(200, body, "text/html; charset=utf-8")


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

    def __init__(self, address: tuple[str, int], routes: Mapping[str, Route], web: WebConfig,
                 public_paths: tuple[str, ...] = ("/healthz",)) -> None:
        auth = BasicAuth(web.users)
        routes = dict(routes)

        class Handler(BaseHTTPRequestHandler):
            server_version = "qbittorrent-monitor"
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path, _, query_text = self.path.partition("?")
                route = routes.get(path)
                if path not in public_paths and not auth.check(self.headers.get("Authorization")):
                    self._send(401, "text/plain; charset=utf-8", b"Unauthorized\n",
                               {"WWW-Authenticate": 'Basic realm="qbittorrent-monitor"'})
                    return
                if route is None:
                    self._send(404, "text/plain; charset=utf-8", b"Not Found\n", {})
                    return
                query = dict(p.partition("=")[::2] for p in query_text.split("&") if p)
                try:
                    status, ctype, body, headers = route(query, self.headers)
                except Exception:
                    log.exception("error serving %s", path)
                    status, ctype, body, headers = 500, "text/plain; charset=utf-8", b"Internal Server Error\n", {}
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
