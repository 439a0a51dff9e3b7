"""Bonus-point models against hand-computed values (docs/bonus-points.md shows the same numbers)."""

from __future__ import annotations

import math
from functools import partial

import pytest

from exporter.managers.points import DAY, GIB, MONTH, Gazelle, Linear, Range, Rule, Unit3d
from exporter.managers.state import is_seeding
from tests.kit.builders import seeding, torrent

HOUR = 3600.0
NOW = 1_700_000_000.0


# The kit's builders with this file's defaults: a complete 1 GiB seed alone in its swarm, added an hour
# before NOW; the same from qBittorrent's JSON and nothing else.
seed = partial(seeding, "a", size=GIB, num_complete=1, num_incomplete=0, added_on=NOW - HOUR)
from_json = partial(torrent, "a", size=GIB, progress=1, amount_left=0)


# ln(31) = 3.4339872, ln(2) = 0.6931472, 10**0.35 = 2.2387211
GAZELLE_CASES = [
    ("1GiB-T0-N1", Gazelle(), seed(), 0.0433),
    ("1GiB-T720h-N1", Gazelle(), seed(seeding_time=720 * HOUR), 0.0433 + 0.07 * 3.4339872),  # 0.2836791
    (
        "1GiB-T720h-N10",
        Gazelle(),
        seed(seeding_time=720 * HOUR, num_complete=10),
        0.0433 + 0.07 * 3.4339872 / 2.2387211,
    ),  # 0.1506733
    ("N0-counts-as-1", Gazelle(), seed(seeding_time=720 * HOUR, num_complete=0), 0.2836791),
    ("N-unknown-negative", Gazelle(), seed(seeding_time=720 * HOUR, num_complete=-1), 0.2836791),
    ("negative-seed-time-is-0", Gazelle(), seed(seeding_time=-500), 0.0433),
    ("10GiB-T24h", Gazelle(), seed(size=10 * GIB, seeding_time=24 * HOUR), 10 * (0.0433 + 0.07 * 0.6931472)),
    ("half-GiB", Gazelle(), seed(size=GIB // 2), 0.02165),
    ("size-0", Gazelle(), seed(size=0, seeding_time=720 * HOUR), 0.0),
    ("huge-size", Gazelle(), seed(size=2**60, seeding_time=720 * HOUR), 2**30 * 0.2836791),
    ("huge-seed-time", Gazelle(), seed(seeding_time=10**12), 0.0433 + 0.07 * math.log1p(10**12 / DAY)),
    ("constants-overridden", Gazelle(base=0.1, growth=0.0), seed(seeding_time=720 * HOUR), 0.1),
    (
        "time-scale-12h",
        Gazelle(time_scale=12 * HOUR),
        seed(seeding_time=12 * HOUR),
        0.0433 + 0.07 * 0.6931472,
    ),
    ("exponent-0", Gazelle(seeder_exponent=0.0), seed(seeding_time=720 * HOUR, num_complete=10), 0.2836791),
]


@pytest.mark.parametrize(
    "model,t,expected", [c[1:] for c in GAZELLE_CASES], ids=[c[0] for c in GAZELLE_CASES]
)
def test_gazelle(model, t, expected):
    got = model.per_hour(t, NOW)
    assert got == pytest.approx(expected, rel=1e-6)
    assert math.isfinite(got)
    assert model.stable_until(t, NOW) == math.inf


LINEAR_CASES = [
    ("zero", Linear(), seed(size=50 * GIB), 0.0, 0.0),
    ("flat", Linear(per_torrent_hour=1.0), seed(size=50 * GIB), 0.0, 1.0),
    ("per-gib", Linear(per_gib_hour=0.5), seed(size=4 * GIB), 0.0, 2.0),
    ("both", Linear(per_torrent_hour=1.0, per_gib_hour=0.5), seed(size=4 * GIB), 0.0, 3.0),
    (
        "capped",
        Linear(per_torrent_hour=1.0, per_gib_hour=0.5, max_per_torrent_hour=5.0),
        seed(size=10 * GIB),
        0.0,
        5.0,
    ),
    ("under-cap", Linear(per_torrent_hour=1.0, max_per_torrent_hour=5.0), seed(), 0.0, 1.0),
    (
        "before-min-seed-time",
        Linear(per_torrent_hour=1.0, after_min_seed_time=True),
        seed(seeding_time=71 * HOUR),
        72 * HOUR,
        0.0,
    ),
    (
        "at-min-seed-time",
        Linear(per_torrent_hour=1.0, after_min_seed_time=True),
        seed(seeding_time=72 * HOUR),
        72 * HOUR,
        1.0,
    ),
    ("min-seed-time-ignored-by-default", Linear(per_torrent_hour=1.0), seed(seeding_time=0), 72 * HOUR, 1.0),
    ("huge-size", Linear(per_gib_hour=1.0), seed(size=2**62), 0.0, 2.0**32),
]


@pytest.mark.parametrize(
    "model,t,min_seed_time,expected", [c[1:] for c in LINEAR_CASES], ids=[c[0] for c in LINEAR_CASES]
)
def test_linear(model, t, min_seed_time, expected):
    assert model.per_hour(t, NOW, min_seed_time) == pytest.approx(expected)
    assert model.stable_until(t, NOW) == math.inf


UNIT3D_CASES = [
    # (id, torrent, points/hour with UNIT3D's default table, the rules that matched)
    ("small-fresh-popular", seed(size=GIB // 2, num_complete=5), 0.0, []),
    ("1GiB-boundary-regular", seed(num_complete=5), 0.25, ["regular_torrent"]),
    ("just-under-1GiB", seed(size=GIB - 1, num_complete=5), 0.0, []),
    ("25GiB-boundary-large", seed(size=25 * GIB, num_complete=5), 0.5, ["large_torrent"]),
    ("100GiB-boundary-huge", seed(size=100 * GIB, num_complete=5), 0.75, ["huge_torrent"]),
    ("dying-N1", seed(size=GIB // 2, num_complete=1), 2.0, ["dying"]),
    ("dying-N0-counts-as-1", seed(size=GIB // 2, num_complete=0), 2.0, ["dying"]),
    ("N2-not-dying", seed(size=GIB // 2, num_complete=2), 0.0, []),
    ("age-183d-old", seed(size=GIB // 2, num_complete=5, added_on=NOW - 183 * DAY), 1.0, ["old_torrent"]),
    ("age-182d", seed(size=GIB // 2, num_complete=5, added_on=NOW - 182 * DAY), 0.0, []),
    (
        "age-365d-legendary",
        seed(size=GIB // 2, num_complete=5, added_on=NOW - 365 * DAY),
        1.5,
        ["legendary_torrent"],
    ),
    ("age-unknown", seed(size=GIB // 2, num_complete=5, added_on=0), 0.0, []),
    ("seed-29d", seed(size=GIB // 2, num_complete=5, seeding_time=29 * DAY), 0.0, []),
    (
        "seed-30d-participant",
        seed(size=GIB // 2, num_complete=5, seeding_time=MONTH),
        0.25,
        ["participant_seeder"],
    ),
    (
        "seed-60d-teamplayer",
        seed(size=GIB // 2, num_complete=5, seeding_time=2 * MONTH),
        0.5,
        ["teamplayer_seeder"],
    ),
    (
        "seed-90d-committed",
        seed(size=GIB // 2, num_complete=5, seeding_time=3 * MONTH),
        0.75,
        ["committed_seeder"],
    ),
    ("seed-180d-mvp", seed(size=GIB // 2, num_complete=5, seeding_time=6 * MONTH), 1.0, ["mvp_seeder"]),
    (
        "seed-360d-legendary",
        seed(size=GIB // 2, num_complete=5, seeding_time=12 * MONTH),
        2.0,
        ["legendary_seeder"],
    ),
    (
        "everything-adds-up",
        seed(size=200 * GIB, num_complete=1, seeding_time=400 * DAY, added_on=NOW - 400 * DAY),
        2.0 + 1.5 + 0.75 + 2.0,
        ["dying", "legendary_torrent", "huge_torrent", "legendary_seeder"],
    ),
    ("negative-seed-time", seed(size=GIB // 2, num_complete=5, seeding_time=-1), 0.0, []),
]


@pytest.mark.parametrize(
    "t,expected,matched", [c[1:] for c in UNIT3D_CASES], ids=[c[0] for c in UNIT3D_CASES]
)
def test_unit3d_default_table(t, expected, matched):
    model = Unit3d()
    assert model.per_hour(t, NOW) == pytest.approx(expected)
    assert [rule.name for rule in model.rules if rule.matches(t, NOW)] == matched


def test_unit3d_user_table_replaces_the_default():
    model = Unit3d(
        rules=(
            Rule("wanted", 3.0, (("leechers", Range(min=1)),)),
            Rule("small", 0.5, (("size", Range(below=GIB)),)),
        )
    )
    assert model.per_hour(seed(num_incomplete=2), NOW) == 3.0
    assert model.per_hour(seed(size=GIB // 2, num_incomplete=2), NOW) == 3.5
    assert model.per_hour(seed(num_incomplete=0, num_complete=1), NOW) == 0.0  # "dying" is not in this table


@pytest.mark.parametrize(
    "added_on,expected",
    [
        (NOW - 100 * DAY, NOW - 100 * DAY + 183 * DAY),
        (NOW - 200 * DAY, NOW - 200 * DAY + 365 * DAY),
        (NOW - 400 * DAY, math.inf),
        (0, math.inf),
    ],
    ids=["next-is-old", "next-is-legendary", "past-every-bound", "age-unknown"],
)
def test_unit3d_points_change_with_age_only_at_the_next_bound(added_on, expected):
    t = seed(added_on=added_on)
    assert Unit3d().stable_until(t, NOW) == expected
    if math.isfinite(expected):  # just before and at the bound, the value differs
        assert Unit3d().per_hour(t, expected - 1) != Unit3d().per_hour(t, expected)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ({"state": "uploading"}, True),
        ({"state": "stalledUP"}, True),
        ({"state": "forcedUP"}, True),
        ({"state": "stoppedUP"}, False),
        ({"state": "pausedUP"}, False),  # 4.x name, normalised to stoppedUP
        ({"state": "queuedUP"}, False),
        ({"state": "checkingUP"}, False),
        ({"state": "error"}, False),
        ({"state": "missingFiles"}, False),
        ({"state": "moving"}, False),
        ({"state": "someFutureState"}, False),
        ({"state": "downloading", "progress": 0.5, "amount_left": 10}, False),
        ({"state": "stalledUP", "progress": 0.5, "amount_left": 10}, False),  # incomplete cannot earn
        ({"state": "uploading", "size": 0}, False),
    ],
    ids=[
        "uploading",
        "stalledUP",
        "forcedUP",
        "stoppedUP",
        "pausedUP-4.x",
        "queuedUP",
        "checkingUP",
        "error",
        "missingFiles",
        "moving",
        "unknown-state",
        "downloading",
        "incomplete-seed-state",
        "empty",
    ],
)
def test_only_complete_active_seeds_earn(raw, expected):
    assert is_seeding(from_json(**raw)) is expected
