"""RatioIndex (incremental, used at every scrape) must always agree with the from-scratch functions."""

from __future__ import annotations

import dataclasses
import random

import pytest

from exporter.config.policy import parse_trackers
from exporter.managers import ratio_index
from exporter.managers.points import DAY, GIB
from exporter.managers.policy import SeedingSettings
from exporter.managers.ratio import recommend_seeding_slots, tracker_stats
from exporter.managers.ratio_index import RatioIndex
from exporter.qbt.maindata import MaindataState
from tests.kit.builders import tracker_url
from tests.kit.seeding import HOUR, NOW, seed, snapshot_of

POLICIES = parse_trackers(
    {
        "default": {
            "min_seed_time": "72h",
            "points": {"model": "linear", "per_torrent_hour": 0.5, "per_gib_hour": 0.1},
        },
        "g.example": {"points": {"model": "gazelle"}, "reported_points_per_hour": 3},
        "u.example": {"min_seed_time": "10d", "points": {"model": "unit3d"}},
    }
)
SETTINGS = SeedingSettings(idle_window=2 * HOUR, upload_capacity=3 * 1024**2, demand_weight=0.5)
HOSTS = ["g.example", "u.example", "x.example"]
STATES = [
    "uploading",
    "stalledUP",
    "stalledUP",
    "stoppedUP",
    "pausedUP",
    "queuedUP",
    "downloading",
    "error",
    "missingFiles",
    "checkingUP",
]


def random_torrent(rng):
    state = rng.choice(STATES)
    done = state != "downloading"
    return {
        "name": "t",
        "state": state,
        "size": rng.choice([GIB // 3, GIB, 30 * GIB, 120 * GIB]),
        "progress": 1 if done else 0.4,
        "amount_left": 0 if done else 5,
        "seeding_time": rng.choice([0, 5 * HOUR, 80 * HOUR, 40 * DAY, 400 * DAY]),
        "num_complete": rng.randint(-1, 4),
        "num_incomplete": rng.randint(0, 3),
        "upspeed": rng.choice([0, 0, 2000]),
        "uploaded": rng.randint(0, 10 * GIB),
        "downloaded": rng.randint(0, GIB),
        "last_activity": NOW - rng.randint(0, 4 * HOUR),
        "completion_on": rng.choice([-1, NOW - 3 * HOUR]),
        # near UNIT3D's 183-day and 365-day age bounds, so that the clock crosses them
        "added_on": NOW - rng.choice([HOUR, 183 * DAY - 2 * HOUR, 365 * DAY - HOUR, 500 * DAY]),
    }


def check(index, snap):
    view = index.update(snap)
    assert view.trackers == tracker_stats(snap, POLICIES, SETTINGS)
    rec = recommend_seeding_slots(snap, POLICIES, SETTINGS)
    got = (view.active, view.candidates, view.owed, view.recommended, view.misallocated, view.capacity)
    assert got == (rec.active, rec.candidates, rec.owed, rec.recommended, rec.misallocated, rec.capacity)
    return view


@pytest.mark.parametrize(
    "seed_,bulk,history",
    [(1, 2048, True), (2, 2048, True), (3, 2048, True), (4, 3, True), (5, 3, True), (6, 2048, False)],
    ids=["edits-1", "edits-2", "edits-3", "bulk-rebuilds-1", "bulk-rebuilds-2", "no-changes-said"],
)
def test_index_agrees_with_from_scratch_through_random_deltas(monkeypatch, seed_, bulk, history):
    """history False: the snapshots do not say which torrents changed, the index compares them all."""
    monkeypatch.setattr(ratio_index, "BULK", bulk)
    rng = random.Random(seed_)
    state = MaindataState("one")
    index = RatioIndex(POLICIES, SETTINGS)
    hashes = [f"{i:040x}" for i in range(30)]
    members = {h: rng.choice(HOSTS) for h in hashes}
    state.apply(
        {
            "rid": 1,
            "full_update": True,
            "torrents": {h: random_torrent(rng) for h in hashes},
            "trackers": {tracker_url(host): [h for h in hashes if members[h] == host] for host in HOSTS},
        }
    )
    now = float(NOW)
    rid = 1
    for step in range(80):
        rid += 1
        roll = rng.random()
        if roll < 0.1:  # time passes, nothing changes: same generation, facts expire (idle, age)
            pass
        elif roll < 0.15:  # full resync: every object new, most of them equal to before
            torrents = {h: {**random_torrent(rng)} if rng.random() < 0.2 else None for h in hashes}
            current = state.snapshot(now).torrents
            payload = {
                h: raw if raw is not None else _raw_of(current[h])
                for h, raw in torrents.items()
                if h in current
            }
            state.apply(
                {
                    "rid": rid,
                    "full_update": True,
                    "torrents": payload,
                    "trackers": {
                        tracker_url(host): [h for h in payload if members[h] == host] for host in HOSTS
                    },
                }
            )
        else:
            delta: dict = {"rid": rid, "torrents": {}}
            for h in rng.sample(hashes, rng.randint(1, 6)):
                delta["torrents"][h] = {k: v for k, v in random_torrent(rng).items() if rng.random() < 0.4}
            if rng.random() < 0.2:
                delta["torrents_removed"] = rng.sample(hashes, 2)
            if rng.random() < 0.2:  # a torrent moves to another tracker
                h, host = rng.choice(hashes), rng.choice(HOSTS)
                members[h] = host
                delta["trackers"] = {tracker_url(x): [k for k in hashes if members[k] == x] for x in HOSTS}
            state.apply(delta)
        now += rng.choice([0, 60, 1800, 3 * HOUR])
        if step == 50:
            now -= 6 * HOUR  # the clock went back: the index starts over
        snap = state.snapshot(now)
        check(index, snap if history else dataclasses.replace(snap, changes=None, history=()))


def _raw_of(t):
    """A Torrent back as qBittorrent's JSON (enough fields to rebuild an equal object)."""
    fields = (
        "name",
        "state",
        "size",
        "progress",
        "amount_left",
        "seeding_time",
        "num_complete",
        "num_incomplete",
        "upspeed",
        "uploaded",
        "downloaded",
        "last_activity",
        "completion_on",
        "added_on",
    )
    return {f: getattr(t, f) for f in fields}


def test_index_recomputes_only_changed_torrents(monkeypatch):
    calls = []
    real = ratio_index.facts_of
    monkeypatch.setattr(ratio_index, "facts_of", lambda t, *a: calls.append(t.hash) or real(t, *a))
    torrents = {f"{i:040x}": seed(last_activity=NOW, seeding_time=i) for i in range(200)}
    state = MaindataState("one")
    state.apply(
        {
            "rid": 1,
            "full_update": True,
            "torrents": torrents,
            "trackers": {tracker_url("g.example"): list(torrents)},
        }
    )
    index = RatioIndex(POLICIES, SETTINGS)
    check(index, state.snapshot(NOW))
    assert len(calls) == 200
    calls.clear()
    changed = [f"{i:040x}" for i in (3, 77)]
    state.apply({"rid": 2, "torrents": {h: {"upspeed": 10} for h in changed}})
    index.update(state.snapshot(NOW + 10))
    assert sorted(calls) == changed
    calls.clear()
    index.update(state.snapshot(NOW + 20))  # nothing changed and nothing expired: no work
    assert calls == []


def test_seeds_become_idle_as_the_clock_passes_without_any_delta():
    snap = snapshot_of({"a": seed(last_activity=NOW, completion_on=NOW, added_on=NOW)}, {"g.example": ["a"]})
    index = RatioIndex(POLICIES, SETTINGS)
    assert index.update(snap, NOW + 2 * HOUR - 1).trackers[0].idle == 0
    assert index.update(snap, NOW + 2 * HOUR).trackers[0].idle == 1
    assert index.update(snap, NOW + 1).trackers[0].idle == 0  # clock went back: recomputed


def test_a_new_instance_starts_over():
    index = RatioIndex(POLICIES, SETTINGS)
    first = snapshot_of({"a": seed()}, {"g.example": ["a"]}, instance="one")
    second = snapshot_of({"b": seed(), "c": seed()}, {"g.example": ["b", "c"]}, instance="two")
    assert index.update(first).trackers[0].seeding == 1
    assert check(index, second).trackers[0].seeding == 2
