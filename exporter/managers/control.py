"""TorrentControlManager: which torrents to reannounce, restart, recheck, tag, stop or resume. Pure.

Three decisions, each a function of (Snapshot, now, policy, stored state) returning a plan; the
control job (exporter/actions/control.py) carries the plan out and stores the new state.

Stalled downloads: a torrent that wants data (state.is_downloading, queued ones excepted) and whose
`completed` bytes have not changed for `stall_after`, and that was added more than `grace` ago, climbs a
ladder one step per `cooldown`: reannounce -> restart (stop/start) -> recheck (optional) -> give_up (tag it
and stop trying). Progress resets the ladder (and removes the give-up tag). `Progress` marks remember since
when each torrent's `completed` has not changed; they start at the first snapshot that shows the torrent.

Ratio emergency: when the upload/download ratio of a tracker host (its torrents' totals in the
Snapshot) or the global one falls below the policy's min_ratio + margin, that scope's downloads are
stopped (seeds never); when it is back at or above min_ratio + margin + hysteresis, exactly the
torrents stopped for it are resumed.

Seeding slots (optional): qBittorrent's max_active_uploads follows the ratio manager's recommended
number of seeding slots, within configured bounds and at most once per cooldown.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from ..durations import duration_text
from ..model import Snapshot, Torrent
from .policy import EmergencyPolicy, SlotsPolicy, StallPolicy, TrackerPolicies
from .state import DOWNLOAD_STATUSES, STATUS_OF_STATE, downloads, is_complete

GLOBAL = "global"  # the scope of the global ratio; tracker scopes are hosts


@dataclass(frozen=True)
class Action:
    """One thing to do to one torrent. `action` is a bounded name (a metric label value)."""

    action: str
    hash: str
    name: str
    reason: str
    tracker: str = ""
    scope: str = ""  # ratio emergency: the scope that caused the stop


# -- stalled downloads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    completed: int
    since: float  # when `completed` was last seen to change (or first seen)


@dataclass(frozen=True)
class Ladder:
    step: int  # steps taken so far; the next one is policy.steps[step]
    at: float  # when the last step was taken


@dataclass(frozen=True)
class StallPlan:
    progress: Mapping[str, Progress]  # the new marks, one per watched torrent
    stalled: int  # watched torrents without progress for stall_after (exclusions included)
    actions: tuple[Action, ...]
    ladders: Mapping[str, Ladder | None] = field(default_factory=dict)  # changes; None = forget


# The states of downloads plan_stalls watches: is_downloading's statuses but queued.
_WATCHED_STATES = frozenset(
    state for state, status in STATUS_OF_STATE.items() if status in DOWNLOAD_STATUSES and status != "queued"
)


def plan_stalls(
    snapshot: Snapshot,
    now: float,
    policy: StallPolicy,
    progress: Mapping[str, Progress],
    ladders: Mapping[str, Ladder],
    skip: Set[str] = frozenset(),
) -> StallPlan:
    """Next ladder steps for stalled downloads; `skip` holds hashes another feature controls."""
    steps = policy.steps
    marks: dict[str, Progress] = {}
    candidates: list[tuple[float, str, Torrent, int]] = []
    stalled = 0
    for h, t in downloads(snapshot).items():
        if t.state not in _WATCHED_STATES:
            continue  # force start hides stalls, so forcedDL is watched; a queued torrent is only waiting
        old = progress.get(h)
        mark = old if old is not None and old.completed == t.completed else Progress(t.completed, now)
        marks[h] = mark
        if now - mark.since < policy.stall_after or now - t.added_on < policy.grace:
            continue
        stalled += 1
        if h in skip or t.category in policy.exclude_categories or policy.exclude_tags.intersection(t.tags):
            continue
        ladder = ladders.get(h)
        if ladder is not None and (ladder.step >= len(steps) or now - ladder.at < policy.cooldown):
            continue
        candidates.append((mark.since, h, t, ladder.step if ladder else 0))

    changes: dict[str, Ladder | None] = {}
    actions: list[Action] = []
    for h, ladder in sorted(ladders.items()):
        held = snapshot.torrents.get(h)
        moved = held is not None and h in progress and h in marks and progress[h].completed != held.completed
        if held is None or is_complete(held) or moved:
            changes[h] = None
            if held is not None and ladder.step >= len(steps) and policy.tag in held.tags:
                actions.append(
                    Action("untag_stalled", h, held.name, "making progress again", held.primary_tracker)
                )

    per_tracker: dict[str, int] = {}
    taken = 0
    for since, h, t, step in sorted(candidates, key=lambda c: (c[0], c[1])):
        if taken >= policy.max_actions_per_run:
            break
        tracker = t.primary_tracker
        if per_tracker.get(tracker, 0) >= policy.max_actions_per_tracker:
            continue
        per_tracker[tracker] = per_tracker.get(tracker, 0) + 1
        taken += 1
        name = steps[step]
        reason = f"no progress for {duration_text(now - since)} ({t.state}), step {step + 1}/{len(steps)}"
        actions.append(Action("tag_stalled" if name == "give_up" else name, h, t.name, reason, tracker))
        changes[h] = Ladder(step + 1, now)
    return StallPlan(progress=marks, stalled=stalled, actions=tuple(actions), ladders=changes)


# -- ratio emergency -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeRatio:
    ratio: float
    downloaded: int
    threshold: float  # min_ratio + margin: below it the emergency starts


@dataclass(frozen=True)
class EmergencyPlan:
    ratios: Mapping[str, ScopeRatio]
    active: Mapping[str, float]  # scope -> since; the new state
    entered: tuple[str, ...]
    lifted: tuple[str, ...]
    stops: tuple[Action, ...]
    resumes: tuple[Action, ...]
    forget: tuple[str, ...]  # stopped torrents that are gone: drop them from the stored state


def scope_ratios(
    snapshot: Snapshot, policies: TrackerPolicies, policy: EmergencyPolicy
) -> dict[str, ScopeRatio]:
    out: dict[str, ScopeRatio] = {}
    for host, group in snapshot.by_tracker.items():
        if not host or (policy.trackers and host not in policy.trackers) or group.downloaded <= 0:
            continue
        threshold = policies.for_host(host).min_ratio + policy.margin
        out[host] = ScopeRatio(group.uploaded / group.downloaded, group.downloaded, threshold)
    server = snapshot.server
    if policy.include_global and server.alltime_dl:
        ratio = (
            server.global_ratio
            if server.global_ratio is not None
            else (server.alltime_ul or 0) / server.alltime_dl
        )
        out[GLOBAL] = ScopeRatio(ratio, server.alltime_dl, policies.default.min_ratio + policy.margin)
    return out


def plan_emergency(
    snapshot: Snapshot,
    now: float,
    policies: TrackerPolicies,
    policy: EmergencyPolicy,
    active: Mapping[str, float],
    stopped: Mapping[str, str],
) -> EmergencyPlan:
    """`active`: scope -> since, `stopped`: hash -> scope, both as stored after the last run."""
    ratios = scope_ratios(snapshot, policies, policy)
    new_active: dict[str, float] = {}
    for scope, r in ratios.items():
        if scope in active:
            if r.ratio < r.threshold + policy.hysteresis:
                new_active[scope] = active[scope]
        elif r.ratio < r.threshold and r.downloaded >= policy.min_downloaded:
            new_active[scope] = now
    entered = tuple(sorted(set(new_active) - set(active)))
    lifted = tuple(sorted(set(active) - set(new_active)))

    def scope_of(t: Torrent) -> str:
        if GLOBAL in new_active:
            return GLOBAL
        return next((h for h in t.hosts if h in new_active), "")

    budget = policy.max_actions_per_run
    resumes: list[Action] = []
    forget: list[str] = []
    for h in sorted(stopped):
        t = snapshot.torrents.get(h)
        if t is None:
            forget.append(h)
        elif not scope_of(t) and len(resumes) < budget:
            why = f"ratio of {stopped[h]} is back above the threshold"
            resumes.append(Action("emergency_resume", h, t.name, why, t.primary_tracker, stopped[h]))

    stops: list[Action] = []
    if new_active:
        # Filter first, then sort only the downloads: the order is the same, the cost is not 50k log 50k.
        candidates = sorted(h for h in downloads(snapshot) if h not in stopped)
        for h in candidates:
            if len(resumes) + len(stops) >= budget:
                break
            t = snapshot.torrents[h]
            scope = scope_of(t)
            if scope:
                r = ratios[scope]
                why = f"ratio {r.ratio:.3f} of {scope} below {r.threshold:.3f}"
                stops.append(Action("emergency_stop", h, t.name, why, t.primary_tracker, scope))
    return EmergencyPlan(ratios, new_active, entered, lifted, tuple(stops), tuple(resumes), tuple(forget))


# -- seeding slots -------------------------------------------------------------------------------


def plan_slots(
    recommended: int, prefs: Mapping[str, Any], now: float, policy: SlotsPolicy, last_change: float | None
) -> tuple[dict[str, int], Action] | None:
    """The preference changes that apply `recommended` seeding slots, or None (nothing to change yet).

    `prefs` are qBittorrent's current preferences. max_active_torrents, when limited, is raised so
    that it does not cap the new number of seeding slots.
    """
    target = min(max(recommended, policy.minimum), policy.maximum)
    current = prefs.get("max_active_uploads")
    if current == target or (last_change is not None and now - last_change < policy.cooldown):
        return None
    changes = {"max_active_uploads": target}
    downloads = max(_int(prefs.get("max_active_downloads"), 0), 0)
    total = _int(prefs.get("max_active_torrents"), -1)
    if 0 <= total < target + downloads:
        changes["max_active_torrents"] = target + downloads
    reason = (
        f"max_active_uploads {current} -> {target} (recommended {recommended}, "
        f"bounds {policy.minimum}-{policy.maximum})"
    )
    if "max_active_torrents" in changes:
        reason += f", max_active_torrents {total} -> {changes['max_active_torrents']}"
    return changes, Action("seeding_slots", "", "qBittorrent preferences", reason)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
