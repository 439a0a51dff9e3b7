"""`Mirror` keeps one instance's sync/maindata in memory with `rid` deltas and hands out Snapshots.

Scrapes and action jobs share it: `refresh()` makes at most one request, and none at all while the
last snapshot is younger than `min_age` or while a failure's backoff is running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..durations import backoff_delay
from ..model import Snapshot, SyncStats
from .connection import Connection, QBittorrentError
from .maindata import MaindataState, PayloadError

log = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff: `base`, 2*base, ... up to `cap` seconds."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next_delay(self) -> float:
        self.failures += 1
        return backoff_delay(self.failures, self.base, self.cap)

    def reset(self) -> None:
        self.failures = 0


class Mirror:
    """One qBittorrent instance, mirrored. Thread-safe; Snapshots it returns are immutable."""

    def __init__(
        self,
        connection: Connection,
        name: str = "",
        min_age: float = 1.0,
        full_resync_interval: float = 3600.0,
        login_backoff: Backoff | None = None,
        connect_backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connection = connection
        self.name = name or connection.settings.url
        self.min_age = min_age
        self.full_resync_interval = full_resync_interval
        self.login_backoff = login_backoff or Backoff(15.0, 900.0)
        self.connect_backoff = connect_backoff or Backoff(1.0, 30.0)
        self._clock, self._monotonic = clock, monotonic
        self._lock = threading.Lock()
        self._state = MaindataState(self.name)
        self._snapshot: Snapshot | None = None
        self._last_attempt = float("-inf")
        self._last_full = float("-inf")
        self._retry_at = float("-inf")
        self.stats = SyncStats()

    def refresh(self) -> Snapshot | None:
        """The current Snapshot, syncing first if it is older than `min_age`.

        None while qBittorrent is unreachable or refuses us: callers must then show nothing of
        qBittorrent's state rather than stale values.
        """
        with self._lock:
            now = self._monotonic()
            if self.stats.up and now - self._last_attempt < self.min_age:
                return self._snapshot
            if now < self._retry_at:
                return None
            self._sync(now)
            return self._snapshot if self.stats.up else None

    def latest(self) -> Snapshot | None:
        """The last good Snapshot without syncing (None while down). Never waits for a sync in progress:
        it reads two attributes, each replaced whole by the sync, so the worst case is one sync late."""
        snapshot, up = self._snapshot, self.stats.up
        return snapshot if up else None

    def _sync(self, now: float) -> None:
        self._last_attempt = now
        started = time.perf_counter()
        full = self._state.rid == 0 or now - self._last_full >= self.full_resync_interval
        try:
            if full:
                self._state.set_app(self.connection.login())
            payload = self.connection.maindata(0 if full else self._state.rid)
            try:
                self._state.apply(payload)
            except PayloadError as exc:
                raise QBittorrentError("response", f"unexpected response from qBittorrent: {exc}") from None
        except QBittorrentError as exc:
            self._fail(exc)
        else:
            if full:
                self._last_full = now
                self.stats.full_syncs += 1
            self._snapshot = self._state.snapshot(self._clock())
            if not self.stats.up and self.stats.syncs:
                log.info("qBittorrent at %s is reachable again", self.name)
            self.stats.up = True
            self.stats.syncs += 1
            self.stats.last_success = self._clock()
            self.stats.last_error = ""
            self._retry_at = float("-inf")
            self.login_backoff.reset()
            self.connect_backoff.reset()
        finally:
            self.stats.last_duration = time.perf_counter() - started

    def _fail(self, exc: QBittorrentError) -> None:
        self._state.rid = 0  # resync in full next time: our rid may no longer mean anything
        self.stats.errors[exc.reason] = self.stats.errors.get(exc.reason, 0) + 1
        backoff = self.login_backoff if exc.reason in ("auth", "banned") else self.connect_backoff
        delay = backoff.next_delay()
        # From the end of the failed attempt: a slow failure (a timeout) still gets its whole backoff.
        self._retry_at = self._monotonic() + delay
        message = (
            f"sync with qBittorrent at {self.name} failed ({exc.reason}): {exc}; next attempt in {delay:.0f}s"
        )
        if self.stats.up or str(exc) != self.stats.last_error:
            log.warning(message)
        else:
            log.debug(message)
        self.stats.up = False
        self.stats.last_error = str(exc)

    def close(self) -> None:
        with self._lock:
            self.connection.close()
