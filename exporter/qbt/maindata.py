"""The merge half of the mirror: apply sync/maindata payloads (full or `rid` deltas) to local state.

No I/O here: `MaindataState.apply(payload)` takes the parsed JSON of one response, and
`snapshot()` hands out an immutable Snapshot. connection.py does the requests, mirror.py the syncing; the
tests replay recorded payload sequences straight into this class.

Delta rules (qBittorrent's SyncController, checked against 4.5.2 and the 5.x wiki):
- `full_update: true` replaces everything;
- a torrent dict may be partial: only changed keys are sent, merged key by key;
- `server_state` and each category may be partial too;
- `trackers` maps a tracker URL to the *full* list of its torrents' hashes; `trackers_removed`,
  `torrents_removed`, `categories_removed`, `tags_removed` list what is gone.

A payload is checked whole before any of it is applied (`check_payload`): a response with a wrong
container type changes nothing and raises PayloadError, so the mirror never keeps a new `rid` with
half a delta behind it. Hashes, category and tag names are made valid UTF-8 on the way in
(model.clean_text), like every text field of a torrent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..model import (
    TORRENT_FIELDS,
    AppInfo,
    Group,
    ServerState,
    Snapshot,
    Torrent,
    clean_text,
    torrent_changes,
    tracker_host,
)


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """json object_hook: a full torrent dict (~50 keys) keeps only the keys the model reads."""
    if len(obj) > 20 and "state" in obj:
        return {k: v for k, v in obj.items() if k in TORRENT_FIELDS}
    return obj


def parse_maindata(text: str) -> Any:
    """Parse a sync/maindata body, dropping torrent keys Torrent never reads (magnet_uri among them)."""
    return json.loads(text, object_hook=_slim)


_FIELDS = tuple(f.name for f in dataclasses.fields(Torrent))


def _replace(old: Torrent, changes: dict[str, Any]) -> Torrent:
    """dataclasses.replace, minus its per-call introspection (this runs for every changed torrent)."""
    return Torrent(*[changes[f] if f in changes else getattr(old, f) for f in _FIELDS])


class Totals:
    """Per (state, category), per category and per tracker-host totals of a set of torrents.

    Kept incrementally: MaindataState calls `add(old, -1)` and `add(new, +1)` for each changed
    torrent, so a scrape does not walk 50,000 torrents; the tests check it against a from-scratch sum.
    """

    __slots__ = ("state_category", "category", "tracker")

    def __init__(self) -> None:
        self.state_category: dict[tuple[str, str], int] = {}
        self.category: dict[str, list[int]] = {}
        self.tracker: dict[str, list[int]] = {}

    def add(self, t: Torrent, sign: int = 1) -> None:
        key = (t.state, t.category)
        self.state_category[key] = self.state_category.get(key, 0) + sign
        _bump(self.category, t.category, t, sign)
        for host in t.hosts:
            _bump(self.tracker, host, t, sign)

    def frozen(self) -> tuple[dict[tuple[str, str], int], dict[str, Group], dict[str, Group]]:
        """Copies for a Snapshot, without the groups that became empty."""
        return (
            {k: n for k, n in self.state_category.items() if n},
            {k: Group(*v) for k, v in self.category.items() if v[0]},
            {k: Group(*v) for k, v in self.tracker.items() if v[0]},
        )


def _bump(groups: dict[str, list[int]], key: str, t: Torrent, sign: int) -> None:
    g = groups.get(key)
    if g is None:
        g = groups[key] = [0, 0, 0, 0]
    g[0] += sign
    g[1] += sign * t.size
    g[2] += sign * t.uploaded
    g[3] += sign * t.downloaded


class PayloadError(ValueError):
    """The response does not look like sync/maindata."""


# Keys whose value must be a list of strings, and keys whose value must be an object. Absent or null
# means none (qBittorrent leaves a key out rather than send null; null is harmless).
_LISTS = ("torrents_removed", "categories_removed", "tags", "tags_removed", "trackers_removed")
_OBJECTS = ("torrents", "categories", "server_state", "trackers")


def check_payload(payload: Any) -> dict[str, Any]:
    """`payload` if it has the shape of sync/maindata, else PayloadError naming the first wrong key.

    Only the containers are checked: the values inside a torrent or server_state may be anything JSON
    holds, model.py's conversions take them all. Checking first is what makes `apply` all or nothing.
    """
    if not isinstance(payload, dict):
        raise PayloadError("sync/maindata response is not a JSON object")
    rid = payload.get("rid")
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise PayloadError("sync/maindata response has no integer rid")
    if not isinstance(payload.get("full_update", False), bool):
        raise PayloadError("sync/maindata 'full_update' is not true or false")
    for key in _LISTS:
        value = payload.get(key)
        if value is not None and not _is_strings(value):
            raise PayloadError(f"sync/maindata '{key}' is not a list of strings")
    for key in _OBJECTS:
        value = payload.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise PayloadError(f"sync/maindata '{key}' is not an object")
    if not all(isinstance(t, dict) for t in (payload.get("torrents") or {}).values()):
        raise PayloadError("sync/maindata 'torrents' holds a torrent that is not an object")
    if not all(_is_strings(hashes) for hashes in (payload.get("trackers") or {}).values()):
        raise PayloadError("sync/maindata 'trackers' holds a tracker whose hashes are not a list of strings")
    return payload


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _clean_all(texts: list[str]) -> set[str]:
    """set(map(clean_text, texts)), with a C-speed path for the usual all-ASCII hash lists."""
    return set(texts) if "".join(texts).isascii() else {clean_text(t) for t in texts}


class MaindataState:
    def __init__(self, instance: str = "") -> None:
        self.instance = instance
        self.app = AppInfo()
        self.reset()

    def reset(self) -> None:
        self.rid = 0
        self.generation = getattr(self, "generation", 0) + 1
        self._torrents: dict[str, Torrent] = {}
        self._server_raw: dict[str, Any] = {}
        self._categories: dict[str, dict[str, Any]] = {}
        self._tags: set[str] = set()
        self._tracker_urls: dict[str, set[str]] = {}  # url -> hashes
        self._urls_of: dict[str, set[str]] = {}  # hash -> urls: always the inverse of _tracker_urls
        self._host_cache: dict[str, str] = {}  # url -> host
        self._totals = Totals()
        self._snapshot_torrents: Mapping[str, Torrent] = MappingProxyType({})
        self._torrents_dirty = True
        self._dirty = True
        self._last: Snapshot | None = None

    def set_app(self, app: AppInfo) -> None:
        if app != self.app:
            self.app = app
            self._dirty = True

    # -- applying payloads -------------------------------------------------------------------

    def apply(self, payload: Any) -> None:
        """Apply one parsed response: all of it, or (PayloadError) none of it."""
        check_payload(payload)
        if payload.get("full_update"):
            app = self.app
            self.reset()
            self.app = app
        self.rid = payload["rid"]
        changed = False

        server = payload.get("server_state")
        if isinstance(server, dict) and server:
            self._server_raw.update(server)
            changed = True

        changed |= self._apply_categories(payload)
        changed |= self._apply_tags(payload)
        retracked = self._apply_trackers(payload)

        removed = [clean_text(h) for h in payload.get("torrents_removed") or ()]
        torrents = payload.get("torrents") or {}
        for h in removed:
            self._leave_trackers(h)
            old = self._torrents.pop(h, None)
            if old is not None:
                self._totals.add(old, -1)
        for key, raw in torrents.items():
            h = clean_text(key)
            self._put(h, raw)
            retracked.discard(h)
        for h in retracked:
            if h in self._torrents:
                self._put(h, {})
        if removed or torrents or retracked:
            self._torrents_dirty = True
            changed = True
        if changed:
            self._dirty = True

    def _put(self, h: str, raw: Mapping[str, Any]) -> None:
        changes = torrent_changes(raw)
        hosts = self._hosts_of(h)
        old = self._torrents.get(h)
        if old is None:
            new = Torrent(hash=h, trackers=hosts, **changes)
        else:
            changes = {k: v for k, v in changes.items() if getattr(old, k) != v}
            if old.trackers != hosts:
                changes["trackers"] = hosts
            if not changes:
                return
            new = _replace(old, changes)
            self._totals.add(old, -1)
        self._torrents[h] = new
        self._totals.add(new, +1)

    def _apply_categories(self, payload: dict[str, Any]) -> bool:
        changed = False
        for key, value in (payload.get("categories") or {}).items():
            name = clean_text(key)
            merged = dict(self._categories.get(name, {}))
            if isinstance(value, dict):
                merged.update(value)
            self._categories[name] = merged
            changed = True
        for name in payload.get("categories_removed") or ():
            changed |= self._categories.pop(clean_text(name), None) is not None
        return changed

    def _apply_tags(self, payload: dict[str, Any]) -> bool:
        added = {clean_text(t) for t in payload.get("tags") or ()}
        removed = {clean_text(t) for t in payload.get("tags_removed") or ()}
        self._tags |= added
        self._tags -= removed
        return bool(added or removed)

    def _apply_trackers(self, payload: dict[str, Any]) -> set[str]:
        """Update url -> hashes; returns the hashes whose set of tracker URLs changed."""
        affected: set[str] = set()
        updates: dict[str, list[str]] = dict(payload.get("trackers") or {})
        for url in payload.get("trackers_removed") or ():
            updates[url] = []
        for url, hashes in updates.items():
            new = _clean_all(hashes)
            old = self._tracker_urls.get(url, set())
            for h in old - new:
                self._drop_url(h, url)
            for h in new - old:
                self._urls_of.setdefault(h, set()).add(url)
            affected |= old ^ new
            if new:
                self._tracker_urls[url] = new
            else:
                self._tracker_urls.pop(url, None)
                self._host_cache.pop(url, None)
        return affected

    def _leave_trackers(self, h: str) -> None:
        """A removed torrent leaves its trackers' lists now, as a full resync would have it (qBittorrent
        resends the lists without it, in this delta or a later one)."""
        for url in self._urls_of.pop(h, ()):
            hashes = self._tracker_urls.get(url)
            if hashes is not None:
                hashes.discard(h)
                if not hashes:
                    del self._tracker_urls[url]
                    self._host_cache.pop(url, None)

    def _drop_url(self, h: str, url: str) -> None:
        urls = self._urls_of.get(h)
        if urls is not None:
            urls.discard(url)
            if not urls:
                del self._urls_of[h]

    def _hosts_of(self, h: str) -> tuple[str, ...]:
        urls = self._urls_of.get(h)
        if not urls:
            return ()
        hosts = set()
        for url in urls:
            host = self._host_cache.get(url)
            if host is None:
                host = self._host_cache[url] = tracker_host(url)
            if host:
                hosts.add(host)
        return tuple(sorted(hosts))

    # -- handing out snapshots ---------------------------------------------------------------

    def snapshot(self, taken_at: float) -> Snapshot:
        """An immutable Snapshot; the same object again while nothing has changed."""
        if not self._dirty and self._last is not None:
            if self._last.taken_at != taken_at:
                self._last = dataclasses.replace(self._last, taken_at=taken_at)
            return self._last
        if self._torrents_dirty:
            self._snapshot_torrents = MappingProxyType(dict(self._torrents))
            self._torrents_dirty = False
        self.generation += 1
        by_state_category, by_category, by_tracker = self._totals.frozen()
        self._last = Snapshot(
            instance=self.instance,
            generation=self.generation,
            taken_at=taken_at,
            app=self.app,
            server=ServerState.from_raw(self._server_raw),
            torrents=self._snapshot_torrents,
            categories=tuple(sorted(self._categories)),
            tags=tuple(sorted(self._tags)),
            by_state_category=MappingProxyType(by_state_category),
            by_category=MappingProxyType(by_category),
            by_tracker=MappingProxyType(by_tracker),
        )
        self._dirty = False
        return self._last
