"""The seeding scenario the ratio, ratio-index, ratio-collector and report tests share: one clock
reading (NOW), tracker policies, torrents as qBittorrent's JSON has them, and two worked examples (a seeding
allocation to rank, and the scenario of the ratio collector's docstring).
"""

from __future__ import annotations

from functools import partial

from exporter.config.policy import parse_trackers
from exporter.managers.points import GIB
from exporter.managers.policy import SeedingSettings
from tests.kit.builders import merged

NOW = 1_700_000_000
HOUR = 3600

POLICIES = parse_trackers(
    {
        "default": {
            "min_ratio": 1.0,
            "min_seed_time": "72h",
            "points": {"model": "linear", "per_torrent_hour": 0.5},
        },
        "g.example": {"min_ratio": 0.6, "points": {"model": "gazelle"}, "reported_points_per_hour": 0.25},
        "u.example": {"points": {"model": "unit3d"}},
    }
)
SETTINGS = SeedingSettings(idle_window=6 * HOUR)


def seed(**raw):
    """A torrent as qBittorrent's JSON has it: by default a complete 1 GiB seed, active a minute ago."""
    return {
        "name": "x",
        "state": "stalledUP",
        "size": GIB,
        "progress": 1,
        "amount_left": 0,
        "added_on": NOW - HOUR,
        "completion_on": NOW - HOUR,
        "last_activity": NOW - 60,
        "num_complete": 5,
        **raw,
    }


# A Snapshot through the real merge code, taken at NOW: snapshot_of(torrents, {host: [hash, ...]}, server)
snapshot_of = partial(merged, taken_at=NOW)

ALLOCATION = {
    # a: active, owes time (seeded 10h of 72h) -> first
    "a" * 40: seed(name="owes", state="stalledUP", seeding_time=10 * HOUR, num_complete=20),
    # b: stopped, owes more (seeded 1h) -> second: owing seeds first, among them by score (1h earns less)
    "b" * 40: seed(name="owes-stopped", state="stoppedUP", seeding_time=1 * HOUR, num_complete=20),
    # c: active, no debt, 10 GiB gazelle at 720h, alone in the swarm -> best of the rest
    "c" * 40: seed(
        name="valuable",
        state="uploading",
        upspeed=10,
        size=10 * GIB,
        seeding_time=720 * HOUR,
        num_complete=1,
        num_incomplete=4,
    ),
    # d: queued, no debt, wanted by 6 leechers -> worth more than e
    "d" * 40: seed(
        name="queued-wanted", state="queuedUP", seeding_time=800 * HOUR, num_complete=2, num_incomplete=6
    ),
    # e: active, no debt, crowded swarm -> lowest value, released
    "e" * 40: seed(name="crowded", state="stalledUP", seeding_time=900 * HOUR, num_complete=200),
    # not candidates: downloading, errored
    "f" * 40: seed(name="dl", state="downloading", progress=0.3, amount_left=GIB),
    "9" * 40: seed(name="broken", state="error"),
}
ALLOCATION_TRACKERS = {"g.example": list(ALLOCATION)}


# The scenario of the collector's docstring: a uploads now; b is an idle seed in a crowded swarm; c is
# stopped before its 72h (hit-and-run risk, and worth more than b: misallocated).
DOCSTRING = {
    "a" * 40: seed(
        state="uploading",
        upspeed=50_000,
        seeding_time=720 * HOUR,
        num_complete=1,
        uploaded=3 * GIB,
        downloaded=GIB,
    ),
    "b" * 40: seed(
        state="stalledUP",
        seeding_time=720 * HOUR,
        num_complete=10,
        uploaded=3 * GIB // 2,
        downloaded=GIB,
        last_activity=NOW - 7 * HOUR,
        completion_on=NOW - 8 * HOUR,
        added_on=NOW - 9 * HOUR,
    ),
    "c" * 40: seed(state="stoppedUP", seeding_time=HOUR, downloaded=GIB // 4),
}
