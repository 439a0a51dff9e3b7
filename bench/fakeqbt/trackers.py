"""Tracker lists in the fake qBittorrent, in each version's shapes, for the tracker scan's cost benchmark.

    torrents/trackers?hash=H                 every version: "** [DHT] **", "** [PeX] **", "** [LSD] **"
                                             rows first, then one row per tracker URL
    torrents/info?includeTrackers=true       5.1+: each torrent with a `trackers` list (no DHT/PeX/LSD
                                             rows); 4.5 and 5.0 ignore the parameter (no `trackers` key)
    sync/maindata torrents                   5.2+: has_tracker_error, has_tracker_warning,
                                             has_other_announce_error (announce.flags, which
                                             records.new_torrent asks)

What each URL says is announce.says: fixed per torrent and URL, so every request and every version tell
the same story. Status codes as each version numbers them (see
exporter/managers/tracker_health/classify.py): a tracker's error answer is 4 up to 5.1 and 5 from 5.2,
which also adds `updating` and `endpoints` to each row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .announce import SAYS, says
from .filters import select
from .world import World, dumps

NEW_CODES = frozenset({"5.2.0"})  # profiles numbering statuses as 5.2+ does
INCLUDE_TRACKERS = frozenset({"5.1.2", "5.2.0"})  # profiles that honour includeTrackers


def _row(url: str, tier: int, said: str, new: bool) -> dict[str, Any]:
    old_code, new_code, msg = SAYS[said]
    code = new_code if new else old_code
    peers = 0 if said == "working" else -1
    row: dict[str, Any] = {
        "url": url,
        "status": code,
        "tier": tier,
        "num_peers": peers,
        "num_seeds": -1,
        "num_leeches": -1,
        "num_downloaded": -1,
        "msg": msg,
    }
    if new:
        endpoint = {
            "name": "203.0.113.7:6881",
            "bt_version": 1,
            "status": code,
            "msg": msg,
            "updating": False,
        }
        row.update(updating=False, endpoints=[{**endpoint, "num_peers": peers}])
    return row


def rows(world: World, h: str, with_others: bool) -> list[dict[str, Any]] | None:
    """One torrent's rows (DHT/PeX/LSD first when `with_others`), or None when there is no such torrent.
    Called under world.lock."""
    rec, urls = world.records.get(h), world.urls_of.get(h)
    if rec is None or urls is None:
        return None
    new = world.profile.name in NEW_CODES
    out = []
    if with_others:
        out += [
            {**_row(f"** [{name}] **", -1, "working", new), "num_peers": 0} for name in ("DHT", "PeX", "LSD")
        ]
    out += [_row(u, i, says(h, u, urls, rec["tracker"]), new) for i, u in enumerate(urls)]
    return out


def torrent_trackers(world: World, h: str) -> tuple[int, str, bytes]:
    with world.lock:
        found = rows(world, h.lower(), with_others=True)
    if found is None:
        return 404, "text/plain; charset=UTF-8", b"Not Found"
    return 200, "application/json", dumps(found)


def torrents_info(world: World, params: Mapping[str, str]) -> bytes:
    """torrents/info, with each torrent's `trackers` when asked and the version has them."""
    if params.get("includeTrackers", "").lower() != "true" or world.profile.name not in INCLUDE_TRACKERS:
        return world.torrents_info(dict(params))
    with world.lock:
        chosen = select(world.records, world.hashes, params)
        return (
            b"["
            + b",".join(
                b'{"hash":"%s","trackers":%s,%s'
                % (h.encode(), dumps(rows(world, h, with_others=False)), world.pieces[h][44:])
                for h in chosen
            )
            + b"]"
        )
