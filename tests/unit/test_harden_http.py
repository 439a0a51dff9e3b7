"""The HTTP server under clients that connect and do nothing, or too little: idle crowds, slowloris,
HTTP/0.9 lines, silent TLS clients, clients that leave mid-response; and what each request still gets
(HEAD, gzip, headers for the routes, basic auth). Real sockets on 127.0.0.1, the real WebServer."""

from __future__ import annotations

import base64
import contextlib
import gzip
import logging
import select
import socket
import ssl
import statistics
import struct
import threading
import time
from collections.abc import Iterator

import bcrypt
import pytest

from exporter.config.web import load_web_config
from exporter.http.auth import BasicAuth
from exporter.http.server import ServerLimits, WebConfig, WebServer
from tests.kit.certs import make_pki
from tests.kit.processes import wait_for

BIG = b"x" * (8 << 20)  # more than the socket buffers hold: the write is still going when the client leaves
SEEN_HEADERS: list[dict[str, str]] = []


def _echo_headers(query, headers):
    SEEN_HEADERS.append({"timeout": headers.get("x-prometheus-scrape-timeout-seconds", "")})
    return 200, "text/plain", b"m " * 1000, {}


ROUTES = {
    "/metrics": _echo_headers,
    "/healthz": lambda query, headers: (200, "text/plain", b"ok\n", {}),
    "/big": lambda query, headers: (200, "text/plain", BIG, {}),
}
FAST = ServerLimits(header_timeout=1.0, idle_timeout=1.0, write_timeout=5.0, max_connections=512, workers=4)


@contextlib.contextmanager
def serving(web: WebConfig | None = None, limits: ServerLimits = FAST) -> Iterator[WebServer]:
    server = WebServer(("127.0.0.1", 0), ROUTES, web or WebConfig(), limits=limits)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def connect(server: WebServer, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (bounded by the socket's timeout)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def get(server: WebServer, path: str = "/metrics", extra: str = "", method: str = "GET") -> bytes:
    with connect(server) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n".encode())
        return read_all(s)


def status_of(response: bytes) -> int:
    assert response, "the server closed the connection without answering"
    return int(response.split(b" ", 2)[1])


def seconds_until_closed(sock: socket.socket) -> float:
    start = time.monotonic()
    read_all(sock)
    return time.monotonic() - start


def test_a_scrape_answers_with_300_idle_connections_open_and_threads_stay_bounded():
    with serving() as server:
        threads_before = threading.active_count()
        idle = [connect(server) for _ in range(300)]
        try:
            start = time.monotonic()
            assert status_of(get(server)) == 200
            assert time.monotonic() - start < 2
            assert threading.active_count() <= threads_before + FAST.workers
        finally:
            for s in idle:
                s.close()


def test_past_the_connection_limit_the_longest_idle_connection_gives_way():
    limits = ServerLimits(header_timeout=30, idle_timeout=30, max_connections=20, workers=2)
    with serving(limits=limits) as server:
        idle = [connect(server) for _ in range(50)]
        try:
            assert status_of(get(server)) == 200
            idle[0].settimeout(5)
            assert idle[0].recv(1) == b""  # the oldest was closed to make room
        finally:
            for s in idle:
                s.close()


def test_an_http09_request_line_is_refused_at_once():
    with serving() as server, connect(server) as s:
        s.sendall(b"GET /metrics\r\n")  # no version, no blank line: http.server waited for headers forever
        response = read_all(s)
        assert status_of(response) == 400


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /metrics HTTP/1.1\r\n", b"GET /metrics HTTP/1.1\r\nHost: t\r\n"],
    ids=["nothing", "request-line-only", "no-blank-line"],
)
def test_a_request_head_that_never_ends_is_closed_after_the_header_timeout(sent):
    with serving() as server, connect(server) as s:
        s.sendall(sent)
        assert 0.5 < seconds_until_closed(s) < FAST.header_timeout + 1.5


def drip_until_closed(s: socket.socket, limit: float) -> float:
    """Send a byte every 0.2 s (which resets any per-read timeout) until the server closes; seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            s.sendall(b"a")
            ready, _, _ = select.select([s], [], [], 0.2)  # returns as soon as the server closes
            if ready and s.recv(1) == b"":
                break
        except OSError:  # reset by the server
            break
    return time.monotonic() - start


def test_a_slowloris_dripping_bytes_is_closed_after_the_header_timeout():
    with serving() as server, connect(server) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        assert drip_until_closed(s, FAST.header_timeout + 3) < FAST.header_timeout + 1.5


def test_a_kept_alive_connection_dripping_its_next_request_is_closed_after_the_header_timeout():
    """The idle timeout covers the wait for a first byte only; the head then has header_timeout."""
    limits = ServerLimits(header_timeout=1.0, idle_timeout=6.0, workers=2)
    with serving(limits=limits) as server, connect(server) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert s.recv(65536).endswith(b"ok\n")
        s.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        assert drip_until_closed(s, 8) < limits.header_timeout + 1.5


def test_a_kept_alive_connection_serves_several_requests_then_closes_after_the_idle_timeout():
    with serving() as server, connect(server) as s:
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            response = s.recv(65536)
            assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"ok\n")
        assert 0.5 < seconds_until_closed(s) < FAST.idle_timeout + 1.5


def test_a_client_leaving_mid_response_logs_no_traceback(caplog, capfd, monkeypatch):
    # A test that ran cli.main() may have left a root handler writing to its closed capture stream,
    # which would print "--- Logging error ---" and a traceback of its own for our debug lines.
    live = [h for h in logging.root.handlers if not getattr(getattr(h, "stream", None), "closed", False)]
    monkeypatch.setattr(logging.root, "handlers", live)
    caplog.set_level(logging.DEBUG, logger="exporter.http")
    with serving() as server:
        for _ in range(3):
            with connect(server) as s:
                s.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
                assert s.recv(10)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
        stderr: list[str] = []

        def settled() -> bool:  # the server logged the three closes, or printed a traceback instead
            stderr.append(capfd.readouterr().err)
            closes = sum("closed" in r.getMessage() for r in caplog.records)
            return "Traceback" in "".join(stderr) or closes >= 3

        wait_for(settled, timeout=10, what="the server to notice the three resets")
        assert status_of(get(server, "/healthz")) == 200
    assert "Traceback" not in "".join(stderr)
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING] == []


def test_head_gzip_405_and_headers_reach_the_routes():
    SEEN_HEADERS.clear()
    with serving() as server:
        plain = get(server, extra="X-Prometheus-Scrape-Timeout-Seconds: 9.5\r\n")
        head = get(server, method="HEAD")
        zipped = get(server, extra="Accept-Encoding: gzip\r\n")
        post = get(server, method="POST")
    assert SEEN_HEADERS[0] == {"timeout": "9.5"}  # looked up case-insensitively
    body = plain.partition(b"\r\n\r\n")[2]
    assert body == b"m " * 1000
    assert head.endswith(b"\r\n\r\n") and f"Content-Length: {len(body)}".encode() in head
    assert b"Content-Encoding: gzip" in zipped and gzip.decompress(zipped.partition(b"\r\n\r\n")[2]) == body
    assert status_of(post) == 405 and b"Allow: GET, HEAD" in post


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_password_over_72_bytes_gets_401_not_a_dropped_connection():
    hashed = bcrypt.hashpw(b"p" * 72, bcrypt.gensalt(4))
    with serving(WebConfig(users={"u": hashed})) as server:
        for password in ("p" * 73, "p" * 200):
            response = get(server, extra=f"Authorization: {basic('u', password)}\r\n")
            assert status_of(response) == 401
        assert status_of(get(server, extra=f"Authorization: {basic('u', 'p' * 72)}\r\n")) == 200


def test_unknown_user_costs_what_a_known_users_wrong_password_costs():
    """An unknown user must not be told apart by time: the dummy check costs the configured cost (11
    here; the old dummy was fixed at 10, half as long). CPU time of this thread, where bcrypt runs, so
    that other processes on the machine do not blur it; the two kinds alternate."""
    auth = BasicAuth({"known": bcrypt.hashpw(b"right", bcrypt.gensalt(11))})
    times: dict[str, list[float]] = {"nobody": [], "known": []}
    for _ in range(5):
        for user, spent in times.items():
            start = time.thread_time()
            assert auth.check(basic(user, "wrong")) is False
            spent.append(time.thread_time() - start)
    unknown, known = statistics.median(times["nobody"]), statistics.median(times["known"])
    assert abs(unknown - known) / known < 0.3, (unknown, known)


def test_a_silent_tls_client_does_not_block_the_others(tmp_path):
    pki = make_pki(tmp_path / "pki")
    web_yml = tmp_path / "web.yml"
    web_yml.write_text(
        f"tls_server_config:\n  cert_file: {pki['server_crt']}\n  key_file: {pki['server_key']}\n"
        f"  client_ca_file: {pki['ca']}\n  client_auth_type: RequireAndVerifyClientCert\n"
    )
    client = ssl.create_default_context(cafile=pki["ca"])
    client.load_cert_chain(pki["client_crt"], pki["client_key"])
    with serving(load_web_config(str(web_yml))) as server:
        silent = [connect(server) for _ in range(20)]  # TCP connected, no ClientHello
        try:
            start = time.monotonic()
            with client.wrap_socket(connect(server), server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                assert read_all(tls).endswith(b"ok\n")
            assert time.monotonic() - start < 2
            assert seconds_until_closed(silent[0]) < FAST.header_timeout + 1.5
        finally:
            for s in silent:
                s.close()
