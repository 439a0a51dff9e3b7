"""The unregistered action's planner: which torrents to tag (and stop), and which to untag. Pure.

A torrent is unregistered when every one of its trackers that is not disabled (at least one) says
"unregistered" (classify.py), and it has been seen saying so for `after`: from the first fetch that said
it to the latest one (TrackerHealth.since), not merely since then by the clock, and that latest fetch is
itself not older than `after`. Such a torrent is tagged
(and stopped, if the policy says so). The tag is removed when a tracker works for it again; a torrent that
was stopped announces to nobody, so it keeps the tag until someone starts it. Nothing is ever deleted.

The outage guard: a tracker that loses its database, or answers "unregistered" to everything for an
hour, must not get all its torrents tagged. When more than `outage_share` of one host's torrents (and at
least `outage_min_torrents`) started being unregistered within one `outage_window`, none of that host's
torrents is acted on while those streaks last; the plan names the host (the caller logs it once and
counts it). Untagging is never held back.

`tagged` are the hashes this feature tagged (stored by the caller); a torrent tagged by someone else is
left alone. Actions are bounded by max_actions_per_run (untags first, then the longest-unregistered);
the caller handles dry-run, audit and counters as for every other action.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from ...durations import duration_text
from ...model import Snapshot, Torrent
from ..control import Action
from ..policy import UnregisteredPolicy
from ..state import STATUS_OF_STATE
from .health import TorrentTrackers, TrackerHealth

REASON = "unregistered"


@dataclass(frozen=True)
class HeldBack:
    """A host the outage guard holds back: `unregistered` of its `torrents` started within one window."""

    host: str
    unregistered: int
    torrents: int


@dataclass(frozen=True)
class UnregisteredPlan:
    actions: tuple[Action, ...]  # tag_unregistered, stop_unregistered, untag_unregistered
    held_back: tuple[HeldBack, ...]
    unregistered: int = 0  # torrents past the grace period, held back or not
    waiting: int = 0  # torrents unregistered everywhere, still inside the grace period
    forget: tuple[str, ...] = ()  # tagged torrents that are gone or known again without the tag


def outage_hosts(state: TrackerHealth, policy: UnregisteredPolicy) -> tuple[HeldBack, ...]:
    """The hosts where too many torrents turned unregistered together (see the module docstring)."""
    out = []
    for host in state.hosts():
        starts = sorted(state.streaks(host, REASON))
        if len(starts) < policy.outage_min_torrents:
            continue
        peak, first = 0, 0
        for last, at in enumerate(starts):  # the most starts inside any window [s, s + outage_window]
            while at - starts[first] > policy.outage_window:
                first += 1
            peak = max(peak, last - first + 1)
        torrents = len(state.hashes(host)) - len(state.hashes(host, status="disabled"))
        if peak >= policy.outage_min_torrents and peak > policy.outage_share * torrents:
            out.append(HeldBack(host, peak, torrents))
    return tuple(out)


def plan_unregistered(
    state: TrackerHealth,
    snapshot: Snapshot,
    now: float,
    policy: UnregisteredPolicy,
    tagged: Set[str],
) -> UnregisteredPlan:
    """Tag/stop/untag actions for this run; nothing at all when the policy is not enabled."""
    if not policy.enabled:
        return UnregisteredPlan((), ())
    held = outage_hosts(state, policy)
    held_hosts = {b.host for b in held}
    actions: list[Action] = []
    forget: list[str] = []
    budget = policy.max_actions_per_run

    for h in sorted(tagged):
        t = snapshot.torrents.get(h)
        rec = state.trackers(h)
        working = [e.host for e in rec.entries if e.status == "working"] if rec is not None else []
        if t is None or (working and policy.tag not in t.tags):
            forget.append(h)
        elif working and len(actions) < budget:
            actions.append(
                Action("untag_unregistered", h, t.name, f"{working[0]} knows it again", working[0])
            )

    waiting = unregistered = 0
    candidates: list[tuple[float, str, Torrent, TorrentTrackers]] = []
    for h in sorted({h for host in state.hosts() for h in state.hashes(host, REASON)}):
        t, rec, since = snapshot.torrents.get(h), state.trackers(h), state.since(h, REASON)
        if t is None or rec is None or since is None or h in tagged:
            continue
        if t.trackers and set(t.trackers) != {e.host for e in rec.entries}:
            continue  # its trackers were edited after the fetch: wait for a fresh one
        if rec.fetched_at - since < policy.after:
            waiting += 1
            continue
        if now - rec.fetched_at > policy.after:
            continue  # the last word is older than the grace period itself: fetch again first
        unregistered += 1
        if policy.tag in t.tags or held_hosts.intersection(e.host for e in rec.entries):
            continue
        candidates.append((since, h, t, rec))

    for since, h, t, rec in sorted(candidates, key=lambda c: (c[0], c[1])):
        stop = policy.stop and STATUS_OF_STATE.get(t.state) != "paused"
        if len(actions) + 1 + stop > budget:
            break
        reason = _reason(rec, rec.fetched_at - since)
        actions.append(Action("tag_unregistered", h, t.name, reason, t.primary_tracker))
        if stop:
            actions.append(Action("stop_unregistered", h, t.name, reason, t.primary_tracker))
    return UnregisteredPlan(tuple(actions), held, unregistered, waiting, tuple(forget))


def _reason(rec: TorrentTrackers, observed: float) -> str:
    """e.g. 'unregistered on a.example, b.example for 6h 5m ("Unregistered torrent")'."""
    live = [e for e in rec.entries if e.status != "disabled"]
    detail = next((e.detail for e in live if e.detail), "")
    text = f"{REASON} on {', '.join(e.host for e in live)} for {duration_text(observed)}"
    return f'{text} ("{detail}")' if detail else text
