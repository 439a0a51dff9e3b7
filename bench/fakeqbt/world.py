"""The fake qBittorrent's data: torrents, trackers, server state, and sync/maindata with real `rid` deltas.

Every `tick()` is one interval of activity: `churn` of the torrents change (default 1 %), `added` new
torrents appear and `removed` disappear, and the server state moves. Each tick gets a new `version` and
a `Change` record of what it touched, so a delta for any version a client may still hold is the merge
of the Changes after it.

`rid` semantics follow qBittorrent's SyncController (one per login session):
- the answer to rid N (N > 0) is a delta when N is the last rid sent to that session (the client got it)
  or the last one the session acknowledged (the client lost the answer and asks again); anything else,
  and rid 0, gets `full_update: true`;
- each answer carries the session's next rid, cycling 1..1000000;
- a delta holds only the changed keys of changed torrents, full dicts of torrents added since,
  `torrents_removed` for torrents the client knew, the full hash list of every tracker URL whose list
  changed, `trackers_removed`, and only the changed server_state keys.

Serialised torrent JSON is cached per torrent and rebuilt only when it changes, so a full list of
100,000 torrents is a join, not 100,000 json.dumps calls.
"""

from __future__ import annotations

import bisect
import json
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import records
from .filters import select
from .profiles import Profile


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class SyncSession:
    last_sent_rid: int = 0
    last_sent_version: int = 0
    accepted_rid: int = -1
    accepted_version: int = 0


@dataclass
class Change:
    version: int
    torrents: dict[str, set[str] | None] = field(default_factory=dict)  # None: added, send it whole
    removed: dict[str, int] = field(default_factory=dict)  # hash -> version it was added at
    trackers: set[str] = field(default_factory=set)
    trackers_removed: dict[str, int] = field(default_factory=dict)  # url -> version it appeared at
    server: set[str] = field(default_factory=set)


class World:
    def __init__(
        self,
        profile: Profile,
        size: int,
        seed: int = 1,
        churn: float = 0.01,
        added: int | None = None,
        removed: int | None = None,
        interval: int = 15,
        epoch: int | None = None,
    ) -> None:
        self.profile, self.churn, self.interval = profile, churn, interval
        self.added = max(1, round(size * 0.0001)) if added is None else added
        self.removed = self.added if removed is None else removed
        self.rng = random.Random(seed)
        self.now = int(time.time()) if epoch is None else epoch
        self.lock = threading.Lock()
        self.version = 0
        self.records: dict[str, dict[str, Any]] = {}
        self.pieces: dict[str, bytes] = {}  # hash -> b'"<hash>":{...}', its sync/maindata form
        self.born: dict[str, int] = {}
        self.urls_of: dict[str, list[str]] = {}
        self.trackers: dict[str, dict[str, None]] = {}  # url -> ordered set of hashes
        self.tracker_born: dict[str, int] = {}
        self.hashes: list[str] = []
        self._index: dict[str, int] = {}
        self.changes: list[Change] = []
        self.sessions: dict[str, SyncSession] = {}
        self.categories = {
            name: {"name": name, "savePath": f"/data/torrents/{name}"}
            for name, _ in records.CATEGORIES
            if name
        }
        self.tags = list(records.TAGS)
        for _ in range(size):
            self._add(None)
        self.server: dict[str, Any] = self._server_state()

    # -- building and changing the data -----------------------------------------------------

    def _add(self, change: Change | None, state4: str | None = None) -> str:
        h = f"{self.rng.getrandbits(160):040x}"
        urls = records.tracker_urls(self.rng)
        added_on = None if change is None else self.now
        if change is not None and state4 is None:
            state4 = self.rng.choice(("downloading", "metaDL", "stalledDL"))
        self.records[h] = records.new_torrent(self.rng, h, self.now, self.profile, urls, state4, added_on)
        self.pieces[h] = b'"%s":%s' % (h.encode(), dumps(self.records[h]))
        self.born[h] = self.version
        self.urls_of[h] = urls
        self._index[h] = len(self.hashes)
        self.hashes.append(h)
        for url in urls:
            if url not in self.trackers:
                self.trackers[url] = {}
                self.tracker_born[url] = self.version
            self.trackers[url][h] = None
        if change is not None:
            change.torrents[h] = None
            change.trackers.update(urls)
        return h

    def _remove(self, h: str, change: Change) -> None:
        del self.records[h], self.pieces[h]
        change.torrents.pop(h, None)
        change.removed[h] = self.born.pop(h)
        i = self._index.pop(h)
        last = self.hashes.pop()
        if last != h:
            self.hashes[i] = last
            self._index[last] = i
        for url in self.urls_of.pop(h):
            del self.trackers[url][h]
            if self.trackers[url]:
                change.trackers.add(url)
            else:
                del self.trackers[url]
                change.trackers.discard(url)
                change.trackers_removed[url] = self.tracker_born.pop(url)

    def tick(self, n: int = 1) -> dict[str, int]:
        """Advance `n` intervals. Returns how many torrents changed, were added and removed."""
        totals = {"changed": 0, "added": 0, "removed": 0}
        with self.lock:
            for _ in range(n):
                self.version += 1
                self.now += self.interval
                change = Change(self.version)
                for h in self.rng.sample(
                    self.hashes, min(len(self.hashes), round(len(self.hashes) * self.churn))
                ):
                    keys = records.churn(self.rng, self.records[h], self.now, self.interval)
                    if keys:
                        change.torrents[h] = keys
                        self.pieces[h] = b'"%s":%s' % (h.encode(), dumps(self.records[h]))
                        totals["changed"] += 1
                for h in self.rng.sample(self.hashes, min(len(self.hashes), self.removed)):
                    self._remove(h, change)
                for _ in range(self.added):
                    self._add(change)
                server = self._server_state()
                change.server = {k for k, v in server.items() if self.server.get(k) != v}
                self.server = server
                totals["added"] += self.added
                totals["removed"] += self.removed
                self.changes.append(change)
            self._prune()
        return totals

    def _server_state(self) -> dict[str, Any]:
        up = sum(r["upspeed"] for r in self.records.values())
        down = sum(r["dlspeed"] for r in self.records.values())
        prev = getattr(self, "server", None) or {
            "alltime_ul": 40 * 2**40,
            "alltime_dl": 25 * 2**40,
            "up_info_data": 0,
            "dl_info_data": 0,
        }
        state = {
            "alltime_dl": prev["alltime_dl"] + down * self.interval,
            "alltime_ul": prev["alltime_ul"] + up * self.interval,
            "average_time_queue": self.rng.randint(5, 40),
            "connection_status": "connected",
            "dht_nodes": 0,
            "dl_info_data": prev["dl_info_data"] + down * self.interval,
            "dl_info_speed": down,
            "dl_rate_limit": 0,
            "free_space_on_disk": 4 * 2**40 - prev["dl_info_data"],
            "queued_io_jobs": self.rng.randint(0, 4),
            "queueing": False,
            "read_cache_hits": "0",
            "read_cache_overload": "0",
            "refresh_interval": 1500,
            "total_buffers_size": 0,
            "total_peer_connections": sum(r["num_leechs"] + r["num_seeds"] for r in self.records.values()),
            "total_queued_size": 0,
            "total_wasted_session": 0,
            "up_info_data": prev["up_info_data"] + up * self.interval,
            "up_info_speed": up,
            "up_rate_limit": 0,
            "use_alt_speed_limits": False,
            "write_cache_overload": "0",
        }
        state["global_ratio"] = f"{state['alltime_ul'] / state['alltime_dl']:.2f}"
        state.update(self.profile.server_extra)
        return dict(sorted(state.items()))

    def _prune(self) -> None:
        """Forget Changes no live session can still ask about."""
        if len(self.sessions) > 64:  # qBittorrent expires idle sessions; keep the 64 most recent
            for sid in list(self.sessions)[:-64]:
                del self.sessions[sid]
        floor = min(
            (
                min(s.last_sent_version, s.accepted_version if s.accepted_rid > 0 else s.last_sent_version)
                for s in self.sessions.values()
            ),
            default=self.version,
        )
        keep = bisect.bisect_right([c.version for c in self.changes], floor)
        del self.changes[:keep]

    # -- sync/maindata -------------------------------------------------------------------------

    def maindata(self, sid: str, rid: int) -> bytes:
        with self.lock:
            session = self.sessions.setdefault(sid, SyncSession())
            self.sessions[sid] = self.sessions.pop(sid)  # most recently used last
            base = None
            if rid > 0 and session.last_sent_rid > 0:
                if rid == session.last_sent_rid:
                    session.accepted_rid, session.accepted_version = rid, session.last_sent_version
                if rid == session.accepted_rid:
                    base = session.accepted_version
            new_rid = session.last_sent_rid % 1_000_000 + 1
            body = self._full(new_rid) if base is None else self._delta(new_rid, base)
            session.last_sent_rid, session.last_sent_version = new_rid, self.version
            return body

    def _full(self, rid: int) -> bytes:
        trackers = {url: list(hs) for url, hs in self.trackers.items()}
        return b"".join(
            (
                b'{"categories":',
                dumps(self.categories),
                b',"full_update":true,"rid":%d' % rid,
                b',"server_state":',
                dumps(self.server),
                b',"tags":',
                dumps(self.tags),
                b',"torrents":{',
                b",".join(self.pieces.values()),
                b'},"trackers":',
                dumps(trackers),
                b"}",
            )
        )

    def _delta(self, rid: int, base: int) -> bytes:
        start = bisect.bisect_right([c.version for c in self.changes], base)
        torrents: dict[str, set[str] | None] = {}
        removed: list[str] = []
        trackers: set[str] = set()
        trackers_removed: list[str] = []
        server: set[str] = set()
        for c in self.changes[start:]:
            for h, keys in c.torrents.items():
                old = torrents.get(h, set())
                torrents[h] = None if keys is None or old is None else old | keys
            removed += [h for h, born in c.removed.items() if born <= base]
            trackers |= c.trackers
            trackers_removed += [u for u, born in c.trackers_removed.items() if born <= base]
            server |= c.server
        parts = [b'{"rid":%d' % rid]
        if server:
            parts += [b',"server_state":', dumps({k: self.server[k] for k in sorted(server)})]
        pieces = []
        for h, keys in torrents.items():
            rec = self.records.get(h)
            if rec is None:
                continue
            if keys is None:  # added since base
                pieces.append(self.pieces[h])
            else:
                pieces.append(b'"%s":%s' % (h.encode(), dumps({k: rec[k] for k in sorted(keys)})))
        if pieces:
            parts += [b',"torrents":{', b",".join(pieces), b"}"]
        removed = [h for h in removed if h not in self.records]
        if removed:
            parts += [b',"torrents_removed":', dumps(removed)]
        live = {u: list(self.trackers[u]) for u in sorted(trackers) if u in self.trackers}
        if live:
            parts += [b',"trackers":', dumps(live)]
        trackers_removed = [u for u in trackers_removed if u not in self.trackers]
        if trackers_removed:
            parts += [b',"trackers_removed":', dumps(trackers_removed)]
        parts.append(b"}")
        return b"".join(parts)

    # -- the other read endpoints ---------------------------------------------------------------

    def torrents_info(self, params: dict[str, str]) -> bytes:
        with self.lock:
            chosen = select(self.records, self.hashes, params)
            return (
                b"["
                + b",".join(b'{"hash":"%s",%s' % (h.encode(), self.pieces[h][44:]) for h in chosen)
                + b"]"
            )

    def transfer_info(self) -> bytes:
        keys = (
            "connection_status",
            "dht_nodes",
            "dl_info_data",
            "dl_info_speed",
            "dl_rate_limit",
            "up_info_data",
            "up_info_speed",
            "up_rate_limit",
        )
        with self.lock:
            return dumps({k: self.server[k] for k in keys})

    def torrent_hashes(self) -> Iterable[str]:
        with self.lock:
            return list(self.hashes)
