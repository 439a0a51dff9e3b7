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


def test_one_worker_thread_runs_the_syncs_and_ends_when_idle(monkeypatch):
    import threading

    from exporter.qbt import mirror as mirror_module

    monkeypatch.setattr(mirror_module, "WORKER_IDLE", 1.0)
    ran_in: list[threading.Thread] = []
    mirror, conn, clock = make([full(i + 1, a="uploading") for i in range(4)], name="w")
    sync = mirror._sync

    def recording():
        ran_in.append(threading.current_thread())
        return sync()

    monkeypatch.setattr(mirror, "_sync", recording)
    for _ in range(3):
        assert mirror.refresh(5) is not None
        clock.now += 1.5
    assert len(ran_in) == 3 and len(set(ran_in)) == 1  # one thread, reused
    assert ran_in[0] is not threading.current_thread()
    worker = mirror._worker
    assert worker is not None and worker.is_alive()
    worker.join(5)  # idle for WORKER_IDLE: it ends
    assert not worker.is_alive() and mirror._worker is None
    assert mirror.refresh(5) is not None  # a new worker for the next sync
    assert len(ran_in) == 4 and ran_in[3] is not ran_in[0]
    again = mirror._worker
    assert again is not None
    mirror.close()  # ends the worker at once
    again.join(0.5)
    assert not again.is_alive() and mirror._worker is None


def test_a_bug_in_publishing_a_sync_frees_the_slot_for_the_next(monkeypatch, caplog):
    mirror, conn, clock = make([full(1, a="uploading"), full(2, a="uploading")])

    def broken(snapshot, full):
        raise RuntimeError("bug")

    succeed = mirror._succeed
    monkeypatch.setattr(mirror, "_succeed", broken)
    assert mirror.refresh(5) is None  # the worker ended; the caller is not left waiting
    assert "sync worker for qBittorrent at" in caplog.text and mirror._worker is None
    monkeypatch.setattr(mirror, "_succeed", succeed)
    clock.now += 1.5
    assert mirror.refresh(5) is not None
