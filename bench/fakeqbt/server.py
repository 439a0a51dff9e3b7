"""The HTTP side of the fake qBittorrent: Web API routes, login sessions, gzip, and what it served.

Behaves like qbittorrent-nox 4.5.2 on the wire where it matters for cost: a request without a session
gets 403 "Forbidden"; a wrong password gets 200 "Fails."; the right one 200 "Ok." and a SID cookie;
responses are gzip-compressed at level 6 when the client accepts gzip and it makes them smaller (as
qBittorrent's Http::ResponseWriter does). Write endpoints are recorded, never applied.

Counters (per endpoint: requests, bytes on the wire, JSON bytes before compression) are read and the
world is advanced through /bench/*, which needs no login and is not counted:

    POST /bench/tick?n=1   advance n intervals of churn      GET /bench/stats    the counters
    GET  /bench/writes     the recorded write requests       GET /bench/config   size, version, churn, now
    POST /bench/expire-sessions   forget every login and sync session (clients get 403, log in again
                                  and, their rid unknown to the new session, a full update)
"""

from __future__ import annotations

import gzip
import secrets
import socket
import threading
import urllib.parse
from collections import Counter, OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import trackers
from .world import World, dumps

Answer = tuple[int, str, bytes]  # status, content type, body
JSON, TEXT = "application/json", "text/plain; charset=UTF-8"


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.wire_bytes: Counter[str] = Counter()
        self.json_bytes: Counter[str] = Counter()

    def add(self, endpoint: str, wire: int, raw: int) -> None:
        with self.lock:
            self.requests[endpoint] += 1
            self.wire_bytes[endpoint] += wire
            self.json_bytes[endpoint] += raw

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": sum(self.requests.values()),
                "wire_bytes": sum(self.wire_bytes.values()),
                "json_bytes": sum(self.json_bytes.values()),
                "by_endpoint": {
                    e: {
                        "requests": self.requests[e],
                        "wire_bytes": self.wire_bytes[e],
                        "json_bytes": self.json_bytes[e],
                    }
                    for e in sorted(self.requests)
                },
            }


class FakeQbittorrent:
    """One fake qBittorrent: `World` data behind an HTTP server on 127.0.0.1."""

    def __init__(
        self,
        world: World,
        username: str = "admin",
        password: str = "adminadmin",
        api_key: str = "",
        gzip_level: int = 6,
        port: int = 0,
    ) -> None:
        self.world, self.username, self.password, self.api_key = world, username, password, api_key
        self.gzip_level = gzip_level
        self.stats = Stats()
        self.writes: list[dict[str, Any]] = []
        self.sessions: OrderedDict[str, None] = OrderedDict()
        self.http = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.http.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def start(self) -> FakeQbittorrent:
        self._thread = threading.Thread(target=self.http.serve_forever, name="fakeqbt", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    # -- routing --------------------------------------------------------------------------------

    def answer(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        cookie_sid: str,
        auth: str,
    ) -> tuple[Answer, str | None]:
        """(status, content type, body) and a new SID to set, for one /api/v2 request."""
        name = path.removeprefix("/api/v2/")
        if name == "auth/login":
            if params.get("username") == self.username and params.get("password") == self.password:
                sid = secrets.token_urlsafe(24)
                self.sessions[sid] = None
                while len(self.sessions) > 256:  # idle sessions expire in qBittorrent too
                    self.sessions.popitem(last=False)
                return (200, TEXT, b"Ok."), sid
            return (200, TEXT, b"Fails."), None
        sid = cookie_sid if cookie_sid in self.sessions else ""
        if not sid and self.api_key and auth == f"Bearer {self.api_key}":
            sid = "api-key"
        if not sid:
            return (403, TEXT, b"Forbidden"), None
        if name in self.world.profile.writes:
            if method != "POST":
                return (405, TEXT, b"Method Not Allowed"), None
            self.writes.append({"endpoint": name, "params": params, "version": self.world.version})
            return (200, TEXT, b""), None
        route = self.routes().get(name)
        if route is None:
            return (404, TEXT, b"Not Found"), None
        if name == "auth/logout":
            self.sessions.pop(sid, None)
            return (200, TEXT, b""), None
        return route(params, sid), None

    def routes(self) -> dict[str, Callable[[dict[str, str], str], Answer]]:
        w, p = self.world, self.world.profile
        return {
            "auth/logout": lambda q, sid: (200, TEXT, b""),
            "app/version": lambda q, sid: (200, TEXT, p.version.encode()),
            "app/webapiVersion": lambda q, sid: (200, TEXT, p.webapi.encode()),
            "app/buildInfo": lambda q, sid: (200, JSON, dumps(p.build_info)),
            "app/preferences": lambda q, sid: (200, JSON, dumps(p.preferences())),
            "app/defaultSavePath": lambda q, sid: (200, TEXT, b"/data/torrents"),
            "sync/maindata": lambda q, sid: (200, JSON, w.maindata(sid, _int(q.get("rid")))),
            "torrents/info": lambda q, sid: (200, JSON, trackers.torrents_info(w, q)),
            "torrents/categories": lambda q, sid: (200, JSON, dumps(w.categories)),
            "torrents/tags": lambda q, sid: (200, JSON, dumps(w.tags)),
            "torrents/trackers": lambda q, sid: trackers.torrent_trackers(w, q.get("hash", "")),
            "transfer/info": lambda q, sid: (200, JSON, w.transfer_info()),
        }

    def control(self, method: str, path: str, params: dict[str, str]) -> Answer:
        if path == "/bench/tick" and method == "POST":
            return 200, JSON, dumps(self.world.tick(_int(params.get("n")) or 1))
        if path == "/bench/expire-sessions" and method == "POST":  # as if qBittorrent restarted
            with self.world.lock:
                self.sessions.clear()
                self.world.sessions.clear()
            return 200, JSON, b"{}"
        if path == "/bench/stats":
            return 200, JSON, dumps(self.stats.snapshot())
        if path == "/bench/writes":
            return 200, JSON, dumps(self.writes)
        if path == "/bench/config":
            w = self.world
            return (
                200,
                JSON,
                dumps(
                    {
                        "torrents": len(w.records),
                        "version": w.profile.name,
                        "churn": w.churn,
                        "added": w.added,
                        "removed": w.removed,
                        "gzip_level": self.gzip_level,
                        "now": w.now,
                        "ticks": w.version,
                    }
                ),
            )
        return 404, TEXT, b"Not Found"

    def encode(self, ctype: str, body: bytes, accept_encoding: str) -> tuple[bytes, bool]:
        if self.gzip_level and "gzip" in accept_encoding and len(body) > 64:
            packed = gzip.compress(body, self.gzip_level, mtime=0)
            if len(packed) + 24 < len(body):
                return packed, True
        return body, False


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _handler(fake: FakeQbittorrent) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fakeqbt"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without this, Nagle holds the second one until the
            # client's delayed ACK (~40 ms), a latency real qBittorrent (one buffered write) does not have.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if raw and "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                params.update(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
            elif raw:
                params["_body_bytes"] = str(len(raw))  # multipart (torrents/add): recorded by size only
            if url.path.startswith("/bench/"):
                status, ctype, body = fake.control(method, url.path, params)
                self._send(status, ctype, body, None, count=None)
                return
            cookies = dict(
                c.strip().split("=", 1) for c in (self.headers.get("Cookie") or "").split(";") if "=" in c
            )
            (status, ctype, body), new_sid = fake.answer(
                method, url.path, params, cookies.get("SID", ""), self.headers.get("Authorization") or ""
            )
            self._send(status, ctype, body, new_sid, count=url.path.removeprefix("/api/v2/"))

        def _send(self, status: int, ctype: str, body: bytes, sid: str | None, count: str | None) -> None:
            raw_len = len(body)
            body, zipped = fake.encode(ctype, body, self.headers.get("Accept-Encoding") or "")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if zipped:
                self.send_header("Content-Encoding", "gzip")
            if sid:
                self.send_header("Set-Cookie", f"SID={sid}; HttpOnly; path=/")
            head = sum(len(line) for line in self._headers_buffer)
            self.end_headers()
            self.wfile.write(body)
            if count is not None:
                fake.stats.add(count, head + 2 + len(body), raw_len)

    return Handler
