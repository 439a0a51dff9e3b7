"""The mirror's timing: backoff counted from the end of a failed attempt, one sync at a time, and callers
that wait for a sync only as long as they choose; the scrape deadline taken from Prometheus's header.

The clock is injected; a slow sync is a fake connection held on a threading.Event, so nothing sleeps.
"""

from __future__ import annotations

import threading
import time

import pytest

from exporter.http.routes import scrape_timeout
from exporter.qbt.connection import QBittorrentError
from exporter.qbt.mirror import Backoff, Mirror
from tests.kit.fakes import Clock, FakeConnection

FULL = {"rid": 1, "full_update": True, "torrents": {"a": {"state": "uploading"}}}


def maindata_rids(conn: FakeConnection) -> list[int]:
    return [c[1] for c in conn.calls if c[0] == "maindata"]


def test_backoff_counts_from_the_end_of_a_slow_failed_attempt():
    clock = Clock()

    class Slow(FakeConnection):
        def maindata(self, rid, stream=None):
            clock.now += 5  # the attempt takes 5 s before it fails
            return super().maindata(rid)

    conn = Slow([QBittorrentError("timeout", "qBittorrent did not answer"), FULL])
    mirror = Mirror(conn, clock=clock, monotonic=clock, connect_backoff=Backoff(1, 30))
    assert mirror.refresh() is None
    clock.now += 0.5  # 5.5 s after the attempt began, 0.5 s after it ended
    assert mirror.refresh() is None and maindata_rids(conn) == [0]  # still backing off
    clock.now += 0.6
    assert mirror.refresh() is not None and maindata_rids(conn) == [0, 0]


class Held(FakeConnection):
    """A connection whose delta syncs wait until the test releases them."""

    def __init__(self, answers):
        super().__init__(answers)
        self.release = threading.Event()
        self.held: list[int] = []  # the rids of the delta syncs that started

    def maindata(self, rid, stream=None):
        if rid:
            self.held.append(rid)
            assert self.release.wait(10), "the test never released the sync"
        return super().maindata(rid)


def test_a_caller_waits_only_its_timeout_and_gets_the_last_snapshot():
    clock = Clock()
    conn = Held([FULL, {"rid": 2, "torrents": {"a": {"state": "stalledUP"}}}])
    mirror = Mirror(conn, clock=clock, monotonic=clock)
    first = mirror.refresh()
    clock.now += 2  # older than min_age: the next refresh syncs
    started = time.monotonic()
    assert mirror.refresh(timeout=0.2) is first  # the sync is held: the last good snapshot, in time
    assert time.monotonic() - started < 0.2 + 0.5
    assert mirror.stats.up
    assert mirror.refresh(timeout=0.05) is first
    assert conn.held == [1]  # one sync in flight, not one per caller
    conn.release.set()
    second = mirror.refresh()  # no timeout (the action jobs): waits for the running sync
    assert second is not None and second.torrents["a"].state == "stalledUP"
    assert maindata_rids(conn) == [0, 1] and mirror.stats.syncs == 2


def test_before_the_first_sync_a_timed_out_caller_gets_nothing():
    class HeldLogin(FakeConnection):
        release = threading.Event()

        def login(self):
            assert self.release.wait(10), "the test never released the login"
            return super().login()

    conn = HeldLogin([FULL])
    mirror = Mirror(conn)
    assert mirror.refresh(timeout=0.05) is None
    conn.release.set()
    assert mirror.refresh() is not None


def test_an_unexpected_error_is_a_response_error_and_frees_the_sync():
    clock = Clock()

    class Buggy(FakeConnection):
        failed = False

        def maindata(self, rid, stream=None):
            if not self.failed:  # the first call hits a bug
                self.failed = True
                self.calls.append(("maindata", rid))
                raise RuntimeError("a bug")
            return super().maindata(rid)

    conn = Buggy([FULL])
    mirror = Mirror(conn, clock=clock, monotonic=clock, connect_backoff=Backoff(1, 30))
    assert mirror.refresh(timeout=5) is None  # bounded: a sync slot never freed would hang here
    assert mirror.stats.errors["response"] == 1 and not mirror.stats.up
    clock.now += 1.5
    assert mirror.refresh(timeout=5) is not None  # the slot was freed; the retry resynced in full
    assert maindata_rids(conn) == [0, 0]


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"X-Prometheus-Scrape-Timeout-Seconds": "10"}, 9.5),
        ({"x-prometheus-scrape-timeout-seconds": "2"}, 1.5),
        ({"X-Prometheus-Scrape-Timeout-Seconds": "0.6"}, 0.3),
        ({}, 8.0),
        ({"X-Prometheus-Scrape-Timeout-Seconds": "soon"}, 8.0),
        ({"X-Prometheus-Scrape-Timeout-Seconds": "-1"}, 8.0),
        ({"X-Prometheus-Scrape-Timeout-Seconds": "nan"}, 8.0),
        ({"X-Prometheus-Scrape-Timeout-Seconds": "1e12"}, 3599.5),
    ],
    ids=["prometheus-default", "any-case", "never-below-half", "absent", "text", "negative", "nan", "huge"],
)
def test_scrape_deadline_from_the_header(headers, expected):
    assert scrape_timeout(headers, default=8.0, offset=0.5) == expected
