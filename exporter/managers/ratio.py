"""RatioMonitoringManager: per-tracker ratio, bonus points, hit-and-run risk, idle seeds, and the
seeding-slot recommendation. Pure: functions of (Snapshot, now, policies, seeding settings); no I/O, no
clock, no logging. Per-torrent definitions are in facts.py; docs/seeding-allocation.md explains the
allocation.

    tracker_stats(snapshot, policies, settings) -> (TrackerStats, ...)        one per tracker host
    recommend_seeding_slots(snapshot, policies, settings) -> SeedingRecommendation
    analyze(snapshot, policies, settings) -> (stats, recommendation)          both, facts computed once

These are the seed plan's get_efficiency_metrics / calculate_point_generation (TrackerStats: ratio,
points, upload efficiency, uploading fraction) and optimize_seeding_allocation /
analyze_seeding_strategy (the recommendation, with a reason per torrent).

The scrape uses RatioIndex (ratio_index.py), which keeps the same sums up to date in O(changes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..durations import duration_text
from ..model import Snapshot, Torrent
from .facts import TorrentFacts, facts_of, micro
from .points import seeders
from .policy import SeedingSettings, TrackerPolicies


@dataclass(frozen=True)
class TrackerStats:
    """One tracker host's numbers, as the collector exports them."""

    tracker: str
    model: str
    points_micro: int  # estimated points/hour, in millionths
    reported_points_per_hour: float | None
    min_ratio: float
    uploaded: int
    downloaded: int
    size: int
    seeding: int
    uploading: int
    idle: int
    hnr_risk: int

    @property
    def points_per_hour(self) -> float:
        return self.points_micro / 1_000_000

    @property
    def ratio(self) -> float | None:
        """uploaded / downloaded; +inf when only uploaded, None when neither (qBittorrent's "-")."""
        if self.downloaded > 0:
            return self.uploaded / self.downloaded
        return math.inf if self.uploaded > 0 else None

    @property
    def estimate_error(self) -> float | None:
        """(estimate - reported) / reported, when the site's figure is configured."""
        reported = self.reported_points_per_hour
        return None if not reported else (self.points_per_hour - reported) / reported

    @property
    def upload_efficiency(self) -> float | None:
        """Bytes uploaded per byte stored (the tracker's torrents present now)."""
        return self.uploaded / self.size if self.size > 0 else None

    @property
    def uploading_fraction(self) -> float | None:
        """Share of the tracker's seeds uploading right now; None without seeds."""
        return self.uploading / self.seeding if self.seeding else None


# host -> [seeding, uploading, idle, hnr_risk, points_micro]
HostSums = Mapping[str, list[int]]


def add_shares(sums: dict[str, list[int]], facts: TorrentFacts, sign: int) -> None:
    for host, points, seeding, uploading, idle, hnr_risk in facts.shares:
        acc = sums.get(host)
        if acc is None:
            acc = sums[host] = [0, 0, 0, 0, 0]
        if seeding:
            acc[0] += sign
            if uploading:
                acc[1] += sign
            if idle:
                acc[2] += sign
        if hnr_risk:
            acc[3] += sign
        if points:
            acc[4] += sign * micro(points)


def stats_from(snapshot: Snapshot, sums: HostSums, policies: TrackerPolicies) -> tuple[TrackerStats, ...]:
    """TrackerStats for every host in the snapshot (hosts with torrents), sorted by host."""
    out = []
    for host, group in sorted(snapshot.by_tracker.items()):
        policy = policies.for_host(host)
        acc = sums.get(host) or (0, 0, 0, 0, 0)
        out.append(
            TrackerStats(
                tracker=host,
                model=policy.points.name,
                points_micro=acc[4],
                reported_points_per_hour=policy.reported_points_per_hour,
                min_ratio=policy.min_ratio,
                uploaded=group.uploaded,
                downloaded=group.downloaded,
                size=group.size,
                seeding=acc[0],
                uploading=acc[1],
                idle=acc[2],
                hnr_risk=acc[3],
            )
        )
    return tuple(out)


def tracker_stats(
    snapshot: Snapshot, policies: TrackerPolicies, settings: SeedingSettings, now: float | None = None
) -> tuple[TrackerStats, ...]:
    """Per-tracker numbers from scratch (now defaults to when the snapshot was taken)."""
    now = snapshot.taken_at if now is None else now
    sums: dict[str, list[int]] = {}
    for t in snapshot.torrents.values():
        add_shares(sums, facts_of(t, policies, settings, now), +1)
    return stats_from(snapshot, sums, policies)


def analyze(
    snapshot: Snapshot, policies: TrackerPolicies, settings: SeedingSettings, now: float | None = None
) -> tuple[tuple[TrackerStats, ...], SeedingRecommendation]:
    """tracker_stats and recommend_seeding_slots together, computing each torrent's facts once."""
    now = snapshot.taken_at if now is None else now
    sums: dict[str, list[int]] = {}
    candidates = []
    for t in snapshot.torrents.values():
        f = facts_of(t, policies, settings, now)
        if f.shares:
            add_shares(sums, f, +1)
        if f.candidate:
            candidates.append((t, f))
    return stats_from(snapshot, sums, policies), _recommend(snapshot, candidates, policies, settings)


# -- seeding allocation (optimize_seeding_allocation / analyze_seeding_strategy) -------------------


@dataclass(frozen=True)
class SlotChoice:
    """One complete seed in the recommendation, with the reason for its place."""

    hash: str
    name: str
    tracker: str
    state: str
    active_now: bool
    points_per_hour: float  # what it earns, or would earn, while seeding
    owed_seconds: float
    value: float  # score: points/hour + demand + scarcity (owing seeds rank above all others)
    reason: str


@dataclass(frozen=True)
class SeedingRecommendation:
    active: int  # complete torrents seeding now
    recommended: int  # how many should be active (qBittorrent's max_active_uploads)
    candidates: int  # complete seeds that could be active: seeding, queued or stopped
    owed: int  # candidates still owing hit-and-run seed time
    misallocated: int  # queued/stopped seeds worth more than the lowest-value active seed
    capacity: float  # upload bytes/s the count is based on (0: unknown)
    explanation: str  # how `recommended` was derived
    slots: tuple[SlotChoice, ...]  # the torrents that should be active, best first
    release: tuple[SlotChoice, ...]  # active now but not recommended: may be queued

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(c.hash for c in self.slots)


def upload_capacity(snapshot: Snapshot, settings: SeedingSettings) -> float:
    """Configured capacity, else qBittorrent's global upload limit, else 0 (unknown)."""
    return settings.upload_capacity or float(snapshot.server.up_rate_limit or 0)


def slot_count(
    active: int, candidates: int, owed: int, capacity: float, settings: SeedingSettings
) -> tuple[int, str]:
    """How many seeding slots to allow, and why. Shared by the gauge and the report."""
    if capacity > 0:
        n = math.ceil(capacity / settings.slot_upload)
        why = [f"{rate_text(capacity)} upload capacity / {rate_text(settings.slot_upload)} per seed = {n}"]
    else:
        n = active
        why = [f"upload capacity unknown (set seeding.upload_capacity or a global upload limit): keep {n}"]
    if n < settings.min_slots:
        n = settings.min_slots
        why.append(f"raised to min_slots {n}")
    if settings.max_slots and n > settings.max_slots:
        n = settings.max_slots
        why.append(f"lowered to max_slots {n}")
    if n < owed:
        n = owed
        why.append(f"raised to {n}: every seed still owing hit-and-run time gets a slot")
    if n > candidates:
        n = candidates
        why.append(f"only {n} complete seeds to fill them")
    return n, "; ".join(why)


def count_misallocated(facts: list[TorrentFacts]) -> int:
    """Queued/stopped candidates whose value beats the lowest-value active seed (0 without active seeds)."""
    active = [f.value for f in facts if f.active]
    if not active:
        return 0
    lowest = min(active)
    return sum(1 for f in facts if not f.active and f.value > lowest)


def recommend_seeding_slots(
    snapshot: Snapshot, policies: TrackerPolicies, settings: SeedingSettings, now: float | None = None
) -> SeedingRecommendation:
    """Rank complete seeds by value and say how many, and which, should hold qBittorrent's seeding slots.

    Order: seeds still owing hit-and-run time first, then by score (points/hour +
    demand_weight * leechers/seeders + scarcity_weight / seeders), then by hash, so the result is
    deterministic; the misallocation count compares the same (owes, score) value. `now` defaults to
    when the snapshot was taken.
    """
    return analyze(snapshot, policies, settings, now)[1]


def _recommend(
    snapshot: Snapshot,
    ranked: list[tuple[Torrent, TorrentFacts]],
    policies: TrackerPolicies,
    settings: SeedingSettings,
) -> SeedingRecommendation:
    ranked.sort(key=lambda tf: (-tf[1].value[0], -tf[1].value[1], tf[0].hash))
    facts = [f for _, f in ranked]
    active = sum(f.active for f in facts)
    owed = sum(f.owed > 0 for f in facts)
    capacity = upload_capacity(snapshot, settings)
    n, explanation = slot_count(active, len(ranked), owed, capacity, settings)
    slots = tuple(_choice(t, f, _reason(t, f, policies)) for t, f in ranked[:n])
    release = tuple(
        _choice(
            t, f, f"ranked #{i} of {len(ranked)}, past the {n} recommended slots; " + _reason(t, f, policies)
        )
        for i, (t, f) in enumerate(ranked[n:], start=n + 1)
        if f.active
    )
    return SeedingRecommendation(
        active, n, len(ranked), owed, count_misallocated(facts), capacity, explanation, slots, release
    )


def _choice(t: Torrent, f: TorrentFacts, reason: str) -> SlotChoice:
    return SlotChoice(
        t.hash, t.name, t.primary_tracker, t.state, f.active, f.potential, f.owed, f.value[1], reason
    )


def _reason(t: Torrent, f: TorrentFacts, policies: TrackerPolicies) -> str:
    host = t.primary_tracker
    parts = []
    if f.owed > 0:
        parts.append(f"owes {duration_text(f.owed)} more seeding (hit-and-run rule)")
    if host:
        parts.append(f"~{f.potential:.4g} points/h ({policies.for_host(host).points.name} on {host})")
    else:
        parts.append("no tracker: earns no points")
    parts.append(f"{max(t.num_incomplete, 0)} leechers / {seeders(t)} seeders")
    if not f.active:
        parts.append(f"now {t.state}")
    return "; ".join(parts)


def rate_text(bytes_per_second: float) -> str:
    for unit, size in (("GiB/s", 1024**3), ("MiB/s", 1024**2), ("KiB/s", 1024)):
        if bytes_per_second >= size:
            return f"{bytes_per_second / size:.3g} {unit}"
    return f"{bytes_per_second:.0f} B/s"
