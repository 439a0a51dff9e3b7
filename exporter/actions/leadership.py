"""Which qBittorrents this replica leads: its leases, renewed and spread by a background thread.

With a SQLite store the service owns the store (one service per data directory) and leads every instance:
`token()` is always 1 and nothing runs in the background. With a PostgreSQL store shared by replicas, every
third of the lease's time-to-live this replica: says it is alive, renews what it holds, gives up what is
above its share, and takes free leases up to its share (managers/leadership.py decides which).

A lease is held *locally* until `ttl - margin` after the start of the request that last took or renewed
it: the database's term lasts at least `ttl` from that request, so this replica stops acting (its jobs see
`token()` None) before another can take the lease over, even if it was paused or cut off meanwhile. Every
store write of a job is also fenced by the database (store/base.py FENCE): a write under a term that is
over is refused, whatever the local clock said.

Counted per instance: qbittorrent_exporter_lease_held (1 while held here), _lease_acquisitions_total and
_lease_losses_total (a term that ended other than by a release: expired, taken, or the store unreachable).
An unreachable store is logged once and counted in qbittorrent_exporter_store_errors_total{reason=
"unreachable"}; the jobs pause (no lease is held past its term) and resume when it answers again.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from prometheus_client.registry import CollectorRegistry

from ..managers.leadership import plan_leases
from ..store import Lease, Leases, StoreError
from .metrics import StoreMetrics

log = logging.getLogger("exporter.actions")


@dataclass
class Held:
    lease: Lease
    taken_at: float  # when this term began (monotonic): the last taken gives way first
    valid_until: float  # monotonic: acting stops here unless renewed


class LeaseMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.held = Gauge(
            "qbittorrent_exporter_lease_held",
            "1 while this replica holds the qBittorrent's lease (its jobs run here), else 0.",
            registry=registry,
        )
        self.acquisitions = Counter(
            "qbittorrent_exporter_lease_acquisitions", "Lease terms this replica began.", registry=registry
        )
        self.losses = Counter(
            "qbittorrent_exporter_lease_losses",
            "Lease terms that ended here other than by a release: expired, taken over, store unreachable.",
            registry=registry,
        )


class Leadership:
    def __init__(
        self,
        leases: Leases | None,
        metrics: Mapping[str, LeaseMetrics],
        store_metrics: StoreMetrics,
        ttl: float = 15.0,
        holder: str = "",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`metrics`: each instance's, in configuration order (the order leases are taken in)."""
        self.leases, self.ttl, self.monotonic = leases, ttl, monotonic
        self.holder = holder or f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self.metrics = dict(metrics)
        self.store_metrics = store_metrics
        self.margin = max(ttl / 5, 0.5)
        self._held: dict[str, Held] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unreachable = False
        for name, m in self.metrics.items():
            # Read at scrape time from the local validity, so a replica that wakes from a pause never
            # reports a lease it may no longer act on, not even until its loop runs again.
            m.held.set_function(functools.partial(self._held_here, name))

    @property
    def instances(self) -> list[str]:
        return list(self.metrics)

    def _held_here(self, instance: str) -> float:
        return 0.0 if self.token(instance) is None else 1.0

    def token(self, instance: str) -> int | None:
        """The current term of `instance`'s lease while this replica may act on it, else None."""
        if self.leases is None:
            return 1
        with self._lock:
            held = self._held.get(instance)
            if held is None or self.monotonic() >= held.valid_until:
                return None
            return held.lease.token

    # -- the loop ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.leases is None:
            return
        self.step()  # the first leases before the first job runs
        self._thread = threading.Thread(target=self._loop, name="leases", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            self.step()

    def step(self) -> None:
        """One round: heartbeat, renew, give up above the share, take free leases up to it."""
        assert self.leases is not None
        started = self.monotonic()
        try:
            replicas = self.leases.heartbeat(self.holder, self.ttl)
            for name, held in list(self._held.items()):
                if self.leases.renew(held.lease, self.ttl):
                    held.valid_until = started + self.ttl - self.margin
                else:
                    self._lose(name, "its term ended (expired, or taken over)")
            holders = self.leases.held()
            mine = {name: h.taken_at for name, h in self._held.items()}
            free = [n for n in self.instances if n not in holders]
            plan = plan_leases(self.instances, mine, free, replicas)
            for name in plan.give_up:
                self._give_up(name)
            for name in plan.take:
                lease = self.leases.acquire(name, self.holder, self.ttl)
                if lease is not None:
                    self._take(name, Held(lease, started, started + self.ttl - self.margin))
        except StoreError as exc:
            if not self._unreachable:
                log.error(
                    "leases: the store does not answer (%s); this replica's jobs pause until it does", exc
                )
                self.store_metrics.errors.labels("unreachable").inc()
                self._unreachable = True
            return
        if self._unreachable:
            log.info("leases: the store answers again")
            self._unreachable = False
        self._expire_lapsed()

    def _expire_lapsed(self) -> None:
        """Leases whose local validity ran out (renewals failing): counted as lost once."""
        now = self.monotonic()
        for name, held in list(self._held.items()):
            if now >= held.valid_until:
                self._lose(name, "not renewed in time")

    def _take(self, name: str, held: Held) -> None:
        with self._lock:
            self._held[name] = held
        self.metrics[name].acquisitions.inc()
        log.info("leases: %s is led here now (term %d)", name, held.lease.token)

    def _lose(self, name: str, why: str) -> None:
        with self._lock:
            self._held.pop(name, None)
        self.metrics[name].losses.inc()
        log.warning("leases: lost %s: %s; its jobs stop here", name, why)

    def _give_up(self, name: str) -> None:
        with self._lock:
            held = self._held.pop(name)
        assert self.leases is not None
        self.leases.release(held.lease)
        log.info("leases: gave %s up for another replica (above this one's share)", name)

    def stop(self) -> None:
        """Hand every lease over at once (a clean shutdown), and leave the live replicas."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.ttl)
        if self.leases is None:
            return
        with self._lock:
            held, self._held = dict(self._held), {}
        try:
            for h in held.values():
                self.leases.release(h.lease)
            self.leases.leave(self.holder)
        except StoreError as exc:  # the leases then simply expire
            log.warning("leases: could not hand the leases over at shutdown (%s); they expire instead", exc)
