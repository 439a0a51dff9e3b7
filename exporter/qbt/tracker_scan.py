"""TrackerScan: one qBittorrent's tracker lists, fetched under a request budget, and what they say.

One per instance, shared like its Mirror: the `trackers` job (actions/trackers.py) calls `run()` once per
policy.interval; the collector, the report and the unregistered action read it. It owns a TrackerHealth
(managers/tracker_health/) behind a lock: a run holds the lock to plan and to record each answer, never
while it waits or a request is out, so a reader waits at most for one answer to be recorded.

A run: follow the Snapshot (TrackerHealth.observe, with 5.2's announce flags when the torrents carry
them), pick the cheapest source this qBittorrent offers (source_for), plan the requests of the next
interval (plan_scan, under the token bucket carried from run to run), then send each one no earlier than
its time. Each answer is reduced to hosts and reasons at once (tracker_entries): no URL is kept. A failed
request ends the run (result "error", counted by reason, logged once per run of failures): a qBittorrent
that does not answer is not asked again until the next run.

Read-only: it writes nothing to qBittorrent and nothing to the store, so every replica runs its own scan
(in HA every replica serves every scrape, each with its own picture of the trackers).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TypeVar

from ..managers.policy import TrackerScanPolicy
from ..managers.state import STATUS_OF_STATE
from ..managers.tracker_health import (
    REASONS,
    HostHealth,
    ScanRequest,
    TokenBucket,
    TrackerEntry,
    TrackerHealth,
    plan_scan,
    source_for,
    tracker_entries,
)
from ..managers.tracker_health.scan import SUSPECT_STATUSES
from ..model import SYNC_ERROR_REASONS, Snapshot
from .connection import Connection, QBittorrentError

log = logging.getLogger(__name__)
T = TypeVar("T")
REQUEST_KINDS = ("torrent", "hashes", "page")


@dataclass
class ScanStats:
    """What the scan's own metrics report. Written under the scan's lock."""

    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REQUEST_KINDS, 0))
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SYNC_ERROR_REASONS, 0))
    source: str = ""  # the last run's: flagged, include_trackers or per_torrent
    due: int = 0  # torrents due at the start of the last run
    backlog: int = 0  # of those, how many its plan could not reach within one interval
    last_error: str = ""


@dataclass(frozen=True)
class ScanView:
    """The scan's picture at one moment, for a scrape: per host, and how fresh it is."""

    hosts: tuple[HostHealth, ...]
    torrents: int  # in the last Snapshot the scan followed
    stale: int  # of those, without data or with data older than stale_after
    oldest: float | None  # fetch time of the oldest data kept
    stats: ScanStats


@dataclass(frozen=True)
class Problem:
    """One torrent whose tracker on `host` gives a problem `reason`, since `since` (its first fetch
    saying so); `detail` is the tracker's message, redacted (classify.redact)."""

    hash: str
    host: str
    reason: str
    status: str
    since: float
    fetched_at: float
    detail: str


def flagged_hashes(snapshot: Snapshot) -> frozenset[str] | None:
    """The torrents qBittorrent 5.2+ flags (has_tracker_error, has_tracker_warning or
    has_other_announce_error); None when its torrents carry no such flags (before 5.2)."""
    first = next(iter(snapshot.torrents.values()), None)
    if first is None or first.has_tracker_error is None:
        return None
    return frozenset(
        h
        for h, t in snapshot.torrents.items()
        if t.has_tracker_error or t.has_tracker_warning or t.has_other_announce_error
    )


class TrackerScan:
    def __init__(
        self,
        connection: Connection,
        policy: TrackerScanPolicy,
        name: str = "",
        clock: Callable[[], float] = time.time,
        log_failures: bool = True,
    ) -> None:
        """log_failures: False where the caller reports a failure itself (the `trackers` command)."""
        self.connection, self.policy, self.name, self.clock = connection, policy, name, clock
        self.log_failures = log_failures
        self._lock = threading.Lock()
        self._health = TrackerHealth()
        self._bucket = TokenBucket()
        self._torrents = 0
        # The per-host part of the last view, computed at one revision of the health and good until a
        # fetch in it turns stale: a steady scrape does not walk every torrent's data again.
        self._hosts_view: tuple[int, float, tuple[HostHealth, ...], int, float | None] | None = None
        self.stats = ScanStats()

    # -- the run -----------------------------------------------------------------------------------

    def run(self, snapshot: Snapshot, wait: Callable[[float], bool]) -> str:
        """One interval's requests; "ok", or "error" after a failed request. `wait(seconds)` waits
        (True: stop now, e.g. at shutdown)."""
        with self._lock:
            flagged = flagged_hashes(snapshot)
            self._health.observe(snapshot, flagged)
            self._torrents = len(snapshot.torrents)
            source = source_for(snapshot.app, flagged is not None)
            plan = plan_scan(snapshot, self._health, self.clock(), self._bucket, source, self.policy)
            self._bucket = plan.bucket
            self.stats.source, self.stats.due, self.stats.backlog = source, plan.due, plan.left
        webapi = snapshot.app.webapi_version
        for request in plan.requests:
            delay = request.not_before - self.clock()
            if delay > 0 and wait(delay):
                break
            try:
                answer = self._fetch(request, webapi)
            except QBittorrentError as exc:
                self._failed(request, exc)
                return "error"
            fetched_at = self.clock()
            with self._lock:
                self.stats.requests[request.kind] += 1
                for h, entries in answer.items():
                    self._health.record(h, entries, fetched_at)
        with self._lock:
            self.stats.last_error = ""
        return "ok"

    def _fetch(self, request: ScanRequest, webapi: str) -> Mapping[str, tuple[TrackerEntry, ...]]:
        """{hash: entries} of one request's answer (a torrent gone from qBittorrent: nothing)."""
        c, phrases = self.connection, self.policy.extra_phrases
        if request.kind == "torrent":
            [h] = request.hashes
            rows = c.torrent_trackers(h)
            return {} if rows is None else {h: tracker_entries(rows, webapi, phrases)}
        if request.kind == "hashes":
            answer = c.torrents_with_trackers(hashes=request.hashes)
        else:
            answer = c.torrents_with_trackers(offset=request.offset, limit=request.limit)
        return {h: tracker_entries(rows, webapi, phrases) for h, rows in answer.items()}

    def _failed(self, request: ScanRequest, exc: QBittorrentError) -> None:
        with self._lock:
            self.stats.requests[request.kind] += 1
            self.stats.errors[exc.reason] = self.stats.errors.get(exc.reason, 0) + 1
            repeated = self.stats.last_error == str(exc)
            self.stats.last_error = str(exc)
        message = "tracker scan of %s stopped until its next run (%s): %s"
        (log.debug if repeated or not self.log_failures else log.warning)(message, self.name, exc.reason, exc)

    # -- what readers see ------------------------------------------------------------------------------

    def view(self, now: float) -> ScanView:
        """The picture now. Walking every torrent's data (~60 ms at 50,000) happens only when an answer
        or a drop changed it, or when a fetch in it has turned stale since: steady scrapes reuse it."""
        with self._lock:
            health, stale_after = self._health, self.policy.stale_after
            cached = self._hosts_view
            if cached is None or cached[0] != health.revision or now > cached[1]:
                stale, oldest = health.data_age(now, stale_after)
                hosts = health.view(now, stale_after)
                cached = (health.revision, health.next_stale_at(now, stale_after), hosts, stale, oldest)
                self._hosts_view = cached
            _, _, hosts, stale, oldest = cached
            unscanned = max(self._torrents - len(health), 0)
            stats = replace(self.stats, requests=dict(self.stats.requests), errors=dict(self.stats.errors))
            return ScanView(hosts, self._torrents, stale + unscanned, oldest, stats)

    def problems(self) -> list[Problem]:
        """Every (torrent, host) with a problem reason, the longest-standing first."""
        out = []
        with self._lock:
            health = self._health
            for host in health.hosts():
                for reason in REASONS:
                    for h in health.hashes(host, reason):
                        rec = health.trackers(h)
                        e = rec.entry(host) if rec is not None else None
                        if rec is None or e is None:
                            continue
                        out.append(
                            Problem(h, host, reason, e.status, rec.since[host], rec.fetched_at, e.detail)
                        )
        return sorted(out, key=lambda p: (p.since, p.hash, p.host))

    def with_health(self, fn: Callable[[TrackerHealth], T]) -> T:
        """fn(the TrackerHealth), under the lock: for a planner that reads much of it at once (the
        unregistered action). fn must not keep the object: it is the scan's own."""
        with self._lock:
            return fn(self._health)


def scan_once(
    connection: Connection,
    snapshot: Snapshot,
    policy: TrackerScanPolicy,
    max_requests: int,
    wait: Callable[[float], bool],
    clock: Callable[[], float] = time.time,
) -> tuple[TrackerScan, int]:
    """A one-off scan of at most `max_requests` requests at the policy's rate (the `trackers` command):
    (the scan, how many torrents it was given). Where one request reads one torrent (4.x, 5.0) and the
    budget cannot reach them all, errored and stalled torrents are given first."""
    subject = snapshot
    source = source_for(snapshot.app, flagged_hashes(snapshot) is not None)
    if source == "per_torrent" and len(snapshot.torrents) > max_requests:
        first = sorted(snapshot.torrents.values(), key=lambda t: (not _suspect(t.state), t.hash))
        chosen = {t.hash: t for t in first[:max_requests]}
        subject = replace(snapshot, torrents=MappingProxyType(chosen))
    # One plan that holds at most max_requests requests: burst at once, the rest at the rate.
    span = max(max_requests - policy.burst, 0) / policy.requests_per_second + 1e-6
    scan = TrackerScan(
        connection, replace(policy, interval=span), snapshot.instance, clock, log_failures=False
    )
    scan.run(subject, wait)
    return scan, len(subject.torrents)


def _suspect(state: str) -> bool:
    return STATUS_OF_STATE.get(state, "unknown") in SUSPECT_STATUSES
