"""The real exporter process (against a real qbittorrent-nox) while clients hold connections open:
crowds of idle sockets, a low open-file limit, heads that never end; the --web.*-timeout options."""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.processes import ExporterProcess, http_get, parse_samples, sample

pytestmark = pytest.mark.integration


def args(qbt, password_file, *extra: str) -> list[str]:
    return ["--qbittorrent.url", qbt.url, "--qbittorrent.password-file", str(password_file), *extra]


@contextlib.contextmanager
def idle_connections(e: ExporterProcess, count: int) -> Iterator[list[socket.socket]]:
    """`count` TCP connections that send nothing (each connect bounded: a full backlog refuses)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            with contextlib.suppress(OSError):
                socks.append(socket.create_connection(("127.0.0.1", e.port), timeout=1))
        yield socks
    finally:
        for s in socks:
            s.close()


def threads_of(e: ExporterProcess) -> int:
    status = Path(f"/proc/{e.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def timed_scrape(e: ExporterProcess) -> float:
    start = time.monotonic()
    status, body = http_get(e.url + "/metrics", timeout=5)
    assert status == 200 and sample(parse_samples(body), "qbittorrent_up") == 1
    return time.monotonic() - start


def test_a_scrape_answers_within_2s_with_300_idle_connections_and_threads_stay_bounded(
    qbt, password_file, exporter_factory
):
    e = exporter_factory(args(qbt, password_file))
    timed_scrape(e)  # first sync done
    threads = threads_of(e)
    with idle_connections(e, 300) as idle:
        assert len(idle) == 300
        assert timed_scrape(e) < 2
        assert threads_of(e) <= threads + 8  # at most the worker pool more, never one per connection


@contextlib.contextmanager
def open_file_limit(soft: int) -> Iterator[None]:
    """Lower this process's soft open-file limit, so that a child started meanwhile inherits it."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def test_under_an_open_file_limit_of_128_idle_clients_cannot_starve_the_scrape(
    qbt, password_file, exporter_factory
):
    with open_file_limit(128):
        e = exporter_factory(args(qbt, password_file))
    timed_scrape(e)
    with idle_connections(e, 200):
        assert timed_scrape(e) < 2
        assert timed_scrape(e) < 2
    assert "Traceback" not in e.log()


def test_the_timeout_options_reach_the_server(qbt, password_file, exporter_factory):
    e = exporter_factory(args(qbt, password_file, "--web.header-timeout", "1s", "--web.idle-timeout", "2s"))
    with socket.create_connection(("127.0.0.1", e.port), timeout=8) as slow:
        slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n")  # never the blank line
        start = time.monotonic()
        assert slow.recv(1) == b""
        assert time.monotonic() - start < 2.5
    with socket.create_connection(("127.0.0.1", e.port), timeout=8) as kept:
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert kept.recv(65536).endswith(b"ok\n")
        start = time.monotonic()
        assert kept.recv(1) == b""
        assert 1.5 < time.monotonic() - start < 3.5
