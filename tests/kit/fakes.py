"""The unit tests' stand-ins for qBittorrent, time and the shared store's leases: one recording connection,
one mirror, one clock, one set of leases.

FakeConnection has Connection's interface (exporter/qbt/connection.py) without any network: `login` and
`maindata` replay scripted answers, every write is recorded in `calls` as (name, (hash, ...), *arguments),
and writes can be made to fail per hash or per write; the tracker scan's reads answer from `trackers`
and are recorded in `reads`. No MagicMock: a misspelt method is an AttributeError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from exporter.model import AppInfo, Snapshot, SyncStats
from exporter.qbt.connection import ConnectionSettings, QBittorrentError
from exporter.store import Lease, Leases, StoreError

APP = AppInfo("v5.0.2", "2.11.2", "2.0.10.0")
PREFERENCES = {  # qBittorrent's defaults for what the seeding-slots action reads
    "queueing_enabled": True,
    "max_active_uploads": 3,
    "max_active_downloads": 3,
    "max_active_torrents": 5,
}


class FakeConnection:
    """Records calls; answers from a script.

    answers: one per maindata call, a payload dict or a QBittorrentError to raise. A QBittorrentError with
        reason "auth" at the head of the script is raised by the next login instead.
    calls: ("login",), ("maindata", rid), ("close",) and each write that succeeded, as
        (name, (hash, ...), *arguments); reading the preferences is not recorded.
    failing_hashes: a write naming any of these hashes raises QBittorrentError (HTTP 500), not recorded.
    failing_writes: {write name: error}: every call of that write raises the error, not recorded.
    """

    def __init__(self, answers: Iterable[Any] = (), preferences: dict[str, Any] | None = None) -> None:
        self.answers = list(answers)
        self.calls: list[tuple] = []
        self.settings = ConnectionSettings(url="http://127.0.0.1:1", password="hunter2")
        self.prefs = dict(PREFERENCES if preferences is None else preferences)
        self.failing_hashes: set[str] = set()
        self.failing_writes: dict[str, QBittorrentError] = {}
        # The tracker scan's reads: each torrent's rows as qBittorrent sends them (hash -> rows); a read
        # raises `failing_reads` when set. Recorded as ("torrent", hash), ("hashes", (hash, ...)) or
        # ("page", offset, limit).
        self.trackers: dict[str, list[dict[str, Any]]] = {}
        self.reads: list[tuple] = []
        self.failing_reads: QBittorrentError | None = None

    # -- the session -----------------------------------------------------------------------------------

    def login(self) -> AppInfo:
        self.calls.append(("login",))
        head = self.answers[0] if self.answers else None
        if isinstance(head, QBittorrentError) and head.reason == "auth":
            raise self.answers.pop(0)
        return APP

    def maindata(self, rid: int, stream: Any = None) -> dict[str, Any]:
        self.calls.append(("maindata", rid))
        if not self.answers:
            raise AssertionError(f"FakeConnection: maindata({rid}) called, but no scripted answer is left")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        self.calls.append(("close",))

    # -- the writes ------------------------------------------------------------------------------------

    def _write(self, name: str, hashes: Iterable[str], *args: Any) -> None:
        hashes = tuple(hashes)
        if name in self.failing_writes:
            raise self.failing_writes[name]
        if self.failing_hashes.intersection(hashes):
            raise QBittorrentError("http", "qBittorrent answered HTTP 500")
        self.calls.append((name, hashes, *args))

    def stop(self, hashes: list[str]) -> None:
        self._write("stop", hashes)

    def start(self, hashes: list[str]) -> None:
        self._write("start", hashes)

    def reannounce(self, hashes: list[str]) -> None:
        self._write("reannounce", hashes)

    def recheck(self, hashes: list[str]) -> None:
        self._write("recheck", hashes)

    def add_tags(self, hashes: list[str], tags: list[str]) -> None:
        self._write("add_tags", hashes, tuple(tags))

    def remove_tags(self, hashes: list[str], tags: list[str]) -> None:
        self._write("remove_tags", hashes, tuple(tags))

    def set_category(self, hashes: list[str], category: str) -> None:
        self._write("set_category", hashes, category)

    def preferences(self) -> dict[str, Any]:
        return dict(self.prefs)

    def set_preferences(self, prefs: dict[str, Any]) -> None:
        self._write("set_preferences", (), prefs)
        self.prefs = {**self.prefs, **prefs}

    # -- the tracker scan's reads ------------------------------------------------------------------

    def _read(self, *what: Any) -> None:
        self.reads.append(what)
        if self.failing_reads is not None:
            raise self.failing_reads

    def torrent_trackers(self, h: str) -> list[dict[str, Any]] | None:
        self._read("torrent", h)
        return [dict(row) for row in self.trackers[h]] if h in self.trackers else None

    def torrents_with_trackers(
        self, hashes: Iterable[str] = (), offset: int = 0, limit: int = 0
    ) -> dict[str, list[dict[str, Any]]]:
        hashes = tuple(hashes)
        if hashes:
            self._read("hashes", hashes)
            chosen = [h for h in hashes if h in self.trackers]
        else:
            self._read("page", offset, limit)
            chosen = sorted(self.trackers)[offset : offset + limit]
        return {h: [dict(row) for row in self.trackers[h]] for h in chosen}


class FakeMirror:
    """A mirror whose refresh returns `snapshot` as it is now (None: qBittorrent is down), with a
    FakeConnection for the writes."""

    def __init__(
        self, snapshot: Snapshot | None = None, connection: FakeConnection | None = None, name: str = "test"
    ) -> None:
        self.snapshot = snapshot
        self.connection = connection or FakeConnection()
        self.name = name
        self.stats = SyncStats()

    def refresh(self, timeout: float | None = None) -> Snapshot | None:
        self.stats.up = self.snapshot is not None
        return self.snapshot

    def start(self) -> None:
        """Syncs nothing: `refresh` and `wait` answer at once."""

    def wait(self, timeout: float | None = None) -> Snapshot | None:
        return self.refresh()

    def latest(self) -> Snapshot | None:
        return self.snapshot

    def close(self) -> None:
        pass


class Clock:
    """Injected time: call it for `now`; tests move it with `clock.now += seconds`. Serves as both the
    wall clock and the monotonic clock where code takes both."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeLeases(Leases):
    """Leases in memory on a shared clock (`clock()`, seconds), as PostgresLeases keeps them; several
    Leadership objects on one FakeLeases are several replicas. `down` makes every call fail."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.rows: dict[str, tuple[str, int, float]] = {}  # instance -> (holder, token, expires_at)
        self.replicas: dict[str, float] = {}
        self.down = False

    def _up(self) -> None:
        if self.down:
            raise StoreError("store postgresql://test: cannot connect (Connection refused)")

    def heartbeat(self, holder: str, ttl: float) -> int:
        self._up()
        self.replicas[holder] = self.clock() + ttl
        return sum(1 for t in self.replicas.values() if t > self.clock())

    def held(self) -> dict[str, str]:
        self._up()
        return {i: h for i, (h, _, t) in self.rows.items() if t > self.clock()}

    def acquire(self, instance: str, holder: str, ttl: float) -> Lease | None:
        self._up()
        row = self.rows.get(instance)
        if row is not None and row[2] > self.clock():
            return None
        token = (row[1] if row else 0) + 1
        self.rows[instance] = (holder, token, self.clock() + ttl)
        return Lease(instance, holder, token)

    def renew(self, lease: Lease, ttl: float) -> bool:
        self._up()
        row = self.rows.get(lease.instance)
        if row is None or row[:2] != (lease.holder, lease.token) or row[2] <= self.clock():
            return False
        self.rows[lease.instance] = (lease.holder, lease.token, self.clock() + ttl)
        return True

    def release(self, lease: Lease) -> None:
        self._up()
        row = self.rows.get(lease.instance)
        if row is not None and row[:2] == (lease.holder, lease.token):
            self.rows[lease.instance] = (row[0], row[1], self.clock() - 0.001)

    def leave(self, holder: str) -> None:
        self._up()
        self.replicas.pop(holder, None)
