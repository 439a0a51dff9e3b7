"""TrackerHealth: merging a torrent's URLs per host, reason streaks, following Snapshots, per-host answers."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from exporter.managers.tracker_health import TrackerEntry, TrackerHealth
from exporter.managers.tracker_health.health import merge_by_host
from exporter.model import AppInfo, ServerState, Snapshot, Torrent

T0 = 1_000_000.0


def snap(*torrents: Torrent, generation: int = 1, at: float = T0, instance: str = "qb") -> Snapshot:
    return Snapshot(
        instance, generation, at, AppInfo(), ServerState(), MappingProxyType({t.hash: t for t in torrents})
    )


def e(host: str, status: str = "working", reason: str | None = None, detail: str = "") -> TrackerEntry:
    code = {"disabled": 0, "not_contacted": 1, "working": 2, "updating": 3}.get(status, 4)
    return TrackerEntry(host, code, status, reason, detail)


UNREG = e("a.example", "not_working", "unregistered")
DOWN = e("a.example", "not_working", "down")


@pytest.mark.parametrize(
    "entries, expected",
    [
        ([UNREG, e("a.example")], e("a.example")),
        ([UNREG, DOWN], DOWN),  # the least damning problem wins
        (
            [UNREG, e("a.example", "not_working", "unauthorized")],
            e("a.example", "not_working", "unauthorized"),
        ),
        ([e("a.example", "unreachable", "down"), UNREG], e("a.example", "unreachable", "down")),
        ([UNREG, e("a.example", "disabled")], UNREG),  # a disabled URL says nothing
        ([UNREG, e("a.example", "updating")], e("a.example", "updating")),
        ([UNREG, e("a.example", "not_contacted")], e("a.example", "not_contacted")),
        ([e("a.example", "updating"), e("a.example")], e("a.example")),
        ([e("", "working"), UNREG], UNREG),  # no host: not a tracker
    ],
    ids=[
        "working",
        "down",
        "unauthorized",
        "unreachable",
        "disabled",
        "updating",
        "not-contacted",
        "upd-work",
        "nohost",
    ],
)
def test_urls_of_one_host_merge_to_the_most_reassuring(entries, expected):
    assert merge_by_host(entries) == (expected,)
    assert merge_by_host(reversed(entries)) == (expected,)


B = "b.example"
# (fetch time offset, entries) sequences -> since("h", "unregistered") after the last fetch
STREAKS = [
    ([(0, [UNREG]), (600, [UNREG]), (1200, [UNREG])], 0),
    ([(0, [UNREG]), (600, [DOWN]), (1200, [UNREG])], 1200),  # interrupted by another reason
    ([(0, [UNREG]), (600, [e("a.example")]), (1200, [UNREG])], 1200),  # known again in between
    ([(0, [UNREG]), (600, [e("a.example", "updating")]), (1200, [UNREG])], 0),  # 4.x updating: no news
    ([(0, [UNREG]), (600, [e("a.example", "updating")])], 0),  # ... and no news keeps the reason
    ([(0, [UNREG]), (600, [e("a.example", "not_contacted")]), (1200, [UNREG])], 1200),  # restarted
    ([(0, [UNREG]), (600, [UNREG, e(B, "not_working", "unregistered")])], 600),  # latest start of all hosts
    ([(0, [UNREG, e(B, "disabled")])], 0),  # disabled trackers do not count
    ([(0, [e("a.example", "disabled")])], None),  # no live tracker at all
    ([(0, [UNREG, e(B, "not_contacted")])], None),  # every live tracker must say it
    ([(0, [UNREG, e(B, "not_working", "down")])], None),
    ([(0, [UNREG]), (-10, [e("a.example")])], 0),  # an older answer arriving late is ignored
    ([], None),
]


@pytest.mark.parametrize(
    "fetches, expected",
    STREAKS,
    ids=[
        "continuous",
        "interrupted",
        "known-again",
        "updating-carries",
        "updating-last",
        "not-contacted-resets",
        "two-hosts",
        "disabled-host",
        "all-disabled",
        "host-not-contacted",
        "host-down",
        "late-answer",
        "never-fetched",
    ],
)
def test_unregistered_streak(fetches, expected):
    state = TrackerHealth()
    for offset, entries in fetches:
        state.record("h", entries, T0 + offset)
    assert state.since("h", "unregistered") == (None if expected is None else T0 + expected)


def test_a_carried_reason_keeps_its_message():
    state = TrackerHealth()
    state.record("h", [e("a.example", "not_working", "unregistered", "Unregistered torrent")], T0)
    state.record("h", [e("a.example", "updating")], T0 + 60)
    rec = state.trackers("h")
    assert rec is not None and rec.entries == (
        e("a.example", "updating", "unregistered", "Unregistered torrent"),
    )
    assert rec.fetched_at == T0 + 60


def test_record_refuses_an_older_answer():
    state = TrackerHealth()
    assert state.record("h", [UNREG], T0)
    assert not state.record("h", [e("a.example")], T0 - 1)
    assert state.hashes("a.example", reason="unregistered") == {"h"}


def torrent(h: str, state: str = "uploading", tracker: str = "a.example", trackers=("a.example",)) -> Torrent:
    return Torrent(hash=h, name=h, state=state, tracker=tracker, trackers=tuple(trackers))


@pytest.mark.parametrize(
    "after, flagged_before, flagged_after, changed",
    [
        (None, None, None, False),  # the same object (the mirror keeps unchanged torrents)
        (torrent("h"), None, None, False),  # equal, but a new object
        (torrent("h", state="stalledUP"), None, None, True),
        (torrent("h", tracker=""), None, None, True),  # 4.x/5.0: no working tracker any more
        (torrent("h", trackers=("a.example", "b.example")), None, None, True),
        (torrent("h"), set(), {"h"}, True),  # 5.2: a flag appears
        (torrent("h"), {"h"}, set(), True),  # ... or goes
        (torrent("h", state="stalledUP"), set(), set(), False),  # with flags, states are no news
        (torrent("h", trackers=("b.example",)), set(), set(), True),
    ],
    ids=[
        "same",
        "equal",
        "state",
        "tracker",
        "trackers",
        "flag-set",
        "flag-cleared",
        "flags-state",
        "flags-trackers",
    ],
)
def test_changes_that_make_a_torrent_worth_fetching_again(after, flagged_before, flagged_after, changed):
    state = TrackerHealth()
    before = torrent("h")
    state.observe(snap(before), flagged_before)
    state.record("h", [e("a.example")], T0 + 10)
    assert not state.changed_since_fetch("h")
    state.observe(
        snap(before if after is None else after, generation=2, at=T0 + 20),
        flagged_after,
    )
    assert state.changed_since_fetch("h") is changed


def test_a_change_seen_before_the_fetch_is_not_news():
    state = TrackerHealth()
    state.observe(snap(torrent("h")))
    state.observe(snap(torrent("h", state="stalledUP"), generation=2, at=T0 + 5))
    assert state.changed_since_fetch("h")  # never fetched
    state.record("h", [e("a.example")], T0 + 10)
    assert not state.changed_since_fetch("h")


def test_torrents_gone_are_dropped_with_their_counts():
    state = TrackerHealth()
    state.observe(snap(torrent("x"), torrent("y")))
    state.record("x", [e("a.example", "not_working", "unregistered", "Unregistered torrent")], T0)
    state.record("y", [e("a.example")], T0)
    state.record("z", [e("a.example")], T0)  # fetched, but not in any Snapshot yet
    state.observe(snap(torrent("y"), torrent("w"), generation=2))  # x gone, w new: same size
    assert len(state) == 1 and state.trackers("x") is None and state.trackers("z") is None
    (view,) = state.view(T0, 3600)
    assert view.torrents == 1 and view.by_reason["unregistered"] == 0 and view.examples == {}
    state.observe(snap(torrent("y"), instance="other", generation=2))  # another qBittorrent: start over
    assert len(state) == 0 and state.hosts() == ()


def test_per_host_answers():
    state = TrackerHealth()
    state.record(
        "a", [e("a.example"), e(B, "not_working", "unregistered", "Unregistered torrent")], T0 - 7200
    )
    state.record("b", [e("a.example", "updating"), e(B, "not_working", "down", "timed out")], T0 - 60)
    state.record("c", [e("a.example", "disabled")], T0)
    state.record("c", [e("a.example", "not_working", "unauthorized", "bad passkey=***")], T0 + 1)
    va, vb = state.view(T0 + 1, stale_after=3600)
    assert (va.host, va.torrents, va.oldest, va.stale) == ("a.example", 3, T0 - 7200, 1)
    assert {k: v for k, v in va.by_status.items() if v} == {"working": 1, "updating": 1, "not_working": 1}
    assert set(va.by_status) == {
        "disabled",
        "not_contacted",
        "working",
        "updating",
        "not_working",
        "error",
        "unreachable",
    }
    assert va.by_reason == {"unauthorized": 1, "unregistered": 0, "down": 0, "other": 0}
    assert va.examples == {"unauthorized": "bad passkey=***"}
    assert (vb.torrents, vb.by_reason["unregistered"], vb.by_reason["down"]) == (2, 1, 1)
    assert vb.examples == {"unregistered": "Unregistered torrent", "down": "timed out"}
    assert state.hashes(B, reason="down") == {"b"} and state.hashes("a.example", status="working") == {"a"}
    assert state.hashes(B) == {"a", "b"} and state.hosts() == ("a.example", B)
    assert sorted(state.streaks(B, "unregistered")) == [T0 - 7200]


def test_stale_counts_and_oldest_fetches_follow_every_record_and_drop():
    """view(), data_age() and next_stale_at() read sorted fetch times kept per host and overall (a bisect,
    not a walk of 50,000 records): after every fetch and drop of a long random run, each says what a walk
    of all the records says, with ties, torrents without a host, and several hosts per torrent."""
    import math
    import random

    rng = random.Random(3)
    hosts = ["a.example", "b.example", "c.example"]
    health = TrackerHealth()
    alive = {f"h{i}": Torrent(hash=f"h{i}", state="uploading") for i in range(30)}
    health.observe(snap(*alive.values()))
    generation = 1
    for step in range(600):
        if rng.random() < 0.9:
            h = rng.choice(sorted(alive))
            entries = [
                e(x, rng.choice(["working", "updating", "not_working"])) for x in hosts if rng.random() < 0.5
            ]
            health.record(h, entries, T0 + rng.choice([0, 10, 10, 20, 35, 50]) + step)
        else:
            alive.pop(rng.choice(sorted(alive)), None)
            alive.setdefault(f"h{30 + step}", Torrent(hash=f"h{30 + step}", state="uploading"))
            generation += 1
            health.observe(snap(*alive.values(), generation=generation))
        now, stale_after = T0 + step + rng.choice([0, 5, 20, 40]), rng.choice([10.0, 30.0, 1e9])
        records = [health.trackers(h) for h in alive if health.trackers(h) is not None]
        times = [r.fetched_at for r in records]
        assert health.data_age(now, stale_after) == (
            sum(1 for f in times if f < now - stale_after),
            min(times, default=None),
        )
        fresh = [f + stale_after for f in times if f + stale_after >= now]
        assert health.next_stale_at(now, stale_after) == min(fresh, default=math.inf)
        for view in health.view(now, stale_after):
            mine = [r.fetched_at for r in records if r.entry(view.host) is not None]
            assert view.torrents == len(mine), step
            assert view.oldest == min(mine, default=None)
            assert view.stale == sum(1 for f in mine if f < now - stale_after)
        assert {v.host for v in health.view(now, stale_after)} == {e.host for r in records for e in r.entries}


def test_following_the_snapshots_changes_gives_what_comparing_every_torrent_gives():
    """observe() takes the torrents changed since the snapshot it saw last from the snapshot's history
    (Snapshot.changed_since) instead of comparing all 50,000: over a random run of a real mirror's
    snapshots, some skipped, it notes the same changes and drops the same torrents as a health given the
    same snapshots without their history (which compares every torrent)."""
    import dataclasses
    import random

    from exporter.qbt.maindata import MaindataState

    rng = random.Random(8)
    mirror = MaindataState("qb")
    torrents = {f"{i:040x}": {"state": "uploading", "tracker": "http://a.example/x"} for i in range(40)}
    mirror.apply({"rid": 1, "full_update": True, "torrents": torrents})
    told, walked = TrackerHealth(), TrackerHealth()
    first = mirror.snapshot(T0)
    told.observe(first)
    walked.observe(dataclasses.replace(first, changes=None, history=()))
    used = 0
    for rid in range(2, 300):
        payload: dict = {"rid": rid, "torrents": {}}
        for _ in range(rng.randint(0, 4)):
            h = f"{rng.randrange(50):040x}"
            payload["torrents"][h] = {"state": rng.choice(["uploading", "stalledDL", "error"])}
            if rng.random() < 0.3:
                payload["torrents"][h]["tracker"] = rng.choice(["http://a.example/x", "http://b.example/y"])
        if rng.random() < 0.3:
            payload["torrents_removed"] = [f"{rng.randrange(50):040x}"]
        mirror.apply(payload)
        snapshot = mirror.snapshot(T0 + rid)
        if rng.random() < 0.4:
            continue  # not every snapshot is observed: the changes of several are taken at once
        for h in list(snapshot.torrents)[:3]:
            for health in (told, walked):
                health.record(h, [e("a.example")], T0 + rid - 0.5)
        used += snapshot.changed_since(told._generation) is not None
        told.observe(snapshot)
        walked.observe(dataclasses.replace(snapshot, changes=None, history=()))
        assert told.changed_at == walked.changed_at and dict(told.records) == dict(walked.records), rid
        assert told._seen == walked._seen == dict(snapshot.torrents)
    assert used > 100  # the history was there to follow
