"""A minimal qBittorrent 5.2-shaped Web API on 127.0.0.1, for what the real 4.5.2 here cannot show:
API-key (Bearer) auth, the 5.x stop/start endpoints, HTTPS with a private CA, and a server that hangs.

It records every request (path, Authorization header presence, form data) for the assertions.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "qbt_5_2_api_key_SECRET"
PASSWORD = "fake-password-SECRET"


class FakeQbt5:
    def __init__(self, tls: ssl.SSLContext | None = None, hang: float = 0.0, hang_path: str = ""):
        self.requests: list[tuple[str, bool, dict]] = []
        self.hang = hang
        self.hang_path = hang_path  # "" = every request hangs
        self.sessions: set[str] = set()  # valid SID cookies; clear it to expire every session
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: str | dict, ctype="text/plain"):
                data = (json.dumps(body) if isinstance(body, (dict, list)) else body).encode()
                if isinstance(body, (dict, list)):
                    ctype = "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                self.do_GET()

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode())) if length else {}
                form.update(urllib.parse.parse_qsl(url.query))
                cookie = (self.headers.get("Cookie") or "").partition("SID=")[2].split(";")[0]
                authorized = (
                    self.headers.get("Authorization") == f"Bearer {API_KEY}" or cookie in fake.sessions
                )
                fake.requests.append((url.path, authorized, form))
                if fake.hang and fake.hang_path in ("", url.path):
                    time.sleep(fake.hang)  # the fake server's own behaviour: a hung qBittorrent
                if url.path == "/api/v2/auth/login":
                    if form.get("username") == "admin" and form.get("password") == PASSWORD:
                        sid = f"sid{len(fake.requests)}"
                        fake.sessions.add(sid)
                        self.send_response(200)
                        self.send_header("Set-Cookie", f"SID={sid}; HttpOnly; path=/")
                        self.send_header("Content-Length", "3")
                        self.end_headers()
                        return self.wfile.write(b"Ok.")
                    return self._answer(401, "Fails.")
                if not authorized:
                    return self._answer(403 if not self.headers.get("Authorization") else 401, "Forbidden")
                routes = {
                    "/api/v2/app/version": "v5.2.0",
                    "/api/v2/app/webapiVersion": "2.12.0",
                    "/api/v2/app/buildInfo": {"libtorrent": "2.0.11.0", "qt": "6.8.0", "bitness": 64},
                    "/api/v2/sync/maindata": {
                        "rid": 1,
                        "full_update": True,
                        "categories": {},
                        "tags": [],
                        "server_state": {
                            "connection_status": "connected",
                            "global_ratio": "0.50",
                            "alltime_ul": 1,
                            "alltime_dl": 2,
                        },
                        "torrents": {"abcd": {"name": "x", "state": "stoppedDL", "size": 10}},
                    },
                    "/api/v2/torrents/stop": "",
                    "/api/v2/torrents/start": "",
                    "/api/v2/auth/logout": "",
                }
                if url.path not in routes:
                    return self._answer(404, "Not Found")
                self._answer(200, routes[url.path])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.requests if p == path)

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
