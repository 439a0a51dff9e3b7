"""Bonus-point models: how many points per hour one torrent earns on its tracker. Pure.

Each model is a frozen dataclass with two methods:

    per_hour(t, now, min_seed_time) -> float     points/hour the torrent earns *while it seeds*
    stable_until(t, now) -> float                until when that value holds for this same Torrent
                                                 (math.inf unless the model reads the clock)

and says whether it reads the clock at all (`reads_clock`; when False, stable_until is always math.inf).

Whether a torrent seeds at all is `state.is_seeding(t)`: complete and in a seeding state (uploading,
stalledUP, forcedUP). Stopped, queued, checking, errored and missing-files torrents earn nothing.
Callers multiply: `model.per_hour(t, ...) if is_seeding(t) else 0` (facts.py does). The seeding allocation
also asks what a queued or stopped seed *would* earn, which is `per_hour` alone.

Sources and the worked numbers are in docs/bonus-points.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Protocol

from ..model import Torrent

GIB = 1024**3
DAY = 86400.0


class PointsModel(Protocol):
    name: ClassVar[str]
    reads_clock: ClassVar[bool]  # False: stable_until is always math.inf (facts.py then skips it)

    def per_hour(self, t: Torrent, now: float, min_seed_time: float = 0.0) -> float: ...

    def stable_until(self, t: Torrent, now: float) -> float: ...


def seeders(t: Torrent) -> int:
    """Seeders in the swarm as the tracker last said (`num_complete`), at least 1: a seed counts itself."""
    return max(t.num_complete, 1)


def _gib(t: Torrent) -> float:
    return max(t.size, 0) / GIB


@dataclass(frozen=True)
class Gazelle:
    """OPSnet Gazelle's `bonus_accrual`: size_GiB * (base + growth * ln(1 + T/24h) / max(N,1)**exponent).

    T is the time seeded (`seeding_time`), N the swarm's seeders (`num_complete`).
    1 GiB: T=0 -> 0.0433/h; T=720h, N=1 -> 0.2837/h; T=720h, N=10 -> 0.1507/h.
    """

    name: ClassVar[str] = "gazelle"
    reads_clock: ClassVar[bool] = False
    base: float = 0.0433
    growth: float = 0.07
    seeder_exponent: float = 0.35
    time_scale: float = DAY  # seconds: the formula's "T/24" with T in hours

    def per_hour(self, t: Torrent, now: float, min_seed_time: float = 0.0) -> float:
        seeded = max(t.seeding_time, 0) / self.time_scale
        return _gib(t) * (self.base + self.growth * math.log1p(seeded) / seeders(t) ** self.seeder_exponent)

    def stable_until(self, t: Torrent, now: float) -> float:
        return math.inf


@dataclass(frozen=True)
class Linear:
    """per_torrent_hour + per_gib_hour * size_GiB, at most `max_per_torrent_hour` (None: no cap).

    With `after_min_seed_time`, a torrent earns only once it has seeded the tracker's min_seed_time.
    Fits flat schemes whose exact formula is not public (MyAnonamouse): calibrate the two rates
    against what the site reports (`reported_points_per_hour`).
    """

    name: ClassVar[str] = "linear"
    reads_clock: ClassVar[bool] = False
    per_torrent_hour: float = 0.0
    per_gib_hour: float = 0.0
    max_per_torrent_hour: float | None = None
    after_min_seed_time: bool = False

    def per_hour(self, t: Torrent, now: float, min_seed_time: float = 0.0) -> float:
        if self.after_min_seed_time and t.seeding_time < min_seed_time:
            return 0.0
        value = self.per_torrent_hour + self.per_gib_hour * _gib(t)
        if self.max_per_torrent_hour is not None:
            value = min(value, self.max_per_torrent_hour)
        return value

    def stable_until(self, t: Torrent, now: float) -> float:
        return math.inf


@dataclass(frozen=True)
class Range:
    """min <= value < below (either side may be open)."""

    min: float = -math.inf
    below: float = math.inf

    def __contains__(self, value: float) -> bool:
        return self.min <= value < self.below


# What a UNIT3D rule can test, from one Torrent at time `now`.
RULE_VARIABLES = {
    "seeders": lambda t, now: float(seeders(t)),
    "leechers": lambda t, now: float(max(t.num_incomplete, 0)),
    "size": lambda t, now: float(max(t.size, 0)),  # bytes
    "seed_time": lambda t, now: float(max(t.seeding_time, 0)),  # seconds
    "age": lambda t, now: max(now - t.added_on, 0.0) if t.added_on > 0 else 0.0,  # seconds since added
}


@dataclass(frozen=True)
class Rule:
    """`points` per hour for a torrent whose every listed variable is in its Range."""

    name: str
    points: float
    when: tuple[tuple[str, Range], ...] = ()

    def matches(self, t: Torrent, now: float) -> bool:
        return all(RULE_VARIABLES[var](t, now) in rng for var, rng in self.when)


def _rule(name: str, points: float, **when: Range) -> Rule:
    return Rule(name, points, tuple(when.items()))


MONTH = 30 * DAY  # UNIT3D's seed-time month: 2,592,000 s
# UNIT3D's AutoBonAllocation. "dying" there also needs times_completed > 2, which qBittorrent's
# sync API does not carry: here it is seeders == 1 alone (see docs/bonus-points.md). Torrent age is
# the site's upload date there; here the time since the torrent was added to qBittorrent.
UNIT3D_RULES: tuple[Rule, ...] = (
    _rule("dying", 2.0, seeders=Range(below=2)),
    _rule("legendary_torrent", 1.5, age=Range(min=365 * DAY)),
    _rule("old_torrent", 1.0, age=Range(min=183 * DAY, below=365 * DAY)),
    _rule("huge_torrent", 0.75, size=Range(min=100 * GIB)),
    _rule("large_torrent", 0.5, size=Range(min=25 * GIB, below=100 * GIB)),
    _rule("regular_torrent", 0.25, size=Range(min=1 * GIB, below=25 * GIB)),
    _rule("participant_seeder", 0.25, seed_time=Range(min=1 * MONTH, below=2 * MONTH)),
    _rule("teamplayer_seeder", 0.5, seed_time=Range(min=2 * MONTH, below=3 * MONTH)),
    _rule("committed_seeder", 0.75, seed_time=Range(min=3 * MONTH, below=6 * MONTH)),
    _rule("mvp_seeder", 1.0, seed_time=Range(min=6 * MONTH, below=12 * MONTH)),
    _rule("legendary_seeder", 2.0, seed_time=Range(min=12 * MONTH)),
)


@dataclass(frozen=True)
class Unit3d:
    """UNIT3D: the sum of the `points` of every rule the torrent matches (an additive table)."""

    name: ClassVar[str] = "unit3d"
    reads_clock: ClassVar[bool] = True  # the age rules
    rules: tuple[Rule, ...] = UNIT3D_RULES

    def per_hour(self, t: Torrent, now: float, min_seed_time: float = 0.0) -> float:
        return sum(rule.points for rule in self.rules if rule.matches(t, now))

    def stable_until(self, t: Torrent, now: float) -> float:
        """The next moment an `age` bound is crossed; every other variable changes only with the Torrent."""
        if t.added_on <= 0:
            return math.inf
        age = now - t.added_on
        bounds = [
            b
            for r in self.rules
            for var, rng in r.when
            if var == "age"
            for b in (rng.min, rng.below)
            if math.isfinite(b) and b > age
        ]
        return t.added_on + min(bounds) if bounds else math.inf


MODELS: dict[str, type] = {m.name: m for m in (Gazelle, Linear, Unit3d)}
