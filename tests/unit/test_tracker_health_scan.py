"""The tracker scan planner: the request budget (a property over random runs), priorities, pages, batches."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.managers.policy import TrackerScanPolicy
from exporter.managers.tracker_health import (
    ScanRequest,
    TokenBucket,
    TrackerEntry,
    TrackerHealth,
    plan_scan,
    source_for,
)
from exporter.model import AppInfo, ServerState, Snapshot, Torrent

T0 = 1_000_000.0
POLICY = TrackerScanPolicy(
    requests_per_second=5,
    burst=1,
    interval=10,
    page_size=4,
    hash_batch=2,
    recheck_after=600,
    stale_after=3600,
)
OK = [TrackerEntry("a.example", 2, "working")]
BAD = [TrackerEntry("a.example", 4, "not_working", "unregistered")]


def near(x):
    """Equal to 1 µs: pytest.approx's default relative tolerance would be a whole second at T0."""
    return pytest.approx(x, rel=0, abs=1e-6)


def snap(torrents: dict[str, str], generation: int = 1, at: float = T0) -> Snapshot:
    """hash -> state"""
    return Snapshot(
        "qb",
        generation,
        at,
        AppInfo(),
        ServerState(),
        MappingProxyType({h: Torrent(hash=h, state=s, tracker="a.example") for h, s in torrents.items()}),
    )


@pytest.mark.parametrize(
    "bucket, earliest, expected",
    [
        (TokenBucket(), T0, (T0, TokenBucket(0.0, T0))),  # a new bucket is full
        (TokenBucket(0.0, T0), T0, (T0 + 0.2, TokenBucket(0.0, T0 + 0.2))),  # empty: wait 1/rate
        (TokenBucket(0.5, T0), T0, (T0 + 0.1, TokenBucket(0.0, T0 + 0.1))),
        (TokenBucket(0.0, T0), T0 + 100, (T0 + 100, TokenBucket(0.0, T0 + 100))),  # refilled, capped at burst
        (TokenBucket(0.0, T0 + 5), T0, (T0 + 5.2, TokenBucket(0.0, T0 + 5.2))),  # never before the last one
    ],
    ids=["new", "empty", "half", "refilled", "last-in-future"],
)
def test_token_bucket(bucket, earliest, expected):
    when, after = bucket.take(5.0, 1, earliest)
    assert when == near(expected[0]) and after.tokens == near(expected[1].tokens)
    assert after.at == near(expected[1].at)


def test_a_burst_of_three_allows_three_at_once_then_the_rate():
    bucket, times = TokenBucket(), []
    for _ in range(5):
        when, bucket = bucket.take(2.0, 3, T0)
        times.append(when - T0)
    assert times == pytest.approx([0, 0, 0, 0.5, 1.0])


@pytest.mark.parametrize(
    "webapi, has_flags, expected",
    [
        ("2.8.19", False, "per_torrent"),
        ("2.11.2", False, "per_torrent"),
        ("2.11.3", False, "per_torrent"),
        ("2.11.4", False, "include_trackers"),
        ("2.15.1", False, "include_trackers"),
        ("2.15.1", True, "flagged"),
        ("", False, "per_torrent"),
    ],
    ids=["4.5", "5.0", "2.11.3", "5.1", "5.2-no-flags", "5.2", "unknown"],
)
def test_source_for(webapi, has_flags, expected):
    assert source_for(AppInfo(webapi_version=webapi), has_flags) == expected


def scenario():
    """n never fetched; c changed since its fetch; e/p suspects due a recheck; e2/p2 suspects fetched
    recently; o/o2 old data; f fresh. Every record is fetched with the torrent as it is now, except c."""
    state = TrackerHealth()
    torrents = {"c": "uploading", "e": "error", "e2": "stalledDL", "p": "uploading", "p2": "uploading"}
    torrents |= {"n": "uploading", "o": "uploading", "o2": "uploading", "f": "stalledUP"}
    first = dict(torrents, c="stalledUP")
    state.observe(snap(first, at=T0 - 9000))
    fetched = {"c": -100, "e": -700, "e2": -100, "p": -700, "p2": -100, "o": -4000, "o2": -5000, "f": -100}
    for h, offset in fetched.items():
        state.record(h, BAD if h.startswith("p") else OK, T0 + offset)
    state.observe(snap(torrents, generation=2, at=T0 - 50))  # c changed after its fetch
    return state, snap(torrents, generation=2)


def test_priorities_per_torrent():
    state, snapshot = scenario()
    plan = plan_scan(snapshot, state, T0, TokenBucket(), "per_torrent", POLICY)
    assert [r.hashes[0] for r in plan.requests] == ["n", "e", "p", "c", "o2", "o"]
    assert [r.kind for r in plan.requests] == ["torrent"] * 6
    assert [r.not_before - T0 for r in plan.requests] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert (plan.due, plan.left) == (6, 0)
    assert plan.bucket.at == near(T0 + 1.0)  # no token spent on nothing


def test_a_small_budget_takes_the_most_urgent_and_counts_the_rest():
    state, snapshot = scenario()
    policy = replace(POLICY, requests_per_second=1, interval=3)
    plan = plan_scan(snapshot, state, T0, TokenBucket(), "per_torrent", policy)
    assert [r.hashes[0] for r in plan.requests] == ["n", "e", "p"]
    assert [r.not_before - T0 for r in plan.requests] == pytest.approx([0, 1, 2])
    assert (plan.due, plan.left) == (6, 3)
    # the next run carries the bucket: one second after the last request, not a new burst
    later = plan_scan(snapshot, state, T0 + 0.5, plan.bucket, "per_torrent", policy)
    assert [r.not_before - T0 for r in later.requests] == pytest.approx([3])


def test_flagged_source_fetches_flags_first_and_the_rest_slowly():
    state = TrackerHealth()
    torrents = {"fa": "uploading", "fb": "error", "new": "error", "old": "uploading", "rec": "uploading"}
    torrents |= {"rec-flag": "uploading", "flip": "uploading"}
    state.observe(snap(torrents, at=T0 - 9000), flagged={"rec-flag", "fb"})
    state.record("rec", OK, T0 - 100)  # fetched recently, no flag
    state.record("rec-flag", BAD, T0 - 100)  # flagged, fetched recently: not yet
    state.record("fb", BAD, T0 - 700)  # flagged, fetched before recheck_after
    state.record("old", OK, T0 - 4000)  # stale
    state.record("flip", OK, T0 - 100)
    state.observe(snap(torrents, generation=2, at=T0 - 50), flagged={"fa", "fb", "rec-flag", "flip"})
    one_by_one = replace(POLICY, hash_batch=1, page_size=100)  # no pages: the order shows
    plan = plan_scan(snap(torrents, generation=2), state, T0, TokenBucket(), "flagged", one_by_one)
    # fa: flagged, never fetched; fb: flagged, due a recheck; flip: a flag appeared after its fetch;
    # new: never fetched but not flagged, and old: stale, come last; rec and rec-flag are not due
    assert [(r.kind, r.hashes) for r in plan.requests] == [
        ("hashes", ("fa",)),
        ("hashes", ("fb",)),
        ("hashes", ("flip",)),
        ("hashes", ("new",)),
        ("hashes", ("old",)),
    ]
    assert (plan.due, plan.left) == (5, 0)


def test_pages_where_they_are_dense_batches_elsewhere():
    hashes = [f"h{i:02}" for i in range(12)]
    state = TrackerHealth()
    snapshot = snap(dict.fromkeys(hashes, "uploading"))
    state.observe(snapshot)
    first = plan_scan(snapshot, state, T0, TokenBucket(), "include_trackers", POLICY)
    assert first.requests == (
        ScanRequest("page", T0, tuple(hashes[0:4]), offset=0, limit=4),
        ScanRequest("page", near(T0 + 0.2), tuple(hashes[4:8]), offset=4, limit=4),
        ScanRequest("page", near(T0 + 0.4), tuple(hashes[8:12]), offset=8, limit=4),
    )
    stale = ("h00", "h01", "h02", "h05", "h09")  # 3 of page 0, one of pages 1 and 2
    for h in hashes:
        state.record(h, OK, T0 - 4000 if h in stale else T0)
    second = plan_scan(snapshot, state, T0 + 1, first.bucket, "include_trackers", POLICY)
    assert [(r.kind, r.hashes) for r in second.requests] == [
        ("page", tuple(hashes[0:4])),
        ("hashes", ("h05", "h09")),
    ]
    assert (second.due, second.left) == (5, 0)


def test_a_page_must_beat_a_batch_and_be_half_due():
    state = TrackerHealth()
    snapshot = snap({"a": "uploading", "b": "uploading", "c": "uploading"})
    state.observe(snapshot)
    policy = TrackerScanPolicy(page_size=4, hash_batch=2)  # 3 due of 4, but 3 > 2
    plan = plan_scan(snapshot, state, T0, TokenBucket(), "include_trackers", policy)
    assert [(r.kind, r.hashes) for r in plan.requests] == [("page", ("a", "b", "c"))]
    policy = TrackerScanPolicy(page_size=7, hash_batch=2)  # 3 due of 7: less than half
    plan = plan_scan(snapshot, state, T0, TokenBucket(), "include_trackers", policy)
    assert [(r.kind, r.hashes) for r in plan.requests] == [("hashes", ("a", "b")), ("hashes", ("c",))]


@pytest.mark.parametrize(
    "bucket, rate, expected",
    [
        (TokenBucket(0.0, T0 + 10_000), 5.0, [T0 + 0.2]),  # the clock went back: start empty, now
        (TokenBucket(), 0.0, []),  # a zero budget fetches nothing
    ],
    ids=["clock-back", "zero-rate"],
)
def test_budget_edges(bucket, rate, expected):
    state = TrackerHealth()
    snapshot = snap({"a": "uploading"})
    policy = TrackerScanPolicy(requests_per_second=rate)
    plan = plan_scan(snapshot, state, T0, bucket, "per_torrent", policy)
    assert [r.not_before for r in plan.requests] == near(expected)


def test_an_unknown_source_is_one_line_naming_it():
    with pytest.raises(
        ValueError, match="^source: 'x' is not one of flagged, include_trackers, per_torrent$"
    ):
        plan_scan(snap({}), TrackerHealth(), T0, TokenBucket(), "x", POLICY)


# -- the budget is never exceeded --------------------------------------------------------------


def max_overshoot(times: list[float], rate: float, burst: int) -> float:
    """max over i <= j of (j - i + 1) - burst - rate * (t_j - t_i); > 0: too many requests in a window."""
    best, worst = -math.inf, -math.inf
    for j, t in enumerate(times):
        best = max(best, rate * t - j)  # the best i for this j, in O(n)
        worst = max(worst, (j + 1 - rate * t) + best - burst)
    return worst


def test_the_overshoot_check_can_fail():
    assert max_overshoot([0.0, 0.2, 0.4], 5.0, 1) == pytest.approx(0.0)
    assert max_overshoot([0.0, 0.1, 0.4], 5.0, 1) == pytest.approx(0.5)
    assert max_overshoot([0.0, 0.0, 0.0], 5.0, 2) == pytest.approx(1.0)


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=8),
    steps=st.lists(st.floats(0, 12, allow_nan=False), min_size=8, max_size=8),
    source=st.sampled_from(["flagged", "include_trackers", "per_torrent"]),
    rate=st.floats(0.5, 10),
    burst=st.integers(1, 4),
    interval=st.floats(0.5, 6),
    page_size=st.integers(1, 8),
    hash_batch=st.integers(1, 8),
    answered=st.floats(0, 1),
    seed=st.integers(0, 2**16),
)
def test_the_budget_is_never_exceeded(
    sizes, steps, source, rate, burst, interval, page_size, hash_batch, answered, seed
):
    rng = random.Random(seed)
    policy = TrackerScanPolicy(
        requests_per_second=rate,
        burst=burst,
        interval=interval,
        page_size=page_size,
        hash_batch=hash_batch,
        recheck_after=5,
        stale_after=20,
    )
    state, bucket, now, times = TrackerHealth(), TokenBucket(), T0, []
    for run, step in enumerate(steps):
        size = sizes[run % len(sizes)]
        torrents = {
            f"{rng.randrange(60):02}": rng.choice(["uploading", "error", "stalledDL"]) for _ in range(size)
        }
        snapshot = snap(torrents, generation=run, at=now)
        state.observe(
            snapshot, flagged={h for h in torrents if rng.random() < 0.3} if source == "flagged" else None
        )
        plan = plan_scan(snapshot, state, now, bucket, source, policy)
        bucket = plan.bucket
        for r in plan.requests:
            assert now <= r.not_before < now + interval
            assert (r.kind == "torrent") == (source == "per_torrent")
            limit = {"torrent": 1, "hashes": hash_batch, "page": page_size}[r.kind]
            assert 1 <= len(r.hashes) <= limit
            if rng.random() < answered:
                for h in r.hashes:
                    state.record(h, rng.choice([OK, BAD]), r.not_before)
        times.extend(r.not_before for r in plan.requests)
        assert len({h for r in plan.requests for h in r.hashes}) == sum(len(r.hashes) for r in plan.requests)
        assert plan.due - plan.left <= sum(len(r.hashes) for r in plan.requests)
        now += step
    assert times == sorted(times)
    assert max_overshoot(times, rate, burst) <= 1e-6


@pytest.mark.parametrize("source", ["per_torrent", "include_trackers", "flagged"])
def test_a_fetch_that_saw_an_announce_in_progress_is_rechecked_after_recheck_after(source):
    """`updating` says nothing of how the announce ends: without a recheck it stayed until stale_after."""
    state = TrackerHealth()
    torrents = {"upd": "uploading", "ok": "uploading"}
    state.observe(snap(torrents, at=T0 - 9000), flagged=set() if source == "flagged" else None)
    state.record("upd", [TrackerEntry("a.example", 3, "updating")], T0 - 700)
    state.record("ok", OK, T0 - 700)
    flagged = set() if source == "flagged" else None
    state.observe(snap(torrents, generation=2, at=T0 - 50), flagged=flagged)
    one_by_one = replace(POLICY, hash_batch=1, page_size=100)
    plan = plan_scan(snap(torrents, generation=2), state, T0, TokenBucket(), source, one_by_one)
    assert [h for r in plan.requests for h in r.hashes] == ["upd"]  # ok waits for stale_after
    early = plan_scan(snap(torrents, generation=2), state, T0 - 200, TokenBucket(), source, one_by_one)
    assert early.requests == ()  # not before recheck_after


def reference_due_order(snapshot, state, now, source, policy):
    """due_order as the module docstring states it: one sort of (priority, fetched_at, hash) keys."""
    from exporter.managers.tracker_health.scan import _suspect

    flagged = (state.flagged or frozenset()) if source == "flagged" else None
    keyed = []
    for h, t in snapshot.torrents.items():
        rec = state.trackers(h)
        if rec is None:
            keyed.append((0 if flagged is None or h in flagged else 2, -math.inf, h))
        elif state.changed_since_fetch(h):
            keyed.append((1, rec.fetched_at, h))
        elif now - rec.fetched_at >= policy.recheck_after and _suspect(t, rec, flagged):
            keyed.append((1, rec.fetched_at, h))
        elif now - rec.fetched_at >= policy.stale_after:
            keyed.append((2, rec.fetched_at, h))
    return [h for _, _, h in sorted(keyed)]


@pytest.mark.parametrize("source", ["per_torrent", "include_trackers", "flagged"])
def test_the_due_order_is_the_one_sort_of_priority_fetch_time_and_hash(source):
    """due_order sorts each priority's part apart (strings, not tuples, for a first sweep): the same
    order as one sort of (priority, fetched_at, hash), over random torrents, fetches, changes and flags."""
    from exporter.managers.tracker_health.scan import due_order

    rng = random.Random(5)
    states = ["uploading", "stalledDL", "error", "stalledUP", "stoppedUP", "downloading"]
    entries = [OK, BAD, [TrackerEntry("a.example", 3, "updating")]]
    for round_ in range(60):
        state = TrackerHealth()
        hashes = [f"{rng.randrange(16**6):06x}" for _ in range(rng.randint(0, 80))]
        torrents = {h: rng.choice(states) for h in hashes}
        flags = {h for h in torrents if rng.random() < 0.3} if source == "flagged" else None
        state.observe(snap(torrents, at=T0 - 9000), flagged=flags)
        for h in torrents:
            if rng.random() < 0.7:  # fetched, at times spread over stale_after and recheck_after; ties too
                state.record(h, rng.choice(entries), T0 - rng.choice([50, 650, 650, 4000, 7200, 7200]))
        changed = {h: (rng.choice(states) if rng.random() < 0.3 else s) for h, s in torrents.items()}
        state.observe(snap(changed, generation=2, at=T0 - 100), flagged=flags)
        now_snapshot = snap(changed, generation=2)
        got = due_order(now_snapshot, state, T0, source, POLICY)
        assert got == reference_due_order(now_snapshot, state, T0, source, POLICY), round_
