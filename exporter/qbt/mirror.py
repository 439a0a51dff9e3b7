"""`Mirror` keeps one instance's sync/maindata in memory with `rid` deltas and hands out Snapshots.

Scrapes and action jobs share it: `refresh()` makes at most one sync, and none at all while the last
snapshot is younger than `min_age` or while a failure's backoff is running (counted from the end of the
failed attempt, so a slow failure gets its full backoff too).

One sync runs at a time, in the mirror's worker thread. A caller waits for it as long as it chooses: a scrape
passes its deadline and, when the sync is slower, answers with what the mirror has (the last Snapshot
while the last sync succeeded, else nothing); the sync goes on and serves the next scrape. The sync
itself ends within its requests' deadlines (connection.py).
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

WORKER_IDLE = 300.0  # seconds a mirror's sync thread waits for the next sync before it ends


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
        # Guards everything below but `_state`, which only the running sync touches.
        lock = threading.RLock()
        self._lock = threading.Condition(lock)  # callers wait on it for the sync to end
        self._wake = threading.Condition(lock)  # the worker waits on it for a sync to run
        self._worker: threading.Thread | None = None
        self._syncing = False  # a sync is handed to the worker or running (callers wait for it to end)
        self._closed = False
        self._state = MaindataState(self.name)
        self._snapshot: Snapshot | None = None
        self._last_attempt = float("-inf")
        self._last_full = float("-inf")
        self._retry_at = float("-inf")
        self.stats = SyncStats()

    def refresh(self, timeout: float | None = None) -> Snapshot | None:
        """The current Snapshot, syncing first if it is older than `min_age`.

        Waits for the sync at most `timeout` seconds (None: until it ends). None while qBittorrent is
        unreachable or refuses us, or before the first sync: callers must then show nothing of
        qBittorrent's state rather than stale values.
        """
        self.start()
        return self.wait(timeout)

    def start(self) -> None:
        """Start a sync if one is due and none runs; never waits (a scrape of many instances starts all
        of them first, then waits for each: one slow qBittorrent holds no other back)."""
        with self._lock:
            if not self._syncing and self._due():
                self._start_sync()

    def wait(self, timeout: float | None = None) -> Snapshot | None:
        """What `refresh` returns, after waiting at most `timeout` seconds for the sync in progress (if
        any); starts none."""
        with self._lock:
            self._lock.wait_for(lambda: not self._syncing, timeout)
            return self._snapshot if self.stats.up else None

    def latest(self) -> Snapshot | None:
        """The last good Snapshot without syncing (None while down)."""
        with self._lock:
            return self._snapshot if self.stats.up else None

    def _due(self) -> bool:
        now = self._monotonic()
        if self.stats.up and now - self._last_attempt < self.min_age:
            return False
        return now >= self._retry_at

    def _start_sync(self) -> None:
        """Hand the sync to this mirror's worker thread (made when there is none: the first sync, or
        after WORKER_IDLE seconds without one). Starting a thread per sync made a scrape of many
        qBittorrents wait for each new thread in turn to be scheduled; waking one costs nothing."""
        self._syncing = True
        self._last_attempt = self._monotonic()
        if self._worker is None:
            worker = threading.Thread(target=self._work, name=f"sync {self.name}", daemon=True)
            try:
                worker.start()
            except RuntimeError:  # no thread to be had: free the slot, or no sync would ever run again
                self._syncing = False
                raise
            self._worker = worker
        self._wake.notify()

    def _work(self) -> None:
        """The worker: runs each sync handed to it; ends after WORKER_IDLE seconds without one. It
        leaves `_worker` in the same hold of the lock in which it decides to end, so that a sync handed
        over meanwhile always finds a worker that will run it, or none (and makes one)."""
        while True:
            with self._lock:
                # a sync handed over runs even after close(), as one started before it would
                self._wake.wait_for(lambda: self._closed or self._syncing, WORKER_IDLE)
                if not self._syncing:  # idle for WORKER_IDLE, or closed
                    self._worker = None
                    return
            try:
                self._run_sync()
            except BaseException as exc:  # a bug in publishing the outcome: free the slot, end this worker
                if isinstance(exc, Exception):
                    log.exception("sync worker for qBittorrent at %s failed unexpectedly", self.name)
                with self._lock:
                    self._worker, self._syncing = None, False
                    self._lock.notify_all()
                if not isinstance(exc, Exception):
                    raise
                return

    def _run_sync(self) -> None:
        """One sync, then its outcome published under the lock and the waiting callers woken."""
        started = time.perf_counter()
        try:
            snapshot, full = self._sync()
        except QBittorrentError as exc:
            failure: QBittorrentError | None = exc
        except Exception:  # a bug: it must neither leave stale data marked up nor keep the sync slot
            log.exception("sync with qBittorrent at %s failed unexpectedly", self.name)
            failure = QBittorrentError("response", "unexpected error during the sync (see the log)")
        else:
            failure = None
        with self._lock:
            if failure is None:
                self._succeed(snapshot, full)
            else:
                self._fail(failure)
            self.stats.last_duration = time.perf_counter() - started
            self._syncing = False
            self._lock.notify_all()

    def _sync(self) -> tuple[Snapshot, bool]:
        """Login (for a full sync), one sync/maindata, merged: (the new Snapshot, whether it was full)."""
        full = self._state.rid == 0 or self._last_attempt - self._last_full >= self.full_resync_interval
        if full:
            self._state.set_app(self.connection.login())
        payload = self.connection.maindata(0 if full else self._state.rid, self._state.stream())
        try:
            self._state.apply(payload)
        except PayloadError as exc:
            raise QBittorrentError("response", f"unexpected response from qBittorrent: {exc}") from None
        finally:
            del payload  # the body (70 MB at 50,000 torrents) goes before the snapshot is made
        return self._state.snapshot(self._clock()), full

    def _succeed(self, snapshot: Snapshot, full: bool) -> None:
        if full:
            self._last_full = self._last_attempt
            self.stats.full_syncs += 1
        self._snapshot = snapshot
        if not self.stats.up and self.stats.syncs:
            log.info("qBittorrent at %s is reachable again", self.name)
        self.stats.up = True
        self.stats.syncs += 1
        self.stats.last_success = self._clock()
        self.stats.last_error = ""
        self._retry_at = float("-inf")
        self.login_backoff.reset()
        self.connect_backoff.reset()

    def _fail(self, exc: QBittorrentError) -> None:
        self._state.rid = 0  # resync in full next time: our rid may no longer mean anything
        self.stats.errors[exc.reason] = self.stats.errors.get(exc.reason, 0) + 1
        backoff = self.login_backoff if exc.reason in ("auth", "banned") else self.connect_backoff
        delay = backoff.next_delay()
        self._retry_at = self._monotonic() + delay  # from the end of the attempt, not its start
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
            self._closed = True
            self._wake.notify()
        self.connection.close()  # waits for a running request (its deadline bounds that)
