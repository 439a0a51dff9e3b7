"""The bench's fake qBittorrent serves tracker lists in each version's shapes, and the exporter's own
Connection and TrackerScan read them to the same per-host picture on every version (or the cost benchmark
would measure a scan that reads nothing)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench.fakeqbt import announce
from bench.fakeqbt.profiles import PROFILES
from bench.fakeqbt.server import FakeQbittorrent
from bench.fakeqbt.world import World
from exporter.managers.policy import TrackerScanPolicy
from exporter.model import tracker_host
from exporter.qbt.connection import Connection, ConnectionSettings
from exporter.qbt.mirror import Mirror
from exporter.qbt.tracker_scan import TrackerScan, flagged_hashes
from tests.kit.fakes import Clock
from tests.kit.processes import wait_for

SOURCE = {"4.5.2": "per_torrent", "5.0.4": "per_torrent", "5.1.2": "include_trackers", "5.2.0": "flagged"}


@pytest.fixture(params=sorted(PROFILES))
def fake(request):
    world = World(PROFILES[request.param], 120, seed=3, epoch=1_700_000_000)
    server = FakeQbittorrent(world).start()
    yield server
    server.stop()


def expected_reasons(world: World) -> Counter:
    """(host, reason) -> torrents, from what the fake's URLs say (a torrent once per host, its best URL)."""
    out: Counter = Counter()
    for h, urls in world.urls_of.items():
        best: dict[str, str] = {}
        for url in urls:
            said = announce.says(h, url, urls, world.records[h]["tracker"])
            host = tracker_host(url)
            if best.get(host) != "working":
                best[host] = said
        for host, said in best.items():
            reason = {"refused": "down", "timeout": "down", "unregistered": "unregistered"}.get(said)
            if reason:
                out[(host, reason)] += 1
    return out


def test_every_version_reads_to_the_same_picture(fake):
    version = fake.world.profile.name
    conn = Connection(ConnectionSettings(url=fake.url, password="adminadmin"))
    snapshot = Mirror(conn).refresh()
    assert snapshot is not None
    clock = Clock(1_700_000_000.0)
    scan = TrackerScan(conn, TrackerScanPolicy(requests_per_second=1000, burst=1000), "fake", clock)
    assert scan.run(snapshot, lambda s: bool(setattr(clock, "now", clock.now + s))) == "ok"
    view = scan.view(clock.now)
    assert view.stats.source == SOURCE[version] and view.stale == 0  # every torrent read in one run
    got = Counter(
        {
            (h.host, r): n
            for h in view.hosts
            for r, n in h.by_reason.items()
            if n and r in ("down", "unregistered")
        }
    )
    assert got == expected_reasons(fake.world) and got[next(k for k in got if k[1] == "unregistered")] > 0
    # 4.x, 5.0: one request per torrent; 5.1+: three batches of hash_batch (50) hashes (a page of 500
    # would be mostly empty). The fake counts a request after sending its answer: wait for the count.
    endpoint, requests = (
        ("torrents/trackers", 120) if SOURCE[version] == "per_torrent" else ("torrents/info", 3)
    )

    def counted():
        by_endpoint = json.loads(fake.control("GET", "/bench/stats", {})[2])["by_endpoint"]
        return {e: n["requests"] for e, n in by_endpoint.items() if e.startswith("torrents/")}

    assert wait_for(lambda: counted() == {endpoint: requests}, timeout=5, what="the fake's count")
    conn.close()


def test_the_5_2_flags_name_the_torrents_with_a_failing_tracker(fake):
    world = fake.world
    snapshot = Mirror(Connection(ConnectionSettings(url=fake.url, password="adminadmin"))).refresh()
    assert snapshot is not None
    flagged = flagged_hashes(snapshot)
    if world.profile.name != "5.2.0":
        assert flagged is None
        return
    failing = {
        h
        for h, urls in world.urls_of.items()
        if any(announce.says(h, u, urls, world.records[h]["tracker"]) != "working" for u in urls)
    }
    assert flagged == failing and 0 < len(flagged) < len(world.records)
