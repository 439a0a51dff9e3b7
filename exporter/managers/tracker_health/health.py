"""TrackerHealth: what each torrent's trackers last said, kept incrementally between runs. Pure.

Fed with fetched tracker lists (`record`) and with Snapshots (`observe`: torrents gone are dropped, changes
that make a torrent worth fetching again are noted). It answers per tracker host: torrents by announce
status and by problem reason, how old the data is, and since when a torrent's trackers have been giving
one reason (the grace period of the unregistered action).

A torrent is counted once per host. Several URLs of one host (http and udp, say) are merged into one
entry, the most reassuring first: working, then updating, then not contacted, then problems (down before
other before unauthorized before unregistered), disabled last. So a host "says unregistered" only when
none of its URLs says anything better.

A streak (`since`) starts at the first fetch that shows a reason and lasts while every later fetch shows
the same reason for that host. Up to 5.1 an updating tracker (code 3) has no result: it keeps the previous
reason and streak, so that an announce in progress does not restart the grace period.

Not thread-safe; the one job that scans trackers owns it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import is_not
from types import MappingProxyType

from ...model import Snapshot, Torrent
from .classify import ANNOUNCE_STATUSES, REASONS, TrackerEntry

_GROUP = {"working": 0, "updating": 1, "not_contacted": 2, "disabled": 4}  # the rest: problems, 3
_REASON_RANK = {None: 0, "down": 1, "other": 2, "unauthorized": 3, "unregistered": 4}


@dataclass(frozen=True, slots=True)
class TorrentTrackers:
    """What one fetch said about one torrent: one entry per host (sorted), and each reason's start."""

    hash: str
    entries: tuple[TrackerEntry, ...]
    fetched_at: float
    since: Mapping[str, float] = field(default_factory=dict)  # host -> start of its reason's streak

    def entry(self, host: str) -> TrackerEntry | None:
        return next((e for e in self.entries if e.host == host), None)

    @property
    def problem(self) -> bool:
        return any(e.reason for e in self.entries)

    @property
    def announcing(self) -> bool:
        """An announce was in progress when fetched (`updating`): what it ends in is not known yet."""
        return any(e.status == "updating" for e in self.entries)


@dataclass(frozen=True)
class HostHealth:
    """One tracker host: its torrents (with fetched data) by announce status and by reason, and data age."""

    host: str
    torrents: int
    by_status: Mapping[str, int]  # every ANNOUNCE_STATUSES key
    by_reason: Mapping[str, int]  # every REASONS key
    oldest: float | None  # the oldest fetch among its torrents
    stale: int  # torrents whose data is older than the `stale_after` asked for
    examples: Mapping[str, str] = field(default_factory=dict)  # reason -> a recent redacted message


def merge_by_host(entries: Iterable[TrackerEntry]) -> tuple[TrackerEntry, ...]:
    """One entry per host, the most reassuring of its URLs (see the module docstring), sorted by host."""
    best: dict[str, TrackerEntry] = {}
    for e in entries:
        if not e.host:
            continue
        old = best.get(e.host)
        if old is None or _rank(e) < _rank(old):
            best[e.host] = e
    return tuple(best[h] for h in sorted(best))


def _rank(e: TrackerEntry) -> tuple[int, int]:
    return _GROUP.get(e.status, 3), _REASON_RANK.get(e.reason, 2)


def _fingerprint(t: Torrent, flagged: Set[str] | None) -> tuple[object, ...]:
    """What, when it changes, makes a torrent's tracker list worth fetching again.

    With 5.2's flags those are the only news worth a request (and a tracker edit); before, a new state,
    a new working tracker ("" when none works, before 5.1) or a tracker edit.
    """
    if flagged is not None:
        return (t.hash in flagged, t.trackers)
    return (t.state, t.tracker, t.trackers)


class TrackerHealth:
    def __init__(self) -> None:
        self.revision = 0  # bumped by every change to the kept answers: view() is the same until it moves
        self._reset("")

    def _reset(self, instance: str) -> None:
        self.revision += 1
        self._instance = instance
        self._generation: int | None = None
        self._records: dict[str, TorrentTrackers] = {}
        self._hosts: dict[str, set[str]] = {}
        self._status: dict[tuple[str, str], set[str]] = {}
        self._reason: dict[tuple[str, str], set[str]] = {}
        self._examples: dict[tuple[str, str], str] = {}
        self._seen: dict[str, Torrent] = {}
        self._marks: dict[str, tuple[object, ...]] = {}
        self._changed_at: dict[str, float] = {}
        # Every record's fetch time, and per host its records' times, kept sorted: view(), data_age()
        # and next_stale_at() count stale data and find the oldest with a bisect, not a walk of 50,000.
        self._fetched: list[float] = []
        self._host_fetched: dict[str, list[float]] = {}
        self.flagged: frozenset[str] | None = None

    # -- feeding -------------------------------------------------------------------------------

    def record(self, hash: str, entries: Iterable[TrackerEntry], fetched_at: float) -> bool:
        """Keep what a fetch said about one torrent; False (ignored) when older than what is kept."""
        old = self._records.get(hash)
        if old is not None and fetched_at < old.fetched_at:
            return False
        merged: list[TrackerEntry] = []
        since: dict[str, float] = {}
        for e in merge_by_host(entries):
            prev = old.entry(e.host) if old is not None else None
            if e.reason is None and e.status == "updating" and prev is not None and prev.reason:
                e = replace(e, reason=prev.reason, detail=prev.detail)  # up to 5.1: no news yet
            if e.reason is not None:
                continuing = prev is not None and prev.reason == e.reason
                since[e.host] = old.since[e.host] if continuing and old is not None else fetched_at
            merged.append(e)
        new = TorrentTrackers(hash, tuple(merged), fetched_at, since)
        if old is not None:
            self._index(old, -1)
        self._records[hash] = new
        self._index(new, +1)
        return True

    def observe(self, snapshot: Snapshot, flagged: Set[str] | None = None) -> None:
        """Follow a Snapshot: drop torrents gone, note changes. `flagged`: 5.2+ hashes with a tracker flag
        (has_tracker_error, has_tracker_warning or has_other_announce_error), None before 5.2."""
        if snapshot.instance != self._instance:
            self._reset(snapshot.instance)
        flags = None if flagged is None else frozenset(flagged)
        if snapshot.generation == self._generation and flags == self.flagged:
            return
        flags_changed = flags != self.flagged
        last = self._generation
        since = None if flags_changed or last is None else snapshot.changed_since(last)
        self.flagged, self._generation = flags, snapshot.generation
        torrents, seen, marks = snapshot.torrents, self._seen, self._marks
        todo: Iterable[tuple[str, Torrent]] = torrents.items()
        if since is not None:  # the snapshot says which torrents differ from the one seen last
            todo = [(h, t) for h in since if (t := torrents.get(h)) is not None]
        elif not flags_changed:  # the mirror keeps an unchanged torrent as the same object: found in C
            todo = compress(todo, map(is_not, map(seen.get, torrents), torrents.values()))
        for h, t in todo:
            mark = _fingerprint(t, flags)
            if h in marks and marks[h] != mark:
                self._changed_at[h] = snapshot.taken_at
            seen[h], marks[h] = t, mark
        if since is not None:
            gone = [h for h in since if h in seen and h not in torrents]
        else:  # set arithmetic iterates the snapshot in C (a laid-over one answers `in` with a Python call)
            gone = list(seen.keys() - torrents.keys()) if len(seen) > len(torrents) else []
        gone += [h for h in self._records.keys() - seen.keys() if h not in torrents]  # a few, if any
        for h in gone:
            self._drop(h)

    def _drop(self, h: str) -> None:
        self._seen.pop(h, None)
        self._marks.pop(h, None)
        self._changed_at.pop(h, None)
        old = self._records.pop(h, None)
        if old is not None:
            self._index(old, -1)

    def _index(self, rec: TorrentTrackers, sign: int) -> None:
        self.revision += 1
        _sorted_edit(self._fetched, rec.fetched_at, sign)
        for e in rec.entries:  # one per host (merge_by_host)
            _sorted_edit(self._host_fetched.setdefault(e.host, []), rec.fetched_at, sign)
            for table, key in ((self._status, (e.host, e.status)), (self._reason, (e.host, e.reason or ""))):
                if key[1]:
                    bucket = table.setdefault(key, set())
                    (bucket.add if sign > 0 else bucket.discard)(rec.hash)
                    if not bucket:
                        del table[key]
            hashes = self._hosts.setdefault(e.host, set())
            if sign > 0:
                hashes.add(rec.hash)
                if e.reason and e.detail:
                    self._examples[(e.host, e.reason)] = e.detail
            else:
                hashes.discard(rec.hash)
                if not hashes:
                    del self._hosts[e.host], self._host_fetched[e.host]
                if e.reason and (e.host, e.reason) not in self._reason:
                    self._examples.pop((e.host, e.reason), None)

    # -- answers -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._records)

    def trackers(self, hash: str) -> TorrentTrackers | None:
        return self._records.get(hash)

    @property
    def records(self) -> Mapping[str, TorrentTrackers]:
        """hash -> its last fetch, read-only: for a planner that looks at every torrent (trackers() per
        hash is a Python call each)."""
        return MappingProxyType(self._records)

    @property
    def changed_at(self) -> Mapping[str, float]:
        """hash -> when a Snapshot last showed it changed (changed_since_fetch compares it), read-only."""
        return MappingProxyType(self._changed_at)

    def changed_since_fetch(self, hash: str) -> bool:
        """True when a Snapshot showed a change after the last fetch (or there was no fetch)."""
        rec = self._records.get(hash)
        return rec is None or self._changed_at.get(hash, -math.inf) > rec.fetched_at

    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted(self._hosts))

    def hashes(self, host: str, reason: str | None = None, status: str | None = None) -> frozenset[str]:
        """The torrents of `host` (with data), of one reason or one announce status if asked."""
        if reason is not None:
            return frozenset(self._reason.get((host, reason), ()))
        if status is not None:
            return frozenset(self._status.get((host, status), ()))
        return frozenset(self._hosts.get(host, ()))

    def since(self, hash: str, reason: str) -> float | None:
        """Since when every non-disabled tracker of the torrent (at least one) has been giving `reason`."""
        rec = self._records.get(hash)
        if rec is None:
            return None
        live = [e for e in rec.entries if e.status != "disabled"]
        if not live or any(e.reason != reason for e in live):
            return None
        return max(rec.since[e.host] for e in live)

    def streaks(self, host: str, reason: str) -> list[float]:
        """The start of each streak of `reason` on `host`, one per torrent (the outage guard's input)."""
        return [self._records[h].since[host] for h in self._reason.get((host, reason), ())]

    def data_age(self, now: float, stale_after: float) -> tuple[int, float | None]:
        """(torrents whose data was fetched before now - stale_after, the oldest fetch time or None):
        each torrent once, whatever its number of hosts (view() counts per host)."""
        fetched = self._fetched
        return bisect_left(fetched, now - stale_after), fetched[0] if fetched else None

    def next_stale_at(self, now: float, stale_after: float) -> float:
        """The last moment data_age() and view() say what they say at `now` (until the next revision):
        the time the next fresh fetch turns stale; infinity when none is fresh."""
        fetched = self._fetched
        first = bisect_left(fetched, True, key=lambda f: f + stale_after >= now)  # the first still fresh
        return fetched[first] + stale_after if first < len(fetched) else math.inf

    def view(self, now: float, stale_after: float) -> tuple[HostHealth, ...]:
        """Every host's health; data fetched before now - stale_after counts as stale."""
        out = []
        for host in sorted(self._hosts):
            hashes, fetched = self._hosts[host], self._host_fetched[host]
            out.append(
                HostHealth(
                    host=host,
                    torrents=len(hashes),
                    by_status={s: len(self._status.get((host, s), ())) for s in ANNOUNCE_STATUSES},
                    by_reason={r: len(self._reason.get((host, r), ())) for r in REASONS},
                    oldest=fetched[0] if fetched else None,
                    stale=bisect_left(fetched, now - stale_after),
                    examples={r: self._examples[(host, r)] for r in REASONS if (host, r) in self._examples},
                )
            )
        return tuple(out)


def _sorted_edit(values: list[float], value: float, sign: int) -> None:
    """Put `value` into the sorted list (sign > 0) or take one of it out (it must be there)."""
    if sign > 0:
        insort(values, value)
    else:
        del values[bisect_left(values, value)]
