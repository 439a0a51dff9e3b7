"""Scrapes answer within their deadline, whatever qBittorrent does; requests to it have a total deadline
and a size cap. Against loopback stand-ins that accept and never answer, drip bytes, log in and then hang
on sync/maindata, or send too much.

Every timing is measured with time.monotonic around the call, and every call runs in a thread joined
with a bound, so that a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from exporter.app import App
from exporter.config import build_settings
from exporter.qbt.connection import Connection, ConnectionSettings, QBittorrentError
from tests.kit.processes import parse_samples, sample

MARGIN = 0.5  # seconds allowed on top of a deadline: building and encoding the answer, a loaded machine

# -- helpers (to be folded into the test kit) ----------------------------------------------------


class Loopback:
    """A qBittorrent stand-in on 127.0.0.1 that misbehaves on purpose.

    mode "silent": reads each request and never answers; "drip": answers one byte every 0.1 s, so that
    no single read waits long; "hang-maindata": logs in and answers the version calls, then never
    answers sync/maindata; "maindata": answers sync/maindata with `body` (gzip-encoded if `gzip`).
    `connections` counts the connections accepted.
    """

    def __init__(self, mode: str, body: bytes = b"", gzip_body: bool = False) -> None:
        self.mode, self.body, self.gzip_body = mode, body, gzip_body
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._clients: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._stop.set()
        for c in self._clients:
            c.close()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            with client.makefile("rb") as requests:
                while not self._stop.is_set():
                    path = _read_request(requests)
                    if path is None or not self._answer(client, path):
                        return
        except OSError:
            return

    def _answer(self, client: socket.socket, path: str) -> bool:
        """Answer one request; False to stop serving this connection."""
        if self.mode == "silent" or (self.mode == "hang-maindata" and path.endswith("/sync/maindata")):
            self._stop.wait(30)
            return False
        if self.mode == "drip":
            for byte in _response(b" " * 100_000):
                if self._stop.wait(0.1):
                    return False
                client.sendall(bytes([byte]))
            return False
        if path.endswith("/sync/maindata"):
            body = gzip.compress(self.body) if self.gzip_body else self.body
            client.sendall(_response(body, gzip_body=self.gzip_body))
            return True
        answers = {
            "/api/v2/auth/login": b"Ok.",
            "/api/v2/app/version": b"v5.0.0",
            "/api/v2/app/webapiVersion": b"2.11.2",
            "/api/v2/app/buildInfo": b'{"libtorrent": "2.0.10.0"}',
        }
        client.sendall(_response(answers.get(path, b""), cookie=path.endswith("/login")))
        return True


def _read_request(requests: Any) -> str | None:
    """The path of the next request on the connection (its body read and dropped), None at its end."""
    line = requests.readline()
    if not line:
        return None
    length = 0
    while (header := requests.readline()) not in (b"\r\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    requests.read(length)
    return line.split()[1].decode().partition("?")[0]


def _response(body: bytes, cookie: bool = False, gzip_body: bool = False) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Type: application/json\r\n"
    if cookie:
        head += "Set-Cookie: SID=loopback; path=/\r\n"
    if gzip_body:
        head += "Content-Encoding: gzip\r\n"
    return (head + "\r\n").encode() + body


@pytest.fixture
def loopback() -> Iterator[Callable[..., Loopback]]:
    started: list[Loopback] = []

    def make(mode: str, **kwargs: Any) -> Loopback:
        server = Loopback(mode, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.close()


def bounded(fn: Callable[[], Any], limit: float) -> tuple[Any, float]:
    """(fn()'s result or exception, seconds it took); fails if it takes longer than `limit`."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            outcome["value"] = fn()
        except Exception as exc:  # the caller asserts on it
            outcome["value"] = exc
        outcome["took"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still running after {limit:.1f}s"
    return outcome["value"], outcome["took"]


def app_for(url: str, **flags: str) -> App:
    return App(build_settings({"qbittorrent.url": url, "qbittorrent.password": "pw", **flags}, {}))


def scrape(app: App, headers: dict[str, str] | None = None) -> dict:
    status, _, body, _ = app.routes["/metrics"]({}, headers or {})
    assert status == 200
    return parse_samples(body.decode())


PROMETHEUS_2S = {"X-Prometheus-Scrape-Timeout-Seconds": "2"}  # deadline 2 - 0.5 = 1.5 s

# -- scrapes answer within their deadline --------------------------------------------------------


@pytest.mark.parametrize("mode", ["silent", "drip", "hang-maindata"])
def test_a_scrape_answers_within_the_header_deadline(loopback, mode):
    server = loopback(mode)
    app = app_for(server.url)  # default timeouts: 4 s per request, 30 s for a full sync
    samples, took = bounded(lambda: scrape(app, PROMETHEUS_2S), 1.5 + MARGIN)
    assert took >= 1.4  # it did wait for the sync, up to its deadline
    assert sample(samples, "qbittorrent_up") == 0  # nothing synced yet: no state shown
    assert not any(name == "qbittorrent_info" for name, _ in samples)


def test_repeated_scrapes_each_answer_in_time_and_share_one_sync(loopback):
    """A scraper every 0.5 s against a hung qBittorrent: every answer in time, one request in flight."""
    server = loopback("silent")
    app = app_for(server.url)
    for _ in range(4):
        _, took = bounded(lambda: scrape(app, {"X-Prometheus-Scrape-Timeout-Seconds": "1"}), 0.5 + MARGIN)
    assert server.connections == 1  # the first sync is still waiting: no second one was started


def test_without_the_header_the_configured_default_applies(loopback):
    server = loopback("silent")
    app = app_for(server.url, **{"web.scrape-timeout": "1s"})
    _, took = bounded(lambda: scrape(app), 1 + MARGIN)
    assert took >= 0.9


def test_the_header_deadline_is_used_rather_than_the_default(loopback):
    server = loopback("silent")
    app = app_for(server.url)  # default 8 s
    _, took = bounded(lambda: scrape(app, {"X-Prometheus-Scrape-Timeout-Seconds": "1.2"}), 0.7 + MARGIN)
    assert took >= 0.6  # 1.2 - 0.5 offset


def test_a_sync_slower_than_the_scrape_finishes_for_the_next_one(loopback):
    """Logs in, then sync/maindata hangs for longer than the scrape may wait: the scrape answers up 0,
    the sync fails at its own (full sync) deadline and is counted as a timeout."""
    server = loopback("hang-maindata")
    app = app_for(server.url, **{"qbittorrent.full-sync-timeout": "1.5s"})
    samples, _ = bounded(lambda: scrape(app, {"X-Prometheus-Scrape-Timeout-Seconds": "1"}), 0.5 + MARGIN)
    assert sample(samples, "qbittorrent_up") == 0
    assert sample(samples, "qbittorrent_exporter_sync_errors_total", reason="timeout") == 0  # still running
    # A caller with no deadline (the action jobs) waits for the running sync: it ends at its deadline.
    result, took = bounded(app.mirror.refresh, 1.5 + MARGIN)
    assert result is None and took < 1.5
    samples = scrape(app, PROMETHEUS_2S)  # inside the 1 s backoff: no new sync
    assert sample(samples, "qbittorrent_exporter_sync_errors_total", reason="timeout") == 1


# -- a request to qBittorrent has a total deadline, not one per read ----------------------------


@pytest.mark.parametrize("mode", ["silent", "drip"])
def test_a_login_ends_at_its_deadline(loopback, mode):
    server = loopback(mode)
    conn = Connection(ConnectionSettings(url=server.url, password="pw", timeout=1.0))
    error, took = bounded(conn.login, 1 + MARGIN)  # drip: each read gets a byte in 0.1 s, forever
    assert isinstance(error, QBittorrentError) and error.reason == "timeout"
    assert took >= 0.9


def test_a_full_sync_ends_at_its_own_deadline(loopback):
    server = loopback("hang-maindata")
    conn = Connection(ConnectionSettings(url=server.url, password="pw", timeout=0.5, full_sync_timeout=1.0))
    conn.login()
    error, took = bounded(lambda: conn.maindata(0), 1 + MARGIN)
    assert isinstance(error, QBittorrentError) and error.reason == "timeout"
    assert took >= 0.9  # the longer full-sync deadline, not the 0.5 s one


# -- the response size is capped ---------------------------------------------------------------


def maindata_of(size: int) -> bytes:
    """A valid full sync/maindata body of about `size` bytes (one long server_state string)."""
    return json.dumps({"rid": 1, "full_update": True, "server_state": {"pad": "a" * size}}).encode()


@pytest.mark.parametrize("gzip_body", [False, True], ids=["plain", "gzip"])
def test_a_response_over_the_cap_is_a_counted_response_error(loopback, gzip_body):
    """The cap applies to the decompressed body: 5 MiB gzips to a few KiB but is still refused."""
    server = loopback("maindata", body=maindata_of(5 * 2**20), gzip_body=gzip_body)
    app = app_for(server.url, **{"qbittorrent.max-response-size": "1MiB"})
    samples = scrape(app)
    assert sample(samples, "qbittorrent_up") == 0
    assert sample(samples, "qbittorrent_exporter_sync_errors_total", reason="response") == 1
    assert "max-response-size" in app.mirror.stats.last_error


def test_a_response_under_the_cap_is_read(loopback):
    server = loopback("maindata", body=maindata_of(2**19), gzip_body=True)
    app = app_for(server.url, **{"qbittorrent.max-response-size": "1MiB"})
    assert sample(scrape(app), "qbittorrent_up") == 1
