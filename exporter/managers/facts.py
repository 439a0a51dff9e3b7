"""What one torrent contributes to the ratio, points and seeding-slot numbers. Pure.

`facts_of(t, policies, settings, now)` -> TorrentFacts: per tracker host, the points/hour it earns, whether
it seeds, uploads, is idle or at hit-and-run risk; its rank value for the seeding allocation; and until
when all that holds for this same Torrent object (`expires`: idle seeds and UNIT3D's age rules depend on
the clock). ratio.py sums facts from scratch; ratio_index.py sums them incrementally between scrapes.

Definitions (docs/seeding-allocation.md has the reasoning):
- seeding: state.is_seeding (complete, in a seeding state); only these earn points.
- uploading: seeding with upspeed > 0.
- idle: seeding, not uploading, and no activity for `idle_window` (counted from the latest of
  last_activity, completion_on and added_on).
- hit-and-run risk: completed once, seeding_time < the tracker's min_seed_time, and not seeding now
  because it is stopped, queued or errored (missing files included).
- candidate: a complete torrent that could hold a seeding slot (seeding, queued or stopped);
  owed: a candidate with seeding_time < min_seed_time (the strictest of its trackers).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ..model import Torrent
from .points import seeders
from .policy import SeedingSettings, TrackerPolicies
from .state import NOT_SETTLED, STATUS_OF_STATE

# Statuses in which a completed torrent accrues no seed time: the hit-and-run risk.
RISK_STATUSES = frozenset({"paused", "queued", "errored"})
# Statuses of a complete torrent that could take a seeding slot.
CANDIDATE_STATUSES = frozenset({"seeding", "queued", "paused"})


def micro(points: float) -> int:
    """Points as whole millionths, so that sums kept by adding and subtracting stay exact."""
    return round(points * 1_000_000)


class HostShare(NamedTuple):
    """What one torrent contributes to one tracker host's numbers."""

    host: str
    points: float  # points/hour earned now (0 unless seeding)
    seeding: bool
    uploading: bool
    idle: bool
    hnr_risk: bool


class TorrentFacts(NamedTuple):
    shares: tuple[HostShare, ...]
    candidate: bool  # a complete seed that could hold a seeding slot (seeding, queued or stopped)
    active: bool  # seeding now
    owed: float  # seconds of seeding still owed to its strictest tracker (0: none); candidates only
    potential: float  # points/hour it earns, or would earn, while seeding (sum over its trackers)
    value: tuple[int, float]  # rank key for the allocation: (owes seeding time, score)
    expires: float  # these facts hold for this Torrent object until this time


def score_of(t: Torrent, potential: float, settings: SeedingSettings) -> float:
    """Points/hour plus demand (leechers per seeder) and scarcity (1 / seeders), weighted."""
    n = seeders(t)
    return potential + settings.demand_weight * max(t.num_incomplete, 0) / n + settings.scarcity_weight / n


# Builds the NamedTuples below without their Python-level __new__ (a first index: 50,000 of each).
_new = tuple.__new__
_INF = math.inf


def facts_of(t: Torrent, policies: TrackerPolicies, settings: SeedingSettings, now: float) -> TorrentFacts:
    # Written for speed (the first index build calls it for every torrent): the predicates of state.py
    # and score_of inlined, no builtin calls on the common paths. test_ratio_index checks it against them.
    status = STATUS_OF_STATE.get(t.state, "unknown")
    complete = t.amount_left == 0 and t.size > 0 and status not in NOT_SETTLED  # state.is_complete
    seeding = complete and status == "seeding"  # state.is_seeding
    upspeed = t.upspeed
    uploading = seeding and upspeed > 0
    candidate = complete and status in CANDIDATE_STATUSES
    at_risk = (complete or t.completion_on > 0) and status in RISK_STATUSES
    expires = _INF
    idle = False
    if seeding and not uploading:
        last = t.last_activity
        if t.completion_on > last:
            last = t.completion_on
        if t.added_on > last:
            last = t.added_on
        idle_at = (last if last > 0 else 0) + settings.idle_window
        idle = now >= idle_at
        if not idle:
            expires = idle_at
    seeded = t.seeding_time if t.seeding_time > 0 else 0
    shares = []
    owed = potential = 0.0
    for host in t.trackers or ((t.tracker,) if t.tracker else ()):  # Torrent.hosts
        policy = policies.for_host(host)
        points = policy.points
        rate = points.per_hour(t, now, policy.min_seed_time)
        if points.reads_clock:
            until = points.stable_until(t, now)
            if until < expires:
                expires = until
        remaining = policy.min_seed_time - seeded
        potential += rate
        if candidate and remaining > owed:
            owed = remaining
        hnr_risk = at_risk and remaining > 0
        shares.append(_new(HostShare, (host, rate if seeding else 0.0, seeding, uploading, idle, hnr_risk)))
    n = t.num_complete if t.num_complete > 1 else 1  # points.seeders
    leechers = t.num_incomplete if t.num_incomplete > 0 else 0
    score = potential + settings.demand_weight * leechers / n + settings.scarcity_weight / n  # score_of
    value = (1 if owed > 0 else 0, score)
    return _new(TorrentFacts, (tuple(shares), candidate, seeding, owed, potential, value, expires))
