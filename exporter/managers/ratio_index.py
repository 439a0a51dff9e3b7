"""RatioIndex: the per-tracker sums and slot counts of ratio.py, kept up to date between scrapes.

`tracker_stats()` and `recommend_seeding_slots()` look at every torrent; at 50,000 torrents that is
too slow for every scrape. The index keeps each torrent's TorrentFacts and adds/subtracts only what
changed:

- changed torrents are found by identity: the mirror keeps an unchanged torrent as the *same*
  Torrent object from one Snapshot to the next, so one C-level pass over the mapping finds them;
- facts that depend on the clock (a seed becoming idle, a UNIT3D age rule) carry an `expires` time
  and sit in a heap; they are recomputed when the clock passes it;
- the misallocation count needs the lowest active value and how many inactive values beat it:
  a lazy min-heap of active values and a sorted list of inactive ones.

Still pure: no I/O, no clock (`now` is an argument), no logging. RatioIndex is not thread-safe;
SharedRatioIndex (at the end) serialises the collector's and the control job's calls. The unit tests replay
random deltas and check every result against the from-scratch functions.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import operator
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ..model import Snapshot, Torrent, torrent_dict
from .facts import TorrentFacts, facts_of
from .policy import SeedingSettings, TrackerPolicies
from .ratio import TrackerStats, add_shares, slot_count, stats_from, upload_capacity

# Above this many changes in one update, rebuild the value structures instead of editing them.
BULK = 2048

Value = tuple[int, float]


@dataclass(frozen=True)
class RatioView:
    """What one scrape shows: per-tracker stats and the seeding-slot numbers."""

    trackers: tuple[TrackerStats, ...]
    active: int
    candidates: int
    owed: int
    recommended: int
    misallocated: int
    capacity: float


class _MinBag:
    """A multiset of values with add, remove and min; removal is lazy (counted, popped later)."""

    def __init__(self, values: list[Value] | None = None) -> None:
        self.counts: dict[Value, int] = {}
        for v in values or ():
            self.counts[v] = self.counts.get(v, 0) + 1
        self.heap = list(self.counts)
        heapq.heapify(self.heap)

    def add(self, v: Value) -> None:
        n = self.counts.get(v, 0)
        self.counts[v] = n + 1
        if n == 0:
            heapq.heappush(self.heap, v)

    def remove(self, v: Value) -> None:
        n = self.counts[v] - 1
        if n:
            self.counts[v] = n
        else:
            del self.counts[v]

    def min(self) -> Value | None:
        heap, counts = self.heap, self.counts
        while heap and heap[0] not in counts:
            heapq.heappop(heap)
        if len(heap) > 2 * len(counts) + 64:  # too many stale entries: compact
            self.heap = heap = list(counts)
            heapq.heapify(heap)
        return heap[0] if heap else None


class _SortedBag:
    """A sorted multiset of values: count of values above x in O(log n)."""

    def __init__(self, values: list[Value] | None = None) -> None:
        self.items = sorted(values or ())

    def add(self, v: Value) -> None:
        bisect.insort(self.items, v)

    def remove(self, v: Value) -> None:
        del self.items[bisect.bisect_left(self.items, v)]

    def count_above(self, v: Value) -> int:
        return len(self.items) - bisect.bisect_right(self.items, v)


class RatioIndex:
    def __init__(self, policies: TrackerPolicies, settings: SeedingSettings) -> None:
        self.policies = policies
        self.settings = settings
        self._reset("")

    def _reset(self, instance: str) -> None:
        self._instance = instance
        self._generation: int | None = None
        self._now = -math.inf
        self._torrents: dict[str, Torrent] = {}
        self._facts: dict[str, TorrentFacts] = {}
        self._sums: dict[str, list[int]] = {}
        self._expiry: list[tuple[float, str]] = []
        self._active = self._candidates = self._owed = 0
        self._active_values = _MinBag()
        self._inactive_values = _SortedBag()
        self._bulk = False

    def update(self, snapshot: Snapshot, now: float | None = None) -> RatioView:
        now = snapshot.taken_at if now is None else now
        if now < self._now or snapshot.instance != self._instance:
            self._reset(snapshot.instance)  # the clock went back, or another qBittorrent: start over
        self._now = now
        if snapshot.generation != self._generation:
            self._apply_changes(snapshot, now)
            self._generation = snapshot.generation
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            when, h = heapq.heappop(expiry)
            f = self._facts.get(h)
            if f is not None and f.expires == when:
                self._put(h, self._torrents[h], now)
        if len(expiry) > 2 * len(self._facts) + 64:
            self._expiry = [(f.expires, h) for h, f in self._facts.items() if math.isfinite(f.expires)]
            heapq.heapify(self._expiry)
        return self._view(snapshot)

    # -- applying changes --------------------------------------------------------------------

    def _apply_changes(self, snapshot: Snapshot, now: float) -> None:
        torrents, changes, known = snapshot.torrents, snapshot.changes, self._torrents
        if not known:
            self._build(torrents, now)
            return
        if changes is not None and changes.since == self._generation:
            # the mirror says which torrents differ from the snapshot this index saw last (one lookup
            # each: a laid-over snapshot answers with a Python call)
            differ = [(h, t) for h in changes.hashes if known.get(h) is not (t := torrents.get(h))]
            changed = [(h, t) for h, t in differ if t is not None]
            gone = [h for h, t in differ if t is None]
        else:
            differs = map(operator.is_not, map(known.get, torrents), torrents.values())
            changed = list(itertools.compress(torrents.items(), differs))
            gone = None
        self._bulk = len(changed) > BULK
        for h, t in changed:
            self._put(h, t, now)
        if gone is None and len(known) > len(torrents):
            gone = list(known.keys() - torrents.keys())  # set arithmetic: the snapshot iterated in C
        for h in gone or ():
            self._drop(h)
        if self._bulk:
            self._bulk = False
            facts = [f for f in self._facts.values() if f.candidate]
            self._active_values = _MinBag([f.value for f in facts if f.active])
            self._inactive_values = _SortedBag([f.value for f in facts if not f.active])

    def _build(self, torrents: Mapping[str, Torrent], now: float) -> None:
        """The first update: every torrent's facts and all the sums at once, without _put's bookkeeping
        of what each one replaces (a first index at 50,000 torrents; the tests compare it with _put's)."""
        policies, settings = self.policies, self.settings
        self._torrents = torrent_dict(torrents)
        self._facts = facts = {h: facts_of(t, policies, settings, now) for h, t in torrents.items()}
        sums = self._sums
        for f in facts.values():
            if f.shares:
                add_shares(sums, f, +1)
        candidates = [f for f in facts.values() if f.candidate]
        self._candidates = len(candidates)
        self._active = sum(f.active for f in candidates)
        self._owed = sum(f.owed > 0 for f in candidates)
        self._active_values = _MinBag([f.value for f in candidates if f.active])
        self._inactive_values = _SortedBag([f.value for f in candidates if not f.active])
        self._expiry = [(f.expires, h) for h, f in facts.items() if f.expires < math.inf]
        heapq.heapify(self._expiry)

    def _put(self, h: str, t: Torrent, now: float) -> None:
        old_t = self._torrents.get(h)
        old = self._facts.get(h)
        self._torrents[h] = t
        if self._bulk and old is not None and old.expires > now and old_t == t:
            return  # a full resync hands out new but equal objects: same facts
        new = facts_of(t, self.policies, self.settings, now)
        self._facts[h] = new
        if old is None:
            self._count(new, +1)
        else:
            self._recount(old, new)
        if math.isfinite(new.expires) and (old is None or old.expires != new.expires or old.expires <= now):
            heapq.heappush(self._expiry, (new.expires, h))

    def _drop(self, h: str) -> None:
        del self._torrents[h]
        self._count(self._facts.pop(h), -1)

    def _count(self, f: TorrentFacts, sign: int) -> None:
        if f.shares:
            add_shares(self._sums, f, sign)
        self._count_slots(f, sign)

    def _count_slots(self, f: TorrentFacts, sign: int) -> None:
        if not f.candidate:
            return
        self._candidates += sign
        self._active += sign * f.active
        self._owed += sign * (f.owed > 0)
        if self._bulk:
            return
        bag = self._active_values if f.active else self._inactive_values
        (bag.add if sign > 0 else bag.remove)(f.value)

    def _recount(self, old: TorrentFacts, new: TorrentFacts) -> None:
        """_count(old, -1) then _count(new, +1), skipping what both count the same (most of a change:
        a torrent's shares and slot status stay; its rank value moves with the swarm's numbers)."""
        if old.shares != new.shares:
            if old.shares:
                add_shares(self._sums, old, -1)
            if new.shares:
                add_shares(self._sums, new, +1)
        if old.candidate != new.candidate or old.active != new.active or (old.owed > 0) != (new.owed > 0):
            self._count_slots(old, -1)
            self._count_slots(new, +1)
        elif new.candidate and old.value != new.value and not self._bulk:
            bag = self._active_values if new.active else self._inactive_values
            bag.remove(old.value)
            bag.add(new.value)

    # -- results -----------------------------------------------------------------------------

    def _view(self, snapshot: Snapshot) -> RatioView:
        capacity = upload_capacity(snapshot, self.settings)
        recommended, _ = slot_count(self._active, self._candidates, self._owed, capacity, self.settings)
        lowest = self._active_values.min()
        misallocated = 0 if lowest is None else self._inactive_values.count_above(lowest)
        return RatioView(
            trackers=stats_from(snapshot, self._sums, self.policies),
            active=self._active,
            candidates=self._candidates,
            owed=self._owed,
            recommended=recommended,
            misallocated=misallocated,
            capacity=capacity,
        )


class SharedRatioIndex:
    """One RatioIndex per mirror, shared by the ratio collector (at scrape time) and the control job.

    Calls are serialised, and `now` never goes back: the collector passes the snapshot's time, the job
    its clock, and a slightly older `now` from one of them must not make the index start over.
    """

    def __init__(self, policies: TrackerPolicies, settings: SeedingSettings) -> None:
        self.index = RatioIndex(policies, settings)
        self._lock = threading.Lock()
        self._now = -math.inf

    def view(self, snapshot: Snapshot, now: float | None = None) -> RatioView:
        with self._lock:
            self._now = max(self._now, snapshot.taken_at if now is None else now)
            return self.index.update(snapshot, self._now)
