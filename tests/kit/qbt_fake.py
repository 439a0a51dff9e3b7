"""A minimal qBittorrent 5.2-shaped Web API on 127.0.0.1, for what the real 4.5.2 here cannot show:
API-key (Bearer) auth, the 5.x stop/start endpoints, HTTPS with a private CA, and a server that hangs.

Built on the kit's LoopbackServer. It records every request as (path, authorized, form data) for the
assertions, and the requests themselves (headers included) in `received`.
"""

from __future__ import annotations

import ssl
import urllib.parse

from tests.kit.receiver import LoopbackServer, Request, Response

API_KEY = "qbt_5_2_api_key_SECRET"
PASSWORD = "fake-password-SECRET"

ROUTES: dict[str, str | dict] = {
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


class FakeQbt5(LoopbackServer):
    """hang: seconds every request (or only `hang_path`'s) waits before its answer: a hung qBittorrent.
    sessions: the valid SID cookies; clear it to expire every session (requests then get 403)."""

    def __init__(
        self,
        tls: ssl.SSLContext | None = None,
        hang: float = 0.0,
        hang_path: str = "",
        routes: dict[str, str | dict | list | Response] | None = None,
    ) -> None:
        """routes: more paths, or other answers (a Response is sent as it is)."""
        self.routes = {**ROUTES, **(routes or {})}
        self.requests: list[tuple[str, bool, dict]] = []
        self.received: list[Request] = []
        self.hang = hang
        self.hang_path = hang_path  # "" = every request hangs
        self.sessions: set[str] = set()
        super().__init__(tls)

    def respond(self, request: Request) -> Response:
        path = urllib.parse.urlsplit(request.path).path
        form = request.form
        cookie = (request.headers.get("Cookie") or "").partition("SID=")[2].split(";")[0]
        authorization = request.headers.get("Authorization")
        authorized = authorization == f"Bearer {API_KEY}" or cookie in self.sessions
        self.requests.append((path, authorized, form))
        self.received.append(request)
        if self.hang and self.hang_path in ("", path):
            self.closed.wait(self.hang)
        if path == "/api/v2/auth/login":
            return self._login(form)
        if not authorized:
            return Response.of(403 if not authorization else 401, "Forbidden")
        answer = self.routes.get(path)
        if answer is None:
            return Response.of(404, "Not Found")
        return answer if isinstance(answer, Response) else Response.of(200, answer)

    def _login(self, form: dict[str, str]) -> Response:
        if form.get("username") == "admin" and form.get("password") == PASSWORD:
            sid = f"sid{len(self.requests)}"
            self.sessions.add(sid)
            return Response(200, b"Ok.", {"Set-Cookie": f"SID={sid}; HttpOnly; path=/"})
        return Response.of(401, "Fails.")

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.requests if p == path)

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]

    def accept_encodings(self, path: str) -> list[str]:
        """The Accept-Encoding header of each request to `path`, oldest first ("" when absent)."""
        return [
            r.headers.get("Accept-Encoding") or ""
            for r in self.received
            if urllib.parse.urlsplit(r.path).path == path
        ]
