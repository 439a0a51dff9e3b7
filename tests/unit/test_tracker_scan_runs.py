"""TrackerScan runs with a recording fake connection and an injected clock: each version's source, the
budget across runs, what is kept of an answer (hosts and reasons, never a URL), failures, removed
torrents, stopping."""

from __future__ import annotations

import logging

import pytest

from exporter.managers.policy import TrackerScanPolicy
from exporter.model import AppInfo
from exporter.qbt.connection import QBittorrentError
from exporter.qbt.tracker_scan import TrackerScan, flagged_hashes
from tests.kit.builders import downloading, snapshot, tracker_url
from tests.kit.fakes import Clock, FakeConnection

T0 = 2_000_000.0
V45, V51, V52 = AppInfo("v4.5.2", "2.8.19"), AppInfo("v5.1.0", "2.11.4"), AppInfo("v5.2.0", "2.15.1")
POLICY = TrackerScanPolicy(requests_per_second=5, burst=1, interval=10, page_size=4, hash_batch=2)
OTHERS = [{"url": f"** [{n}] **", "status": 2, "msg": ""} for n in ("DHT", "PeX", "LSD")]


def row(host: str, status: int, msg: str = "") -> dict:
    return {"url": tracker_url(host), "status": status, "msg": msg, "tier": 0, "num_peers": 0}


class TimedConnection(FakeConnection):
    """Also notes the clock at each read: the budget is about when requests are sent."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock, self.times = clock, []

    def _read(self, *what) -> None:
        self.times.append(self.clock.now)
        super()._read(*what)


def rig(policy: TrackerScanPolicy = POLICY):
    clock = Clock(T0)
    conn = TimedConnection(clock)

    def wait(seconds: float) -> bool:
        clock.now += seconds
        return False

    return clock, conn, TrackerScan(conn, policy, "qb", clock), wait


def snap(app: AppInfo, *hashes: str, at: float = T0, generation: int = 1, **fields):
    torrents = [
        downloading(h, tracker="a.example", trackers=("a.example",), **fields.get(h, {})) for h in hashes
    ]
    return snapshot(*torrents, taken_at=at, generation=generation, instance="qb", app=app)


def test_4x_asks_each_torrent_in_turn_at_the_budgets_pace_and_keeps_hosts_only():
    clock, conn, scan, wait = rig()
    conn.trackers = {
        "h1": [*OTHERS, row("a.example", 2)],
        "h2": [
            *OTHERS,
            row("a.example", 4, "Unregistered torrent: see https://a.example/t?id=1&key=SECRET42"),
        ],
        "h3": [*OTHERS, row("a.example", 4, "Connection refused"), row("b.example", 2)],
    }
    assert scan.run(snap(V45, "h1", "h2", "h3"), wait) == "ok"
    assert conn.reads == [("torrent", "h1"), ("torrent", "h2"), ("torrent", "h3")]
    assert [t - T0 for t in conn.times] == pytest.approx([0, 0.2, 0.4])
    view = scan.view(clock.now)
    a = {h.host: h for h in view.hosts}["a.example"]
    assert a.by_status["working"] == 1 and a.by_status["not_working"] == 2
    assert a.by_reason["unregistered"] == 1 and a.by_reason["down"] == 1
    assert {h.host for h in view.hosts} == {"a.example", "b.example"}  # DHT, PeX, LSD are no trackers
    assert (view.stats.source, view.stats.requests["torrent"], view.stale) == ("per_torrent", 3, 0)
    [problem] = [p for p in scan.problems() if p.reason == "unregistered"]
    assert (problem.hash, problem.host, problem.since) == ("h2", "a.example", pytest.approx(T0 + 0.2))
    kept = repr(scan.problems()) + repr(view)
    assert (
        "SECRET" not in kept
        and "announce" not in kept
        and problem.detail == "Unregistered torrent: see a.example"
    )


def test_the_budget_holds_across_runs_and_only_changed_torrents_are_asked_again():
    clock, conn, scan, wait = rig()
    conn.trackers = {h: [row("a.example", 2)] for h in ("h1", "h2")}
    scan.run(snap(V45, "h1", "h2"), wait)
    changed = snap(V45, "h1", "h2", at=clock.now + 0.01, generation=2, h2={"state": "downloading"})
    scan.run(changed, wait)  # at once: the bucket the first run emptied is carried over
    assert conn.reads[2:] == [("torrent", "h2")]
    gaps = [b - a for a, b in zip(conn.times, conn.times[1:], strict=False)]
    assert min(gaps) >= 0.2 - 1e-9  # 5 requests/s, burst 1: never two closer than 0.2 s


def test_5_1_pages_through_include_trackers_then_batches_what_changed():
    clock, conn, scan, wait = rig()
    hashes = [f"h{i:02}" for i in range(10)]
    conn.trackers = {h: [row("a.example", 2)] for h in hashes}
    scan.run(snap(V51, *hashes), wait)
    assert conn.reads == [("page", 0, 4), ("page", 4, 4), ("hashes", ("h08", "h09"))]
    assert scan.view(clock.now).stats.source == "include_trackers" and len(scan.problems()) == 0
    conn.reads.clear()
    scan.run(snap(V51, *hashes, at=clock.now, generation=2, h03={"state": "error"}), wait)
    assert conn.reads == [("hashes", ("h03",))]


def test_5_2_fetches_the_flagged_first():
    clock, conn, scan, wait = rig(
        TrackerScanPolicy(requests_per_second=5, interval=0.2, hash_batch=2, page_size=2)
    )
    hashes = ["h1", "h2", "h3", "h4"]
    conn.trackers = {h: [row("a.example", 2)] for h in hashes}
    flags = {h: {"has_tracker_error": h in ("h2", "h4"), "has_tracker_warning": False} for h in hashes}
    s = snap(V52, *hashes, **flags)
    assert flagged_hashes(s) == {"h2", "h4"} and flagged_hashes(snap(V45, *hashes)) is None
    scan.run(s, wait)  # one request fits this interval: the flagged ones
    assert conn.reads == [("hashes", ("h2", "h4"))]
    assert scan.view(clock.now).stats.source == "flagged" and scan.view(clock.now).stats.backlog == 2


def test_a_failed_request_ends_the_run_is_counted_and_logged_once(caplog):
    clock, conn, scan, wait = rig()
    conn.failing_reads = QBittorrentError("timeout", "qBittorrent did not answer within the request timeout")
    with caplog.at_level(logging.DEBUG, "exporter.qbt.tracker_scan"):
        assert scan.run(snap(V45, "h1", "h2"), wait) == "error"
        assert scan.run(snap(V45, "h1", "h2", generation=2), wait) == "error"
    assert len(conn.reads) == 2  # one per run: no retry storm
    stats = scan.view(clock.now).stats
    assert stats.errors["timeout"] == 2 and stats.requests["torrent"] == 2
    assert [r.levelname for r in caplog.records] == ["WARNING", "DEBUG"]
    conn.failing_reads, conn.trackers = None, {"h1": [row("a.example", 2)]}
    assert scan.run(snap(V45, "h1", "h2", generation=3), wait) == "ok"
    assert scan.view(clock.now).stats.last_error == ""


def test_a_torrent_removed_meanwhile_is_skipped_and_stopping_ends_the_run():
    clock, conn, scan, wait = rig()
    conn.trackers = {"h2": [row("a.example", 2)]}  # h1 is gone from qBittorrent: 404, None
    assert scan.run(snap(V45, "h1", "h2"), wait) == "ok"
    assert len(scan.view(clock.now).hosts) == 1 and scan.view(clock.now).stale == 1

    clock, conn, scan, _ = rig()
    conn.trackers = {h: [row("a.example", 2)] for h in ("h1", "h2", "h3")}
    assert scan.run(snap(V45, "h1", "h2", "h3"), lambda seconds: True) == "ok"  # asked to stop
    assert conn.reads == [("torrent", "h1")]


def test_the_view_walks_the_data_again_only_after_an_answer_or_when_a_fetch_turns_stale():
    stale_after = POLICY.stale_after
    clock, conn, scan, wait = rig()
    conn.trackers = {"h1": [row("a.example", 2)], "h2": [row("a.example", 2)]}
    scan.run(snap(V45, "h1", "h2"), wait)
    first = scan.view(clock.now)
    h1_at, h2_at = conn.times  # the budget spaces the two fetches
    assert h1_at < h2_at
    clock.now += 60
    assert scan.view(clock.now).hosts is first.hosts  # nothing new: not walked again
    assert scan.view(clock.now).stats is not first.stats  # the scan's own counters are always current

    clock.now = h1_at + stale_after  # the last moment h1's fetch is fresh
    assert scan.view(clock.now).hosts is first.hosts and scan.view(clock.now).stale == 0
    clock.now += 0.001
    one = scan.view(clock.now)
    assert one.hosts is not first.hosts and one.stale == 1 and one.hosts[0].stale == 1
    clock.now = h2_at + stale_after
    assert scan.view(clock.now).hosts is one.hosts
    clock.now += 0.001
    later = scan.view(clock.now)
    assert later.stale == 2 and later.hosts[0].stale == 2

    conn.trackers = {"h1": [row("a.example", 4, "Unregistered torrent")], "h2": [row("a.example", 2)]}
    scan.run(snap(V45, "h1", "h2", generation=2), wait)  # both stale: asked again
    again = scan.view(clock.now)
    assert again.hosts is not later.hosts and again.hosts[0].by_reason["unregistered"] == 1
