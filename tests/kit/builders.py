"""Builders for model objects in unit tests: torrents from qBittorrent-JSON-like keyword arguments, snapshots
(built directly, or through the real maindata merge), tracker URLs with passkeys, totals.

A torrent is described the way the Web API describes it (`state="pausedUP"`, `tags="a, b"`, `tracker=<url>`)
and converted by the model's own `torrent_changes`, so a test sees exactly what the mirror would build.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from exporter.model import TORRENT_FIELDS, AppInfo, ServerState, Snapshot, Torrent, torrent_changes
from exporter.qbt.maindata import MaindataState, Totals

# Torrent fields that come from elsewhere in maindata than the torrent's own JSON (the `trackers` map).
_MODEL_ONLY = frozenset({"trackers"})


def tracker_url(host: str) -> str:
    """An announce URL on `host` that carries a passkey (which must never reach a label or a log)."""
    return f"https://{host}/announce.php?passkey=SECRET-{host}"


def torrent(hash: str, **raw: Any) -> Torrent:
    """A Torrent from qBittorrent JSON keys. `tracker` may be a bare host (it becomes a URL on that host);
    `trackers` (a tuple of hosts) is the model's field. An unknown key is an error: a typo would otherwise
    be dropped silently, as the model drops keys it does not read."""
    unknown = set(raw) - set(TORRENT_FIELDS) - _MODEL_ONLY
    if unknown:
        raise TypeError(f"torrent(): not a qBittorrent torrent field: {', '.join(sorted(unknown))}")
    if isinstance(raw.get("tags"), (list, tuple)):  # a convenience: qBittorrent sends "a, b"
        raw["tags"] = ", ".join(raw["tags"])
    if isinstance(raw.get("tracker"), str) and raw["tracker"] and "://" not in raw["tracker"]:
        raw["tracker"] = tracker_url(raw["tracker"])
    extra = {key: tuple(raw.pop(key)) for key in _MODEL_ONLY if key in raw}
    return Torrent(hash=hash, **torrent_changes(raw), **extra)


def downloading(hash: str, *, size: int = 1000, completed: int = 0, **raw: Any) -> Torrent:
    """An incomplete torrent named "name-<hash>" (stalledDL unless `state` says otherwise), `completed` of
    `size` bytes done; `raw` overrides anything."""
    fields = {
        "name": f"name-{hash}",
        "state": "stalledDL",
        "size": size,
        "amount_left": size - completed,
        "completed": completed,
        "progress": completed / size if size else 0.0,
    }
    return torrent(hash, **{**fields, **raw})


def seeding(hash: str, *, size: int = 1000, **raw: Any) -> Torrent:
    """A complete torrent named "name-<hash>" (stalledUP unless `state` says otherwise); `raw` overrides."""
    fields = {
        "name": f"name-{hash}",
        "state": "stalledUP",
        "size": size,
        "amount_left": 0,
        "completed": size,
        "progress": 1.0,
    }
    return torrent(hash, **{**fields, **raw})


def totals_of(torrents: Iterable[Torrent]) -> Totals:
    """Per state/category/tracker totals of `torrents`, summed from scratch (the mirror keeps them
    incrementally)."""
    totals = Totals()
    for t in torrents:
        totals.add(t)
    return totals


def snapshot(
    *torrents: Torrent,
    taken_at: float = 0.0,
    generation: int = 1,
    instance: str = "test",
    server: ServerState | None = None,
    app: AppInfo | None = None,
) -> Snapshot:
    """A Snapshot holding `torrents`, with the totals the mirror would have kept for them."""
    by_state_category, by_category, by_tracker = totals_of(torrents).frozen()
    return Snapshot(
        instance,
        generation,
        taken_at,
        app or AppInfo(),
        server or ServerState(),
        MappingProxyType({t.hash: t for t in torrents}),
        by_state_category=by_state_category,
        by_category=by_category,
        by_tracker=by_tracker,
    )


def merged(
    torrents: Mapping[str, Mapping[str, Any]],
    trackers: Mapping[str, list[str]] | None = None,
    server: Mapping[str, Any] | None = None,
    taken_at: float = 0.0,
    instance: str = "test",
) -> Snapshot:
    """A Snapshot through the real merge code, from one full maindata update: `torrents` {hash: raw JSON},
    `trackers` {host: [hash, ...]} (sent as passkey URLs, as qBittorrent does), `server` server_state."""
    state = MaindataState(instance)
    state.apply(
        {
            "rid": 1,
            "full_update": True,
            "torrents": torrents,
            "server_state": server or {},
            "trackers": {tracker_url(host): hashes for host, hashes in (trackers or {}).items()},
        }
    )
    return state.snapshot(taken_at)
