"""Mirror: one request per refresh at most, min-age sharing, backoff, full resync after errors.

The clock is injected; the connection is a small fake that records calls and replays scripted answers.
"""

from __future__ import annotations

import logging

import pytest

from exporter.qbt.connection import QBittorrentError
from exporter.qbt.mirror import Backoff, Mirror
from tests.kit.fakes import Clock, FakeConnection


def full(rid, **torrents):
    return {
        "rid": rid,
        "full_update": True,
        "torrents": {h: {"name": h, "state": s} for h, s in torrents.items()},
        "server_state": {"connection_status": "connected"},
    }


def make(answers, **kwargs):
    clock = Clock()
    conn = FakeConnection(answers)
    mirror = Mirror(
        conn,
        min_age=1.0,
        full_resync_interval=3600,
        clock=clock,
        monotonic=clock,
        login_backoff=Backoff(15, 900),
        connect_backoff=Backoff(1, 30),
        **kwargs,
    )
    return mirror, conn, clock


def maindata_rids(conn):
    return [c[1] for c in conn.calls if c[0] == "maindata"]


def test_first_refresh_is_full_then_deltas():
    mirror, conn, clock = make(
        [full(1, a="uploading"), {"rid": 2, "torrents": {"a": {"state": "stalledUP"}}}]
    )
    first = mirror.refresh()
    assert first.app.version == "v5.0.2" and first.torrents["a"].state == "uploading"
    clock.now += 1.5
    second = mirror.refresh()
    assert second.torrents["a"].state == "stalledUP"
    assert maindata_rids(conn) == [0, 1]
    assert conn.calls.count(("login",)) == 1  # one login, reused
    assert mirror.stats.syncs == 2 and mirror.stats.full_syncs == 1 and mirror.stats.up


def test_refresh_within_min_age_makes_no_request():
    mirror, conn, clock = make([full(1, a="uploading")])
    snap = mirror.refresh()
    clock.now += 0.5
    assert mirror.refresh() is snap and mirror.refresh() is snap
    assert maindata_rids(conn) == [0]


def test_connection_error_returns_none_backs_off_and_resyncs_in_full():
    down = QBittorrentError("connection", "cannot connect to qBittorrent")
    mirror, conn, clock = make([full(1, a="uploading"), down, down, full(5, a="stalledUP", b="error")])
    assert mirror.refresh() is not None
    clock.now += 2
    assert mirror.refresh() is None and not mirror.stats.up
    assert mirror.latest() is None  # no stale state while down
    clock.now += 0.5  # inside the 1 s backoff: no request at all
    assert mirror.refresh() is None
    assert maindata_rids(conn) == [0, 1]
    clock.now += 1
    assert mirror.refresh() is None  # second failure: backoff doubles to 2 s
    clock.now += 1.5
    assert mirror.refresh() is None and maindata_rids(conn) == [0, 1, 0]
    clock.now += 1
    snap = mirror.refresh()
    assert snap is not None and set(snap.torrents) == {"a", "b"}
    assert maindata_rids(conn) == [0, 1, 0, 0]  # after an error the mirror resyncs in full (rid 0)
    assert mirror.stats.errors["connection"] == 2 and mirror.stats.up


def test_auth_failure_backs_off_long(caplog):
    denied = QBittorrentError("auth", "login failed: qBittorrent rejected the username/password or API key")
    mirror, conn, clock = make([denied, denied, full(1)])
    with caplog.at_level(logging.WARNING):
        assert mirror.refresh() is None
    for _ in range(10):  # a scraper hammering /metrics every second for 10 s
        clock.now += 1
        assert mirror.refresh() is None
    assert conn.calls.count(("login",)) == 1  # qBittorrent bans IPs after repeated failed logins
    clock.now += 5  # 15 s after the first failure
    assert mirror.refresh() is None and conn.calls.count(("login",)) == 2
    clock.now += 29
    assert mirror.refresh() is None and conn.calls.count(("login",)) == 2  # now 30 s
    clock.now += 1
    assert mirror.refresh() is not None
    assert mirror.stats.errors["auth"] == 2
    assert "login failed" in caplog.text and "hunter2" not in caplog.text


def test_periodic_full_resync():
    mirror, conn, clock = make([full(1), {"rid": 2}, full(3)])
    mirror.refresh()
    clock.now += 10
    mirror.refresh()
    clock.now += 3600
    mirror.refresh()
    assert maindata_rids(conn) == [0, 1, 0]


def test_malformed_response_counts_as_response_error():
    mirror, conn, clock = make([{"no": "rid"}])
    assert mirror.refresh() is None
    assert mirror.stats.errors["response"] == 1


@pytest.mark.parametrize("failures,expected", [(1, 15), (2, 30), (3, 60), (7, 900), (20, 900)])
def test_backoff_doubles_up_to_the_cap(failures, expected):
    b = Backoff(15, 900)
    delays = [b.next_delay() for _ in range(failures)]
    assert delays[-1] == expected
