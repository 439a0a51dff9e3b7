"""The tracker scan planner: which torrents' tracker lists to fetch next, how, and when. Pure.

Fetching tracker lists naively costs one request per torrent, so every request (one torrent, one batch
of hashes or one page) spends one token of a token bucket the caller carries from run to run
(`TokenBucket`; `requests_per_second` and `burst` from TrackerScanPolicy). A plan covers one job interval:
each request has a `not_before` time, spaced so that in any window of T seconds at most
burst + rate * T requests are due, across runs too. The caller waits until `not_before` before sending
(late is fine, early is not) and records each answer in TrackerHealth.

Sources, cheapest first (`source_for` picks one):

| source           | qBittorrent | request                                                          |
|------------------|-------------|------------------------------------------------------------------|
| flagged          | 5.2+        | torrents/info?includeTrackers=true: hash batches or pages        |
| include_trackers | 5.1+        | the same                                                         |
| per_torrent      | 4.x, 5.0    | torrents/trackers?hash=, one torrent per request                  |

A page is `torrents/info?includeTrackers=true&sort=hash&offset=&limit=`: sorted by hash, so the planner
knows which torrents it covers. A page is used where it brings more due torrents than one hash batch could
and at least half of it is due (the first sweep, a refresh of torrents fetched together); hash batches
elsewhere.

What is due, in this order (ties: oldest data first, then hash):

0. never fetched (with `flagged`: never fetched and flagged);
1. worth a look now: changed since the last fetch (state, working tracker or tracker list; with `flagged`:
   a flag set or cleared), or, fetched more than `recheck_after` ago, suspect: its last fetch saw an
   announce in progress (`updating`); with `flagged`, flagged; otherwise errored, a stalled download, or
   its last fetch showed a problem;
2. everything else whose data is older than `stale_after` (with `flagged`: the slow background refresh
   that notices a recovered tracker and keeps the per-host counts honest).
"""

from __future__ import annotations

import math
import operator
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import compress, repeat

from ...model import AppInfo, Snapshot, Torrent, to_int
from ..policy import TrackerScanPolicy
from ..state import STATUS_OF_STATE
from .health import TorrentTrackers, TrackerHealth

SOURCES = ("flagged", "include_trackers", "per_torrent")
INCLUDE_TRACKERS_WEBAPI = (2, 11, 4)  # qBittorrent 5.1.0
SUSPECT_STATUSES = frozenset({"errored", "stalled"})


def source_for(app: AppInfo, has_flags: bool) -> str:
    """The cheapest source this qBittorrent offers. `has_flags`: its maindata torrents carry
    has_tracker_error (5.2+)."""
    version = tuple(to_int(p, 0) for p in (app.webapi_version or "").split(".")[:3])
    if has_flags:
        return "flagged"
    return "include_trackers" if version >= INCLUDE_TRACKERS_WEBAPI else "per_torrent"


@dataclass(frozen=True)
class TokenBucket:
    """Tokens left at time `at` (the last request planned). The default is refilled by the first `take`."""

    tokens: float = 0.0
    at: float = -math.inf

    def take(self, rate: float, burst: int, earliest: float) -> tuple[float, TokenBucket]:
        """The first time >= `earliest` (and >= the last request) with a token, and the bucket after."""
        when = max(earliest, self.at)
        tokens = min(float(burst), self.tokens + rate * (when - self.at)) if self.at > -math.inf else burst
        if tokens < 1:
            when += (1 - tokens) / rate
            tokens = 1.0
        return when, TokenBucket(tokens - 1, when)


@dataclass(frozen=True)
class ScanRequest:
    """One request to qBittorrent. kind: "torrent" (torrents/trackers?hash=), "hashes"
    (torrents/info?hashes=a|b&includeTrackers=true) or "page" (torrents/info?includeTrackers=true&sort=hash
    &offset=&limit=). `hashes`: the torrents it fetches (for a page: those the Snapshot puts on it)."""

    kind: str
    not_before: float
    hashes: tuple[str, ...]
    offset: int = 0
    limit: int = 0


@dataclass(frozen=True)
class ScanPlan:
    requests: tuple[ScanRequest, ...]
    bucket: TokenBucket  # carry it to the next plan
    due: int  # torrents due now
    left: int  # of those, how many this plan does not reach (the backlog)


def due_order(
    snapshot: Snapshot, state: TrackerHealth, now: float, source: str, policy: TrackerScanPolicy
) -> list[str]:
    """The hashes due for a fetch, most urgent first (see the module docstring).

    Sorted per priority and kind, not as one list of (priority, fetched_at, hash) keys: the first sweep
    of 50,000 torrents sorts strings (~20 ms) rather than tuples (~130 ms), in every run of the sweep."""
    flagged = (state.flagged or frozenset()) if source == "flagged" else None
    records, changed_at = state.records, state.changed_at
    first: list[str] = []  # never fetched (with flags: and flagged)
    worth: list[tuple[float, str]] = []  # changed since the fetch, or suspect
    unflagged: list[str] = []  # never fetched, not flagged
    stale: list[tuple[float, str]] = []
    for h, t in snapshot.torrents.items():
        rec = records.get(h)
        if rec is None:
            (first if flagged is None or h in flagged else unflagged).append(h)
            continue
        fetched = rec.fetched_at
        if changed_at.get(h, -math.inf) > fetched:  # TrackerHealth.changed_since_fetch
            worth.append((fetched, h))
        elif now - fetched >= policy.recheck_after and _suspect(t, rec, flagged):
            worth.append((fetched, h))
        elif now - fetched >= policy.stale_after:
            stale.append((fetched, h))
    for part in (first, worth, unflagged, stale):
        part.sort()
    return [*first, *(h for _, h in worth), *unflagged, *(h for _, h in stale)]


def _suspect(t: Torrent, rec: TorrentTrackers, flagged: frozenset[str] | None) -> bool:
    """Worth a recheck: an announce in progress when fetched (its outcome unknown: without this it stayed
    `updating` until stale_after); with 5.2's flags, flagged; before, errored, a stalled download or a
    known problem."""
    if rec.announcing:
        return True
    if flagged is not None:
        return t.hash in flagged
    return rec.problem or STATUS_OF_STATE.get(t.state, "unknown") in SUSPECT_STATUSES


def plan_scan(
    snapshot: Snapshot,
    state: TrackerHealth,
    now: float,
    bucket: TokenBucket,
    source: str,
    policy: TrackerScanPolicy,
) -> ScanPlan:
    """The requests for the next `policy.interval` seconds. Call state.observe(snapshot) first."""
    if source not in SOURCES:
        raise ValueError(f"source: {source!r} is not one of {', '.join(SOURCES)}")
    due = due_order(snapshot, state, now, source, policy)
    if bucket.at > now + policy.interval:
        bucket = TokenBucket(0.0, now)  # the clock went back: start empty rather than wait for the old time
    slots = _Slots(bucket, now, policy)
    if source == "per_torrent":
        # due first: zip must not take a token it has no torrent for
        requests = [ScanRequest("torrent", when, (h,)) for h, when in zip(due, slots, strict=False)]
    else:
        requests = _batches(snapshot, due, slots, policy)
    fetched = {h for r in requests for h in r.hashes}
    left = len(due) - len(fetched.intersection(due))  # a page may fetch torrents not due
    return ScanPlan(tuple(requests), slots.bucket, len(due), left)


class _Slots:
    """The times tokens become available in [now, now + interval), taken one by one."""

    def __init__(self, bucket: TokenBucket, now: float, policy: TrackerScanPolicy) -> None:
        self.bucket, self.now, self.policy = bucket, now, policy
        self.end = now + policy.interval

    def __iter__(self) -> Iterator[float]:
        rate = self.policy.requests_per_second
        if rate <= 0 or self.policy.burst < 1:
            return
        while True:
            when, after = self.bucket.take(rate, self.policy.burst, self.now)
            if when >= self.end:
                return
            self.bucket = after
            yield when


def _batches(
    snapshot: Snapshot, due: list[str], slots: _Slots, policy: TrackerScanPolicy
) -> list[ScanRequest]:
    """Pages where they are dense (see the module docstring), hash batches elsewhere; in due order."""
    size, batch = max(policy.page_size, 1), max(policy.hash_batch, 1)
    order: list[str] = sorted(snapshot.torrents) if len(due) > batch and size > batch else []
    page_of: dict[str, int] = {}
    if order:  # each due torrent's page, found in C (a first sweep: 50,000 of them)
        position = dict(zip(order, range(len(order)), strict=True))  # unique hashes: bisect_left(order, h)
        page_of = dict(
            zip(
                due,
                map(operator.floordiv, map(position.__getitem__, due), repeat(size, len(due))),
                strict=True,
            )
        )
    # a page must bring more due torrents than one batch could, and be at least half due
    dense = {p for p, n in Counter(page_of.values()).items() if n > batch and 2 * n >= size}
    if dense:  # the due torrents on no dense page, in due order (found in C)
        loose = deque(
            compress(due, map(operator.not_, map(dense.__contains__, map(page_of.__getitem__, due))))
        )
    else:
        loose = deque(due)
    covered: set[str] = set()
    requests: list[ScanRequest] = []
    tokens = iter(slots)
    for h in due:
        if h in covered:
            continue
        when = next(tokens, None)
        if when is None:
            break
        page = page_of.get(h)
        if page is not None and page in dense:
            hashes = tuple(order[page * size : (page + 1) * size])
            requests.append(ScanRequest("page", when, hashes, offset=page * size, limit=size))
        else:
            hashes = tuple(loose.popleft() for _ in range(min(batch, len(loose))))
            requests.append(ScanRequest("hashes", when, hashes))
        covered.update(hashes)
    return requests
