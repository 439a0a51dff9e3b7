"""CompletionEventManager: which torrents have newly completed, which handlers apply, when to retry. Pure.

A completion is a complete torrent (state.is_complete: all wanted data, not checking, moving,
fetching metadata or errored), keyed by (hash, completion_on): a torrent re-downloaded after a recheck
is a new completion only if qBittorrent gave it a new completion_on. The ledger in the store holds
every key seen; anything complete whose key is not there is new, which is how completions that
happened while the service was down are found at the next start.

The very first run takes a baseline: torrents already complete are recorded as seen, not handled,
unless they completed within the `backfill` window.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from ..durations import backoff_delay
from ..model import Snapshot, Torrent
from .policy import Filter
from .state import is_complete

Key = tuple[str, int]


def completion_key(t: Torrent) -> Key | None:
    """(hash, completion_on) if the torrent counts as complete now (state.is_complete), else None."""
    return (t.hash, max(t.completion_on, 0)) if is_complete(t) else None


def find_new(
    snapshot: Snapshot,
    known: AbstractSet[Key],
    looked_at: Mapping[str, Torrent] | None = None,
    changed: AbstractSet[str] | None = None,
) -> list[Torrent]:
    """Complete torrents whose key is not in `known`, oldest completion first.

    `looked_at`: the torrents of an earlier call whose new ones were all added to `known` since. The
    mirror keeps an unchanged torrent as the same object, so those same objects cannot be new: they are
    skipped in one C-level pass, and a run at 50,000 torrents looks at the few that changed. `changed`
    (Snapshot.changed_since that call's snapshot), when known, names those few without the pass."""
    torrents = snapshot.torrents
    candidates: Iterable[Torrent] = torrents.values()
    if changed is not None and looked_at:
        candidates = [t for h in changed if (t := torrents.get(h)) is not None]
    elif looked_at:
        differs = map(operator.is_not, map(looked_at.get, torrents), torrents.values())
        candidates = itertools.compress(torrents.values(), differs)
    new = []
    for t in candidates:
        if t.amount_left == 0:  # cheap test first: most torrents of a large instance are seeds
            key = completion_key(t)
            if key is not None and key not in known:
                new.append(t)
    new.sort(key=lambda t: (t.completion_on, t.hash))
    return new


def take_baseline(snapshot: Snapshot, now: float, backfill: float) -> tuple[list[Key], list[Torrent]]:
    """First run: (keys to record as already seen, torrents inside the backfill window to handle)."""
    seen, new = [], []
    for t in find_new(snapshot, frozenset()):
        if backfill > 0 and t.completion_on >= now - backfill:
            new.append(t)
        else:
            seen.append((t.hash, max(t.completion_on, 0)))
    return seen, new


def record(t: Torrent, instance: str = "") -> dict[str, Any]:
    """The fields of a completed torrent that handlers, the ledger and the history show."""
    return {
        "hash": t.hash,
        "name": t.name,
        "category": t.category,
        "tags": list(t.tags),
        "size": t.size,
        "save_path": t.save_path,
        "content_path": t.content_path,
        "tracker": t.primary_tracker,
        "trackers": list(t.hosts),
        "added_on": t.added_on,
        "completion_on": max(t.completion_on, 0),
        "downloaded": t.downloaded,
        "uploaded": t.uploaded,
        "ratio": t.ratio,
        "instance": instance,
    }


def matching(handlers: Sequence[tuple[str, Filter]], torrent: Mapping[str, Any]) -> list[str]:
    """Names of the handlers whose filter matches, in configuration order."""
    return [name for name, f in handlers if f.matches(torrent)]


def after_failure(
    attempts: int, retries: int, now: float, backoff: float, cap: float = 3600.0
) -> tuple[str, float]:
    """(status, retry_at) after failed attempt number `attempts` (1-based): retry with exponential
    backoff (backoff, 2*backoff, ... up to cap) while attempts <= retries, then dead-letter."""
    if attempts > retries:
        return "dead", 0.0
    return "pending", now + backoff_delay(attempts, backoff, cap)
