"""The unregistered action: grace period, untagging, the outage guard and the per-run bound, as tables."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from exporter.managers.control import Action
from exporter.managers.policy import UnregisteredPolicy
from exporter.managers.tracker_health import HeldBack, TrackerEntry, TrackerHealth, plan_unregistered
from exporter.model import AppInfo, ServerState, Snapshot, Torrent

NOW = 1_000_000.0
H = 3600.0
A, B = "a.example", "b.example"
POLICY = UnregisteredPolicy(enabled=True)  # after 6h, outage: > 50% and >= 5 within 1h
UNREG = TrackerEntry(A, 4, "not_working", "unregistered", "Unregistered torrent")


def entry(host: str, status: str = "working", reason: str | None = None) -> TrackerEntry:
    return TrackerEntry(
        host, {"disabled": 0, "not_contacted": 1, "working": 2}.get(status, 4), status, reason
    )


def torrent(h: str, state: str = "uploading", tags=(), trackers=(A,)):
    return Torrent(
        hash=h, name=f"name-{h}", state=state, tags=tuple(tags), tracker=trackers[0], trackers=trackers
    )


def snapshot(*torrents):
    return Snapshot("qb", 1, NOW, AppInfo(), ServerState(), MappingProxyType({t.hash: t for t in torrents}))


def unregistered_since(state: TrackerHealth, h: str, first: float, last: float = NOW - 60, entries=(UNREG,)):
    """Two fetches saying the same: at `first` and at `last`."""
    state.record(h, entries, first)
    state.record(h, entries, last)


def plan(state, *torrents, policy=POLICY, tagged=frozenset()):
    return plan_unregistered(state, snapshot(*torrents), NOW, policy, tagged)


def brief(p):
    return [(a.action, a.hash) for a in p.actions]


@pytest.mark.parametrize(
    "first, last, t, policy, expected, counts",
    [
        (NOW - 6 * H - 60, NOW - 60, torrent("x"), POLICY, [("tag_unregistered", "x")], (1, 0)),
        (NOW - 6 * H, NOW - 61, torrent("x"), POLICY, [], (0, 1)),  # seen for 6h minus a second
        (NOW - 13 * H, NOW - 6 * H - 1, torrent("x"), POLICY, [], (0, 0)),  # last word older than 6h
        (NOW - 7 * H, NOW - 60, torrent("x"), replace(POLICY, enabled=False), [], (0, 0)),
        (
            NOW - 7 * H,
            NOW - 60,
            torrent("x"),
            replace(POLICY, stop=True),
            [("tag_unregistered", "x"), ("stop_unregistered", "x")],
            (1, 0),
        ),
        (
            NOW - 7 * H,
            NOW - 60,
            torrent("x", state="stoppedUP"),
            replace(POLICY, stop=True),
            [("tag_unregistered", "x")],  # already stopped
            (1, 0),
        ),
        (
            NOW - 7 * H,
            NOW - 60,
            torrent("x", tags=("unregistered",)),
            POLICY,
            [],
            (1, 0),
        ),  # tagged by someone
        (NOW - 7 * H, NOW - 60, torrent("x", trackers=(A, B)), POLICY, [], (0, 0)),  # trackers edited since
        (
            NOW - 1 * H,
            NOW - 60,
            torrent("x"),
            replace(POLICY, after=1800),
            [("tag_unregistered", "x")],
            (1, 0),
        ),
    ],
    ids=[
        "after-6h",
        "not-yet",
        "stale",
        "disabled",
        "stop",
        "already-stopped",
        "foreign-tag",
        "edited",
        "after-30m",
    ],
)
def test_grace_period(first, last, t, policy, expected, counts):
    state = TrackerHealth()
    unregistered_since(state, "x", first, last)
    p = plan(state, t, policy=policy)
    assert brief(p) == expected
    assert (p.unregistered, p.waiting) == counts


def test_the_action_says_why_without_the_url():
    state = TrackerHealth()
    unregistered_since(state, "x", NOW - 7 * H)
    (action,) = plan(state, torrent("x")).actions
    assert action == Action(
        "tag_unregistered", "x", "name-x", 'unregistered on a.example for 6h 59m ("Unregistered torrent")', A
    )


@pytest.mark.parametrize(
    "entries, expected",
    [
        ([UNREG, entry(B, "not_working", "unregistered")], [("tag_unregistered", "x")]),
        ([UNREG, entry(B, "disabled")], [("tag_unregistered", "x")]),  # a disabled tracker does not count
        ([UNREG, entry(B)], []),  # one tracker still knows it
        ([UNREG, entry(B, "not_working", "down")], []),
        ([UNREG, entry(B, "not_working", "unauthorized")], []),
        ([UNREG, entry(B, "not_contacted")], []),
        ([entry(A, "not_working", "unauthorized")], []),  # the passkey, not the torrent
    ],
    ids=["both", "other-disabled", "other-working", "other-down", "other-passkey", "other-silent", "passkey"],
)
def test_every_live_tracker_must_say_unregistered(entries, expected):
    state = TrackerHealth()
    unregistered_since(state, "x", NOW - 7 * H, entries=entries)
    hosts = tuple(sorted({e.host for e in entries}))
    assert brief(plan(state, torrent("x", trackers=hosts))) == expected


@pytest.mark.parametrize(
    "now_entries, t, expected, forget",
    [
        ([entry(A)], torrent("x", tags=("unregistered",)), [("untag_unregistered", "x")], []),
        ([UNREG], torrent("x", tags=("unregistered",)), [], []),  # still unregistered: keep
        (
            [entry(A, "not_contacted")],
            torrent("x", "stoppedUP", ("unregistered",)),
            [],
            [],
        ),  # stopped: no word
        ([entry(A, "not_working", "down")], torrent("x", tags=("unregistered",)), [], []),  # an outage: keep
        ([entry(A)], torrent("x"), [], ["x"]),  # known again, the tag already gone
        ([entry(A)], None, [], ["x"]),  # the torrent is gone
    ],
    ids=["known-again", "still", "stopped", "down", "tag-gone", "gone"],
)
def test_untag_when_a_tracker_knows_it_again(now_entries, t, expected, forget):
    state = TrackerHealth()
    unregistered_since(state, "x", NOW - 9 * H, NOW - 3 * H)
    state.record("x", now_entries, NOW - 60)
    p = plan(state, *([t] if t else []), tagged={"x"})
    assert brief(p) == expected and list(p.forget) == forget


def outage(starts, healthy, disabled=0, policy=POLICY):
    """Torrents u0.. on A whose streaks start at NOW - 9h + starts[i] (seconds), `healthy` working ones,
    `disabled` ones where A is disabled (they do not count as A's torrents)."""
    state, torrents = TrackerHealth(), []
    for i, s in enumerate(starts):
        unregistered_since(state, f"u{i}", NOW - 9 * H + s)
        torrents.append(torrent(f"u{i}"))
    for i in range(healthy):
        state.record(f"w{i}", [entry(A)], NOW - 60)
        torrents.append(torrent(f"w{i}"))
    for i in range(disabled):
        state.record(f"d{i}", [entry(A, "disabled")], NOW - 60)
        torrents.append(torrent(f"d{i}"))
    return plan(state, *torrents, policy=policy)


@pytest.mark.parametrize(
    "starts, healthy, disabled, held, tags",
    [
        ([0, 60, 120, 300, 600, 1800], 4, 0, [HeldBack(A, 6, 10)], 0),  # 6 of 10 within the hour
        ([0, 60, 120, 300, 600], 5, 0, [], 5),  # 5 of 10 is not more than half
        ([i * 1500 for i in range(6)], 4, 0, [], 6),  # 6 of 10, but never more than 3 in one hour
        ([0, 3600, 3600, 3600, 3600, 3600], 4, 0, [HeldBack(A, 6, 10)], 0),  # exactly one window apart
        ([0, 60, 120, 180], 0, 0, [], 4),  # 4 of 4: fewer than outage_min_torrents
        ([0, 60, 120, 180, 240], 4, 6, [HeldBack(A, 5, 9)], 0),  # disabled ones are not A's torrents
    ],
    ids=["outage", "half", "spread", "window-edge", "few", "disabled-not-counted"],
)
def test_outage_guard(starts, healthy, disabled, held, tags):
    p = outage(starts, healthy, disabled)
    assert list(p.held_back) == held
    assert sum(a.action == "tag_unregistered" for a in p.actions) == tags
    assert p.unregistered == len(starts)  # held back or not, they are counted


def test_an_outage_holds_back_torrents_that_also_use_that_host():
    state = TrackerHealth()
    for i in range(6):
        unregistered_since(state, f"u{i}", NOW - 7 * H + i)
    both = [UNREG, entry(B, "not_working", "unregistered")]
    unregistered_since(state, "both", NOW - 8 * H, entries=both)
    unregistered_since(state, "only-b", NOW - 8 * H, entries=[entry(B, "not_working", "unregistered")])
    torrents = [torrent(f"u{i}") for i in range(6)] + [
        torrent("both", trackers=(A, B)),
        torrent("only-b", trackers=(B,)),
    ]
    p = plan(state, *torrents)
    assert [b.host for b in p.held_back] == [A]
    assert brief(p) == [("tag_unregistered", "only-b")]


def test_untagging_is_not_held_back():
    state = TrackerHealth()
    for i in range(6):
        unregistered_since(state, f"u{i}", NOW - 7 * H + i)
    state.record("x", [entry(A)], NOW - 60)
    p = plan(state, *[torrent(f"u{i}") for i in range(6)], torrent("x", tags=("unregistered",)), tagged={"x"})
    assert p.held_back and brief(p) == [("untag_unregistered", "x")]


@pytest.mark.parametrize(
    "stop, limit, expected",
    [
        (False, 3, [("untag_unregistered", "k"), ("tag_unregistered", "u0"), ("tag_unregistered", "u1")]),
        (True, 4, [("untag_unregistered", "k"), ("tag_unregistered", "u0"), ("stop_unregistered", "u0")]),
        (
            True,
            5,
            [("untag_unregistered", "k")]
            + [(a, h) for h in ("u0", "u1") for a in ("tag_unregistered", "stop_unregistered")],
        ),
        (False, 0, []),
    ],
    ids=["untag-first-then-oldest", "pairs-stay-together", "two-pairs", "zero"],
)
def test_bounded_per_run(stop, limit, expected):
    state = TrackerHealth()
    for i in range(4):  # u0 has been unregistered longest
        unregistered_since(state, f"u{i}", NOW - 10 * H + i * 600)
    state.record("k", [entry(A)], NOW - 60)
    torrents = [torrent(f"u{i}") for i in range(4)] + [torrent("k", tags=("unregistered",))]
    policy = replace(POLICY, stop=stop, max_actions_per_run=limit)
    assert brief(plan(state, *torrents, policy=policy, tagged={"k"})) == expected
