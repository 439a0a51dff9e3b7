"""RatioMonitoringManager: per-tracker ratio, points, hit-and-run risk, idle seeds; the seeding allocation."""

from __future__ import annotations

import math

import pytest

from exporter.config.policy import parse_trackers
from exporter.managers.points import GIB
from exporter.managers.policy import SeedingSettings
from exporter.managers.ratio import analyze, recommend_seeding_slots, slot_count, tracker_stats
from tests.kit.seeding import (
    ALLOCATION,
    ALLOCATION_TRACKERS,
    HOUR,
    NOW,
    POLICIES,
    SETTINGS,
    seed,
    snapshot_of,
)

MIB = 1024**2


def stats_by_host(snap, policies=POLICIES, settings=SETTINGS):
    return {s.tracker: s for s in tracker_stats(snap, policies, settings)}


def test_no_torrents():
    snap = snapshot_of({})
    assert tracker_stats(snap, POLICIES, SETTINGS) == ()
    rec = recommend_seeding_slots(snap, POLICIES, SETTINGS)
    assert (rec.active, rec.recommended, rec.candidates, rec.misallocated, rec.slots, rec.release) == (
        0,
        0,
        0,
        0,
        (),
        (),
    )


@pytest.mark.parametrize(
    "torrents,ratio",
    [
        ({"a": seed(uploaded=3 * GIB, downloaded=2 * GIB)}, 1.5),
        ({"a": seed(uploaded=5, downloaded=0)}, math.inf),
        ({"a": seed(uploaded=0, downloaded=0)}, None),
        ({"a": seed(uploaded=3, downloaded=2, ratio="-")}, 1.5),  # qBittorrent's "-" ratio is not used
        (
            {"a": seed(uploaded=1, downloaded=1), "b": seed(uploaded=5, downloaded=0)},
            6.0,
        ),  # over all torrents
        ({"a": seed(uploaded=10**18, downloaded=1)}, 1e18),  # qBittorrent sends qint64: <= 9.2e18
        ({"a": seed(uploaded="7", downloaded="2")}, 3.5),  # numbers as strings
    ],
    ids=[
        "normal",
        "zero-downloaded",
        "nothing-transferred",
        "ratio-dash",
        "sum-over-torrents",
        "huge",
        "strings",
    ],
)
def test_tracker_ratio(torrents, ratio):
    s = stats_by_host(snapshot_of(torrents, {"g.example": list(torrents)}))["g.example"]
    assert s.ratio == ratio
    assert s.min_ratio == 0.6


@pytest.mark.parametrize(
    "torrents,trackers,host,model,points",
    [
        ({"a": seed(seeding_time=0, num_complete=0)}, {"g.example": ["a"]}, "g.example", "gazelle", 0.0433),
        (
            {"a": seed(seeding_time=720 * HOUR, num_complete=1)},
            {"g.example": ["a"]},
            "g.example",
            "gazelle",
            0.283679,
        ),
        (
            {"a": seed(seeding_time=720 * HOUR, state="stoppedUP")},
            {"g.example": ["a"]},
            "g.example",
            "gazelle",
            0.0,
        ),
        (
            {"a": seed(state="downloading", progress=0.5, amount_left=GIB // 2)},
            {"g.example": ["a"]},
            "g.example",
            "gazelle",
            0.0,
        ),
        ({"a": seed(), "b": seed()}, {"other.example": ["a", "b"]}, "other.example", "linear", 1.0),
        ({"a": seed(size=100 * GIB, num_complete=1)}, {"u.example": ["a"]}, "u.example", "unit3d", 2.75),
        (
            {"a": seed(size="inf", num_complete="inf", seeding_time="inf")},
            {"g.example": ["a"]},
            "g.example",
            "gazelle",
            0.0,
        ),
        (
            {"a": seed(size=2**62, seeding_time=720 * HOUR, num_complete=1)},
            {"g.example": ["a"]},
            "g.example",
            "gazelle",
            2**32 * 0.2836791,
        ),
    ],
    ids=[
        "gazelle-T0-N0",
        "gazelle-T720h-N1",
        "stopped-earns-nothing",
        "downloading-earns-nothing",
        "unknown-tracker-uses-default",
        "unit3d-dying-huge",
        "infinite-strings",
        "huge-size",
    ],
)
def test_points_per_tracker(torrents, trackers, host, model, points):
    s = stats_by_host(snapshot_of(torrents, trackers))[host]
    assert s.model == model
    assert s.points_per_hour == pytest.approx(points, rel=1e-5)
    assert math.isfinite(s.points_per_hour)


def test_estimate_error_only_where_reported():
    snap = snapshot_of({"a": seed(num_complete=0), "b": seed()}, {"g.example": ["a"], "other.example": ["b"]})
    stats = stats_by_host(snap)
    assert stats["g.example"].estimate_error == pytest.approx((0.0433 - 0.25) / 0.25, rel=1e-3)
    assert stats["other.example"].estimate_error is None


def test_a_torrent_on_two_trackers_counts_on_each_with_its_own_model():
    stats = stats_by_host(snapshot_of({"a": seed(num_complete=1)}, {"g.example": ["a"], "u.example": ["a"]}))
    assert stats["g.example"].points_per_hour == pytest.approx(0.0433)
    assert stats["u.example"].points_per_hour == 2.25  # dying 2 + regular 0.25
    assert stats["g.example"].seeding == stats["u.example"].seeding == 1


def test_torrents_without_a_tracker_belong_to_no_tracker():
    assert tracker_stats(snapshot_of({"a": seed()}), POLICIES, SETTINGS) == ()


HNR_CASES = [
    ("stoppedUP-5x", seed(state="stoppedUP"), 1),
    ("pausedUP-4x", seed(state="pausedUP"), 1),
    ("queuedUP", seed(state="queuedUP"), 1),
    ("error", seed(state="error"), 1),
    ("missingFiles-after-recheck", seed(state="missingFiles", progress=0, amount_left=GIB), 1),
    ("stalledUP-seeding", seed(state="stalledUP"), 0),
    ("uploading", seed(state="uploading", upspeed=100), 0),
    ("checkingUP-transient", seed(state="checkingUP"), 0),
    ("seed-time-served", seed(state="stoppedUP", seeding_time=72 * HOUR), 0),
    ("never-completed", seed(state="stoppedDL", progress=0.5, amount_left=GIB // 2, completion_on=-1), 0),
    ("unknown-state", seed(state="someFutureState"), 0),
]


@pytest.mark.parametrize("torrent,risk", [c[1:] for c in HNR_CASES], ids=[c[0] for c in HNR_CASES])
def test_hit_and_run_risk_by_state(torrent, risk):
    assert stats_by_host(snapshot_of({"a": torrent}, {"x.example": ["a"]}))["x.example"].hnr_risk == risk


def test_no_hit_and_run_risk_without_min_seed_time():
    policies = parse_trackers({"default": {"min_seed_time": 0}})
    assert (
        stats_by_host(snapshot_of({"a": seed(state="stoppedUP")}, {"x.example": ["a"]}), policies)[
            "x.example"
        ].hnr_risk
        == 0
    )


IDLE_CASES = [
    (
        "no-activity-7h",
        seed(last_activity=NOW - 7 * HOUR, completion_on=NOW - 8 * HOUR, added_on=NOW - 9 * HOUR),
        1,
    ),
    ("active-1h-ago", seed(last_activity=NOW - HOUR), 0),
    (
        "uploading-now",
        seed(
            state="uploading",
            upspeed=1,
            last_activity=NOW - 9 * HOUR,
            completion_on=NOW - 9 * HOUR,
            added_on=NOW - 9 * HOUR,
        ),
        0,
    ),
    (
        "never-active-completed-7h-ago",
        seed(last_activity=0, completion_on=NOW - 7 * HOUR, added_on=NOW - 8 * HOUR),
        1,
    ),
    ("never-active-just-added", seed(last_activity=0, completion_on=NOW - 60, added_on=NOW - 60), 0),
    ("stopped-is-not-a-seed", seed(state="stoppedUP", last_activity=NOW - 9 * HOUR), 0),
    ("exactly-the-window", seed(last_activity=NOW - 6 * HOUR, completion_on=0, added_on=0), 1),
]


@pytest.mark.parametrize("torrent,idle", [c[1:] for c in IDLE_CASES], ids=[c[0] for c in IDLE_CASES])
def test_idle_seeds(torrent, idle):
    assert stats_by_host(snapshot_of({"a": torrent}, {"x.example": ["a"]}))["x.example"].idle == idle


def test_upload_efficiency_and_fraction_uploading():
    snap = snapshot_of(
        {
            "a": seed(state="uploading", upspeed=5000, uploaded=3 * GIB),
            "b": seed(uploaded=GIB),
            "c": seed(state="stoppedUP", uploaded=0),
        },
        {"x.example": ["a", "b", "c"]},
    )
    s = stats_by_host(snap)["x.example"]
    assert (s.seeding, s.uploading) == (2, 1)
    assert s.uploading_fraction == 0.5
    assert s.upload_efficiency == pytest.approx(4 / 3)  # 4 GiB uploaded over 3 GiB stored
    empty = stats_by_host(snapshot_of({"c": seed(state="stoppedUP", size=0)}, {"x.example": ["c"]}))[
        "x.example"
    ]
    assert empty.uploading_fraction is None and empty.upload_efficiency is None


# -- seeding allocation ---------------------------------------------------------------------------

SLOT_CASES = [
    # (id, active, candidates, owed, capacity bytes/s, settings, expected slots, words in the explanation)
    (
        "capacity",
        3,
        50,
        0,
        10 * MIB,
        SeedingSettings(),
        10,
        "10 MiB/s upload capacity / 1 MiB/s per seed = 10",
    ),
    ("capacity-rounds-up", 3, 50, 0, 10.5 * MIB, SeedingSettings(), 11, "= 11"),
    ("unknown-capacity-keeps-active", 7, 50, 0, 0, SeedingSettings(), 7, "upload capacity unknown"),
    ("min-slots", 0, 50, 0, 0, SeedingSettings(min_slots=3), 3, "raised to min_slots 3"),
    ("max-slots", 3, 500, 0, 1000 * MIB, SeedingSettings(max_slots=40), 40, "lowered to max_slots 40"),
    ("owed-beats-max", 3, 500, 60, 1000 * MIB, SeedingSettings(max_slots=40), 60, "hit-and-run"),
    ("fewer-candidates", 3, 4, 0, 10 * MIB, SeedingSettings(), 4, "only 4 complete seeds"),
    ("no-candidates", 0, 0, 0, 10 * MIB, SeedingSettings(), 0, "only 0"),
]


@pytest.mark.parametrize(
    "active,candidates,owed,capacity,settings,expected,why",
    [c[1:] for c in SLOT_CASES],
    ids=[c[0] for c in SLOT_CASES],
)
def test_slot_count(active, candidates, owed, capacity, settings, expected, why):
    n, explanation = slot_count(active, candidates, owed, capacity, settings)
    assert n == expected
    assert why in explanation


def test_recommendation_ranks_owed_first_then_value_and_explains_each_line():
    snap = snapshot_of(ALLOCATION, ALLOCATION_TRACKERS)
    rec = recommend_seeding_slots(snap, POLICIES, SeedingSettings(upload_capacity=2.5 * MIB))
    assert (rec.active, rec.candidates, rec.owed) == (3, 5, 2)
    assert rec.recommended == 3  # ceil(2.5 MiB/s / 1 MiB/s)
    assert [c.name for c in rec.slots] == ["owes", "owes-stopped", "valuable"]
    assert [c.name for c in rec.release] == ["crowded"]
    assert rec.hashes == ("a" * 40, "b" * 40, "c" * 40)
    by_name = {c.name: c for c in rec.slots + rec.release}
    assert by_name["owes-stopped"].reason.startswith("owes 2d 23h more seeding (hit-and-run rule)")
    assert "now stoppedUP" in by_name["owes-stopped"].reason and not by_name["owes-stopped"].active_now
    assert "points/h (gazelle on g.example)" in by_name["valuable"].reason
    assert "4 leechers / 1 seeders" in by_name["valuable"].reason
    assert by_name["crowded"].reason.startswith("ranked #5 of 5, past the 3 recommended slots")
    assert by_name["owes"].owed_seconds == 62 * HOUR
    # worth more than e (active, 200 seeders): b (stopped, owes seed time) and d (queued, 3 leechers per
    # seeder)
    assert rec.misallocated == 2


def test_recommendation_is_deterministic_whatever_the_input_order():
    forward = snapshot_of(ALLOCATION, ALLOCATION_TRACKERS)
    backward = snapshot_of(dict(reversed(list(ALLOCATION.items()))), ALLOCATION_TRACKERS)
    settings = SeedingSettings(upload_capacity=4 * MIB)
    assert recommend_seeding_slots(forward, POLICIES, settings) == recommend_seeding_slots(
        backward, POLICIES, settings
    )


def test_ties_are_broken_by_hash():
    same = {h * 40: seed(seeding_time=100 * HOUR) for h in "3172"}
    rec = recommend_seeding_slots(snapshot_of(same, {"g.example": list(same)}), POLICIES, SeedingSettings())
    assert rec.hashes == tuple(h * 40 for h in "1237")


def test_capacity_falls_back_to_qbittorrents_global_upload_limit():
    snap = snapshot_of(ALLOCATION, ALLOCATION_TRACKERS, server={"up_rate_limit": 4 * MIB})
    rec = recommend_seeding_slots(snap, POLICIES, SeedingSettings())
    assert rec.capacity == 4 * MIB and rec.recommended == 4
    assert (
        recommend_seeding_slots(snap, POLICIES, SeedingSettings(upload_capacity=MIB)).recommended == 2
    )  # owed


@pytest.mark.parametrize(
    "torrents,misallocated",
    [
        ({"a": seed(state="stalledUP", num_complete=50), "b": seed(state="queuedUP", num_complete=1)}, 1),
        ({"a": seed(state="stalledUP", num_complete=1), "b": seed(state="queuedUP", num_complete=50)}, 0),
        ({"a": seed(state="stoppedUP", num_complete=1), "b": seed(state="queuedUP", num_complete=1)}, 0),
        ({"a": seed(state="stalledUP", num_complete=3), "b": seed(state="stoppedUP", num_complete=3)}, 0),
        ({"a": seed(state="stalledUP", num_complete=50), "b": seed(state="error", num_complete=1)}, 0),
    ],
    ids=[
        "queued-worth-more",
        "queued-worth-less",
        "no-active-seed",
        "equal-value",
        "errored-is-no-candidate",
    ],
)
def test_misallocated(torrents, misallocated):
    policies = parse_trackers({"default": {"min_seed_time": 0}})
    snap = snapshot_of(torrents, {"x.example": list(torrents)})
    assert recommend_seeding_slots(snap, policies, SeedingSettings()).misallocated == misallocated


def test_analyze_gives_both_results_at_once():
    snap = snapshot_of(ALLOCATION, ALLOCATION_TRACKERS)
    stats, rec = analyze(snap, POLICIES, SETTINGS)
    assert stats == tracker_stats(snap, POLICIES, SETTINGS)
    assert rec == recommend_seeding_slots(snap, POLICIES, SETTINGS)


# facts_of inlines state.is_complete / is_seeding, points.seeders and score_of for speed: it must agree.
_STATES = ["uploading", "stalledUP", "forcedUP", "stoppedUP", "queuedUP", "downloading", "error", "moving"]


@pytest.mark.parametrize("seed_", range(3))
def test_facts_of_agrees_with_the_predicates_it_inlines(seed_):
    import random

    from exporter.managers.facts import facts_of, score_of
    from exporter.managers.points import Unit3d
    from exporter.managers.policy import TrackerPolicies, TrackerPolicy
    from exporter.managers.state import STATUS_OF_STATE, is_complete, is_seeding
    from exporter.model import Torrent

    rng = random.Random(seed_)
    policies = TrackerPolicies(hosts={"u.example": TrackerPolicy(min_seed_time=3600, points=Unit3d())})
    settings = SeedingSettings(idle_window=600)
    now = 1_800_000_000.0
    for i in range(2000):
        t = Torrent(
            hash=f"{i:040x}",
            state=rng.choice(_STATES),
            size=rng.choice([0, 1, GIB, 30 * GIB]),
            amount_left=rng.choice([0, 0, 5]),
            upspeed=rng.choice([0, 0, 100]),
            completion_on=rng.choice([-1, 0, int(now) - 100, int(now) - 10_000]),
            last_activity=rng.choice([-1, 0, int(now) - 50, int(now) - 5000]),
            added_on=rng.choice([-1, 0, int(now) - 400 * 86400, int(now) - 200 * 86400, int(now) - 300]),
            seeding_time=rng.choice([-5, 0, 100, 7200]),
            num_complete=rng.choice([-1, 0, 1, 7]),
            num_incomplete=rng.choice([-1, 0, 3]),
            tracker=rng.choice(["", "u.example", "x.example"]),
            trackers=rng.choice([(), ("u.example",), ("u.example", "x.example")]),
        )
        f = facts_of(t, policies, settings, now)
        status = STATUS_OF_STATE[t.state]
        assert f.active == is_seeding(t)
        assert f.candidate == (is_complete(t) and status in ("seeding", "queued", "paused"))
        assert f.value[1] == pytest.approx(score_of(t, f.potential, settings))
        assert tuple(s.host for s in f.shares) == t.hosts
        expected = math.inf
        if f.active and t.upspeed <= 0:
            idle_at = max(t.last_activity, t.completion_on, t.added_on, 0) + settings.idle_window
            assert all(s.idle == (now >= idle_at) for s in f.shares)
            expected = math.inf if now >= idle_at else idle_at
        for h in t.hosts:
            expected = min(expected, policies.for_host(h).points.stable_until(t, now))
        assert f.expires == expected
