"""The control manager's pure planners: stalled-download ladder and ratio emergency, table-driven."""

from __future__ import annotations

from functools import partial
from types import MappingProxyType

import pytest

from exporter.managers.control import (
    GLOBAL,
    EmergencyPolicy,
    Ladder,
    Progress,
    SlotsPolicy,
    StallPolicy,
    plan_emergency,
    plan_slots,
    plan_stalls,
    scope_ratios,
)
from exporter.managers.policy import TrackerPolicies, TrackerPolicy
from exporter.model import ServerState
from tests.kit.builders import downloading, seeding, snapshot

NOW = 1_000_000.0
POLICY = StallPolicy(stall_after=900, grace=600, cooldown=600)


# The kit's builders with this file's defaults: a snapshot taken at NOW; a download added 10 000 s ago on
# t.example; a seed on priv.example that downloaded 1000 bytes.
snap = partial(snapshot, taken_at=NOW)
dl = partial(downloading, tracker="t.example", added_on=int(NOW - 10_000))
seed = partial(seeding, tracker="priv.example", downloaded=1000)


OLD = Progress(0, NOW - 1000)  # no progress for 1000 s > stall_after


@pytest.mark.parametrize(
    "torrent, progress, ladder, expected",
    [
        (dl("a"), OLD, None, "reannounce"),
        (dl("a"), OLD, Ladder(1, NOW - 601), "restart"),
        (dl("a"), OLD, Ladder(2, NOW - 601), "tag_stalled"),
        (dl("a"), OLD, Ladder(1, NOW - 100), None),  # cooldown not over
        (dl("a"), OLD, Ladder(3, NOW - 9999), None),  # gave up already
        (dl("a"), Progress(0, NOW - 100), None, None),  # not stalled long enough
        (dl("a", added_on=int(NOW - 60)), OLD, None, None),  # inside the grace period
        (dl("a", state="forcedDL"), OLD, None, "reannounce"),  # force start hides a stall
        (dl("a", state="metaDL", size=0, amount_left=0), OLD, None, "reannounce"),
        (dl("a", state="downloading", dlspeed=0), OLD, None, "reannounce"),
        (dl("a", state="stoppedDL"), OLD, None, None),  # stopped by someone: not ours to restart
        (dl("a", state="queuedDL"), OLD, None, None),
        (dl("a", state="stalledUP", completed=1000), OLD, None, None),  # a seed
        (dl("a", category="manual"), OLD, None, None),  # excluded category
        (dl("a", tags=("keep",)), OLD, None, None),  # excluded tag
    ],
    ids=[
        "first-step",
        "second-step",
        "give-up",
        "cooldown",
        "given-up",
        "recent-progress",
        "grace",
        "forcedDL",
        "metaDL",
        "downloading-0Bps",
        "stopped",
        "queued",
        "seed",
        "excluded-category",
        "excluded-tag",
    ],
)
def test_stall_ladder_step(torrent, progress, ladder, expected):
    policy = StallPolicy(
        stall_after=900,
        grace=600,
        cooldown=600,
        exclude_tags=frozenset({"keep"}),
        exclude_categories=frozenset({"manual"}),
    )
    plan = plan_stalls(snap(torrent), NOW, policy, {"a": progress}, {"a": ladder} if ladder else {})
    assert [a.action for a in plan.actions] == ([expected] if expected else [])
    if expected:
        assert plan.ladders["a"] == Ladder((ladder.step if ladder else 0) + 1, NOW)
        assert plan.actions[0].hash == "a" and plan.actions[0].name == "name-a"
        assert "no progress for 16m" in plan.actions[0].reason


def test_recheck_step_is_optional():
    with_recheck = StallPolicy(recheck=True)
    assert with_recheck.steps == ("reannounce", "restart", "recheck", "give_up")
    assert POLICY.steps == ("reannounce", "restart", "give_up")
    plan = plan_stalls(snap(dl("a")), NOW, with_recheck, {"a": OLD}, {"a": Ladder(2, NOW - 601)})
    assert [a.action for a in plan.actions] == ["recheck"]


def test_progress_marks_start_at_first_sight_and_move_with_completed_bytes():
    first = plan_stalls(snap(dl("a", completed=10)), NOW, POLICY, {}, {})
    assert first.progress == {"a": Progress(10, NOW)} and first.actions == () and first.stalled == 0
    same = plan_stalls(snap(dl("a", completed=10)), NOW + 1000, POLICY, first.progress, {})
    assert same.progress["a"] == Progress(10, NOW) and same.stalled == 1
    moved = plan_stalls(snap(dl("a", completed=20)), NOW + 1000, POLICY, first.progress, {})
    assert moved.progress["a"] == Progress(20, NOW + 1000) and moved.stalled == 0


@pytest.mark.parametrize(
    "torrent, untag",
    [
        (dl("a", completed=5, tags=("stalled",)), True),  # progress after giving up: untag
        (dl("a", state="stalledUP", completed=1000, tags=("stalled",)), True),  # completed
        (dl("a", completed=5), False),  # tag already removed by hand
        (None, False),  # torrent gone
    ],
    ids=["progress", "completed", "untagged-by-hand", "gone"],
)
def test_ladder_is_forgotten_on_progress_completion_or_removal(torrent, untag):
    torrents = (torrent,) if torrent else ()
    plan = plan_stalls(snap(*torrents), NOW, POLICY, {"a": OLD}, {"a": Ladder(3, NOW - 5000)})
    assert plan.ladders == {"a": None}
    assert [a.action for a in plan.actions] == (["untag_stalled"] if untag else [])


def test_bounds_per_run_and_per_tracker_oldest_stall_first():
    torrents = [dl(f"x{i}", tracker="x.example") for i in range(5)] + [
        dl(f"y{i}", tracker="y.example") for i in range(5)
    ]
    progress = {
        t.hash: Progress(0, NOW - 1000 - i) for i, t in enumerate(torrents)
    }  # later index: older stall
    policy = StallPolicy(max_actions_per_run=4, max_actions_per_tracker=2)
    plan = plan_stalls(snap(*torrents), NOW, policy, progress, {})
    assert [a.hash for a in plan.actions] == ["y4", "y3", "x4", "x3"]
    assert plan.stalled == 10
    assert set(plan.ladders) == {"y4", "y3", "x4", "x3"}


def test_skip_leaves_torrents_to_the_ratio_emergency():
    plan = plan_stalls(snap(dl("a")), NOW, POLICY, {"a": OLD}, {}, skip={"a"})
    assert plan.actions == () and plan.stalled == 1


# -- ratio emergency -------------------------------------------------------------------------------

POLICIES = TrackerPolicies(
    default=TrackerPolicy(min_ratio=1.0),
    hosts=MappingProxyType({"priv.example": TrackerPolicy(min_ratio=0.5)}),
)
EP = EmergencyPolicy(margin=0.1, hysteresis=0.2, min_downloaded=100)


@pytest.mark.parametrize(
    "uploaded, active, expect_active",
    [
        (500, False, True),  # 0.50 < 0.5 + 0.1
        (600, False, False),  # 0.60 is not below 0.60
        (700, True, True),  # 0.70 < 0.6 + 0.2: hysteresis holds it
        (800, True, False),  # 0.80 >= 0.80: over
    ],
    ids=["enter", "at-threshold", "hysteresis-holds", "lift"],
)
def test_emergency_thresholds_with_margin_and_hysteresis(uploaded, active, expect_active):
    s = snap(seed("s", uploaded=uploaded), dl("d", tracker="priv.example"))
    state = {"priv.example": NOW - 50} if active else {}
    stopped = {"d": "priv.example"} if active else {}
    plan = plan_emergency(s, NOW, POLICIES, EP, state, stopped)
    assert ("priv.example" in plan.active) is expect_active
    if expect_active and not active:
        assert plan.entered == ("priv.example",) and [a.hash for a in plan.stops] == ["d"]
        assert (
            plan.stops[0].scope == "priv.example"
            and "ratio 0.500 of priv.example below 0.600" in plan.stops[0].reason
        )
    if expect_active and active:
        assert plan.active["priv.example"] == NOW - 50 and plan.stops == () and plan.resumes == ()
    if not expect_active and active:
        assert plan.lifted == ("priv.example",) and [a.action for a in plan.resumes] == ["emergency_resume"]


def test_emergency_stops_only_downloads_of_that_tracker_and_never_seeds():
    s = snap(
        seed("s", uploaded=100),
        dl("d1"),
        dl("d2", state="downloading", tracker="priv.example"),
        dl("q", state="queuedDL", tracker="priv.example"),
        dl("p", state="stoppedDL", tracker="priv.example"),
        dl("other", tracker="public.example"),
        seed("s2", tracker="public.example", uploaded=5000),
    )
    plan = plan_emergency(s, NOW, POLICIES, EP, {}, {})
    assert plan.active == {"priv.example": NOW}
    assert [a.hash for a in plan.stops] == ["d2", "q"]  # d1 is on t.example; p is stopped already


def test_emergency_resumes_exactly_what_it_stopped_and_forgets_removed_torrents():
    s = snap(
        seed("s", uploaded=900),
        dl("d1", tracker="priv.example", state="stoppedDL"),
        dl("mine", tracker="priv.example", state="stoppedDL"),
    )
    plan = plan_emergency(
        s, NOW, POLICIES, EP, {"priv.example": NOW - 100}, {"mine": "priv.example", "gone": "priv.example"}
    )
    assert plan.lifted == ("priv.example",)
    assert [a.hash for a in plan.resumes] == ["mine"] and plan.forget == ("gone",)
    assert plan.stops == ()


def test_a_torrent_stays_stopped_while_another_scope_still_holds_it():
    server = ServerState(alltime_dl=1000, alltime_ul=100, global_ratio=0.1)
    s = snap(seed("s", uploaded=900), dl("mine", tracker="priv.example", state="stoppedDL"), server=server)
    policy = EmergencyPolicy(margin=0.1, hysteresis=0.2, min_downloaded=100, include_global=True)
    plan = plan_emergency(
        s, NOW, POLICIES, policy, {"priv.example": NOW - 100, GLOBAL: NOW - 100}, {"mine": "priv.example"}
    )
    assert plan.lifted == ("priv.example",) and GLOBAL in plan.active and plan.resumes == ()


def test_min_downloaded_and_watched_trackers_limit_the_scopes():
    s = snap(seed("s", downloaded=50), dl("d", tracker="priv.example"))
    assert plan_emergency(s, NOW, POLICIES, EP, {}, {}).active == {}  # 50 bytes: too early to judge
    s = snap(seed("s"), seed("p", tracker="public.example"))
    only_priv = EmergencyPolicy(trackers=frozenset({"priv.example"}))
    assert set(scope_ratios(s, POLICIES, only_priv)) == {"priv.example"}
    assert set(scope_ratios(s, POLICIES, EmergencyPolicy())) == {"priv.example", "public.example"}


def test_stops_and_resumes_are_bounded_per_run():
    s = snap(seed("s"), *[dl(f"d{i}", tracker="priv.example") for i in range(10)])
    plan = plan_emergency(s, NOW, POLICIES, EmergencyPolicy(min_downloaded=0, max_actions_per_run=3), {}, {})
    assert [a.hash for a in plan.stops] == ["d0", "d1", "d2"]


# -- seeding slots ---------------------------------------------------------------------------------

SLOTS = SlotsPolicy(minimum=2, maximum=10, cooldown=600)


@pytest.mark.parametrize(
    "recommended, prefs, last, expected",
    [
        (5, {"max_active_uploads": 3, "max_active_torrents": -1}, None, {"max_active_uploads": 5}),
        (5, {"max_active_uploads": 5}, None, None),  # already there
        (1, {"max_active_uploads": 3}, None, {"max_active_uploads": 2}),  # raised to the lower bound
        (50, {"max_active_uploads": 3}, None, {"max_active_uploads": 10}),  # capped at the upper bound
        (5, {"max_active_uploads": 3}, NOW - 100, None),  # cooldown
        (5, {"max_active_uploads": 3}, NOW - 601, {"max_active_uploads": 5}),
        (
            8,
            {"max_active_uploads": 3, "max_active_downloads": 3, "max_active_torrents": 5},
            None,
            {"max_active_uploads": 8, "max_active_torrents": 11},
        ),  # total would cap the seeds
    ],
    ids=["raise", "unchanged", "lower-bound", "upper-bound", "cooldown", "after-cooldown", "total-follows"],
)
def test_seeding_slots_plan(recommended, prefs, last, expected):
    plan = plan_slots(recommended, prefs, NOW, SLOTS, last)
    if expected is None:
        assert plan is None
    else:
        changes, action = plan
        assert changes == expected and action.action == "seeding_slots"
        assert f"-> {expected['max_active_uploads']} (recommended {recommended}" in action.reason
