"""Actions: the `control`, `completion` and `trackers` jobs of every watched qBittorrent, on one APScheduler.

Built by the App (`Actions.build`) for the instances that have a `control:` or `completion:` section and
actions enabled (the kill switch --actions.enabled=false, or `actions: false` on an instance, runs no job
for it, so nothing is written to that qBittorrent), and for those whose tracker scan is on: the
`trackers` job (actions/trackers.py) is read-only, so it runs whatever the kill switch says, on every
replica, and needs no store. start() opens the one store when a writing job exists (a bad store stops
the service from starting), then schedules each job with a stable id (`control:<instance>`,
`trackers:<instance>`), coalesce=True and max_instances=1, first run right away. stop() (SIGTERM) tells
running jobs to finish their current action and waits for them.

Each instance has its own jobs, metrics (in its own registry: the scrape labels them with
qbittorrent="<name>"), ledger rows and action state: a ratio emergency on one never touches another.
Every run is counted: qbittorrent_exporter_job_runs_total{job,result}, its duration and the time of the
last successful run. A job that raises is counted as `error` and runs again next interval.

Before each run of a writing job the store is checked (Store.check): once its files are deleted or
replaced under the service, no job acts any more (what it did could not be recorded, and after a
restart it would be done again). Each such run is `store_lost`; the loss is logged and counted
(qbittorrent_exporter_store_errors_total{reason}) once, and /readyz answers 503 with the reason.
The store is never reopened or recreated while the service runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.registry import CollectorRegistry

from ..managers.ratio_index import SharedRatioIndex
from ..qbt.mirror import Mirror
from ..qbt.tracker_scan import TrackerScan
from ..store import LeaseLost, Store, StoreError, StoreLost, StoreSettings
from . import handlers
from .completion import CompletionJob, Finish
from .control import ControlJob
from .leadership import Leadership, LeaseMetrics
from .metrics import ActionMetrics, StoreMetrics
from .perform import Performer
from .settings import JobsSettings
from .trackers import TrackerScanJob

READ_ONLY = ("trackers",)  # jobs that run on every replica, with or without a store

log = logging.getLogger("exporter.actions")


class Job(Protocol):
    name: str

    def run(self, stopping: threading.Event) -> str: ...


@dataclass(frozen=True)
class Watched:
    """One qBittorrent as the jobs see it. `ratio` is its mirror's SharedRatioIndex (the ratio
    collector reads the same one); `registry` is where its counters go."""

    name: str
    settings: JobsSettings
    mirror: Mirror
    registry: CollectorRegistry
    ratio: SharedRatioIndex
    previous_names: tuple[str, ...] = ()  # its rows in the store under these names are its own
    scan: TrackerScan | None = None  # its tracker scan, when on (the collector reads the same one)

    @property
    def acting(self) -> bool:
        """It has a writing job configured and actions enabled."""
        return bool(self.settings.configured) and self.settings.enabled


class InstanceJobs:
    """The jobs of one instance and their counters."""

    def __init__(self, watched: Watched, clock: Callable[[], float]) -> None:
        self.watched, self.clock = watched, clock
        self.name, self.settings = watched.name, watched.settings
        self.metrics = ActionMetrics(watched.registry)
        writing = self.settings.configured if watched.acting else ()
        if watched.acting:
            self.lease_metrics: LeaseMetrics | None = LeaseMetrics(watched.registry)
        else:
            self.lease_metrics = None  # no lease to hold: the scan alone runs everywhere
        self.readers: dict[str, Job] = {}
        if watched.scan is not None:
            self.readers["trackers"] = TrackerScanJob(watched.scan, watched.mirror)
        self.metrics.declare(
            (*writing, *self.readers), tuple(h.name for h in self.settings.completion.handlers)
        )
        self.jobs: dict[str, Job] = {}
        self.term: int | None = None  # the lease term the jobs were built in
        # Each job runs in its own scheduler thread: the first of them to see a new term builds the jobs,
        # the others wait for it. Two builds would let a run act on state read before the other's writes
        # (a ratio emergency entered twice, its downloads stopped twice).
        self.building = threading.Lock()
        # Handler attempts made while the store did not answer, recorded by the next completion run
        # here, whichever term built it (CompletionJob.unrecorded).
        self.unrecorded: list[Finish] = []

    def build(self, shared: Store, token: Callable[[], int | None] | None = None) -> dict[str, Job]:
        """The jobs, built afresh (their state read from the store now: a new lease term starts from what
        the previous leader left); with `token`, their writes are fenced by the lease term it returns."""
        s, w, dry = self.settings, self.watched, self.settings.dry_run
        store = shared.scoped(self.name, token)
        self.jobs = {}
        if not w.acting:
            return self.jobs
        connection = w.mirror.connection
        if s.control.configured:
            performer = Performer(store, self.metrics, self.clock, self.name)
            self.jobs["control"] = ControlJob(
                s.control,
                dry,
                w.mirror,
                connection,
                store,
                self.metrics,
                s.trackers,
                performer,
                self.clock,
                w.ratio,
                w.scan,
            )
        if s.completion.configured:
            built = {h.name: handlers.build(h, connection) for h in s.completion.handlers}
            self.jobs["completion"] = CompletionJob(
                s.completion, dry, w.mirror, store, self.metrics, built, self.clock, self.unrecorded
            )
        return self.jobs

    def interval(self, job: str) -> float:
        if job == "trackers":
            return self.settings.tracker_scan.policy.interval
        return self.settings.control.interval if job == "control" else self.settings.completion.interval


class Actions:
    def __init__(
        self,
        watched: Iterable[Watched],
        store: StoreSettings,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`registry`: the service's own (the store's counters are not about one qBittorrent)."""
        self.store_settings, self.clock = store, clock
        self.instances = {w.name: InstanceJobs(w, clock) for w in watched}
        # The store (and leases) only for writing jobs: a service that only scans needs neither.
        self.acting = any(i.watched.acting for i in self.instances.values())
        # Without a store its error counter would only be a series that can never move: kept out of sight.
        self.store_metrics = StoreMetrics(registry if self.acting else CollectorRegistry(auto_describe=False))
        self.leadership: Leadership | None = None
        self.stopping = threading.Event()
        self.store: Store | None = None
        self.scheduler: BackgroundScheduler | None = None
        self._lost_reported = False  # the store's loss is logged and counted once (two jobs may find it)
        self._store_failing = False  # a failing shared store is logged once per outage
        self._report_lock = threading.Lock()

    @classmethod
    def build(
        cls, watched: Iterable[Watched], store: StoreSettings, registry: CollectorRegistry
    ) -> Actions | None:
        """The Actions of this service: the instances with a configured job and actions enabled, or a
        tracker scan (None if there is none). A disabled instance that has jobs configured is logged once."""
        chosen = []
        for w in watched:
            configured = w.settings.configured
            if configured and not w.settings.enabled:
                log.warning(
                    "actions are off for %s: its %s job(s) do not run; nothing is written to it",
                    w.name,
                    " and ".join(configured),
                )
            if w.acting or w.scan is not None:
                chosen.append(w)
        return cls(chosen, store, registry) if chosen else None

    @classmethod
    def one(
        cls,
        settings: JobsSettings,
        mirror: Mirror,
        registry: CollectorRegistry,
        ratio: SharedRatioIndex | None = None,
        clock: Callable[[], float] = time.time,
        scan: TrackerScan | None = None,
    ) -> Actions:
        """The jobs of one qBittorrent (named as its mirror), whatever they are configured to do: for
        tests and the bench, which build one instance's jobs without an App."""
        ratio = ratio or SharedRatioIndex(settings.trackers, settings.seeding)
        watched = [Watched(mirror.name, settings, mirror, registry, ratio, scan=scan)]
        return cls(watched, StoreSettings(data_dir=settings.data_dir), registry, clock)

    def has(self, job: str) -> bool:
        """Some instance runs this job ("control", "completion" or "trackers")."""
        return any(
            job in i.readers or (i.watched.acting and job in i.settings.configured)
            for i in self.instances.values()
        )

    def build_jobs(self) -> dict[tuple[str, str], Job]:
        """Open the store (when a writing job exists) and build every instance's jobs, keyed (instance,
        job): start() schedules them; tests and the bench call run() directly."""
        jobs: dict[tuple[str, str], Job] = {}
        if self.acting:
            self.store = self.store_settings.open()
            self.leadership = Leadership(
                self.store.leases(),
                {name: i.lease_metrics for name, i in self.instances.items() if i.lease_metrics},
                self.store_metrics,
                ttl=self.store_settings.lease_ttl,
            )
            self._claim_rows(self.store)
            for i in self.instances.values():
                for name, job in i.build(self.store, self._token_of(i.name)).items():
                    jobs[(i.name, name)] = job
        for i in self.instances.values():
            jobs.update({(i.name, name): job for name, job in i.readers.items()})
        return jobs

    def _token_of(self, instance: str) -> Callable[[], int | None]:
        def token() -> int | None:
            return self.leadership.token(instance) if self.leadership is not None else None

        return token

    def _claim_rows(self, store: Store) -> None:
        """Renamed instances take their rows (previous_names); rows from before instances existed go to
        the first instance, which is the one qBittorrent such a store can have known."""
        present = store.instances()
        for i in self.instances.values():
            for old in i.watched.previous_names:
                if old in present:
                    moved = store.rename_instance(old, i.name)
                    log.warning("store: the rows of %s now belong to %s (%d completions)", old, i.name, moved)
        if "" in present and self.instances:
            first = next(iter(self.instances))
            moved = store.rename_instance("", first)
            log.warning(
                "store: rows written before instances had names now belong to %s (%d completions)",
                first,
                moved,
            )

    def start(self) -> None:
        jobs = self.build_jobs()
        if self.leadership is not None:
            self.leadership.start()  # the first leases before the first runs
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for instance, name in jobs:
            self.scheduler.add_job(
                self.run_scheduled,
                "interval",
                seconds=self.instances[instance].interval(name),
                args=[instance, name],
                id=f"{name}:{instance}",
                name=f"{name}:{instance}",
                next_run_time=datetime.now(UTC),
            )
        self.scheduler.start()
        for i in self.instances.values():
            mode = " (dry run: nothing is written)" if i.settings.dry_run and i.jobs else ""
            log.info(
                "actions for %s: %s%s",
                i.name,
                ", ".join(f"{n} every {i.interval(n):g}s" for n in [*i.jobs, *i.readers]),
                mode,
            )
        if self.acting:
            mode = (
                " (shared by replicas: an instance's jobs run where its lease is)"
                if self.store_settings.shared
                else ""
            )
            log.info("actions: store %s%s", self.store_settings.describe(), mode)

    def run_scheduled(self, instance: str, name: str) -> str:
        """One scheduled run: on this replica only while it leads `instance` (else `standby`); the jobs are
        built again when a new lease term begins here (another replica may have acted meanwhile). A
        read-only job runs on every replica."""
        jobs = self.instances[instance]
        if name in jobs.readers:
            return self.run(jobs.readers[name], instance)
        token = self.leadership.token(instance) if self.leadership is not None else None
        if token is None:
            jobs.metrics.job_runs.labels(name, "standby").inc()
            jobs.metrics.job_last_success.remove(name)  # a standby's old success is not this job's health
            with jobs.building:
                jobs.term = None
            return "standby"
        with jobs.building:
            if token != jobs.term:
                assert self.store is not None
                jobs.build(self.store, self._token_of(instance))
                jobs.term = token
            job = jobs.jobs[name]
        return self.run(job, instance)

    def run(self, job: Job, instance: str | None = None) -> str:
        """One instrumented run of `job` of `instance` (default: the only one); never raises. `store_lost`
        if the store is gone: found by the check before the run, or by the store itself during it."""
        if instance is None:
            [instance] = self.instances
        metrics = self.instances[instance].metrics
        started = time.perf_counter()
        try:
            if self.store is not None and job.name not in READ_ONLY:
                self.store.check()
            result = job.run(self.stopping)
        except StoreLost as exc:
            self._report_lost(exc)
            result = "store_lost"
        except LeaseLost as exc:  # lost this instance mid-run: what is left is the new leader's
            log.warning("job %s of %s stopped: %s", job.name, instance, exc)
            result = "standby"
        except StoreError as exc:  # a shared store that does not answer: this run fails, the next tries
            if not self._store_failing:
                log.warning(
                    "job %s of %s failed: %s (logged once until the store answers)", job.name, instance, exc
                )
            self._store_failing = True
            result = "error"
        except Exception:
            log.exception("job %s of %s failed", job.name, instance)
            result = "error"
        else:
            self._store_failing = False
        metrics.job_runs.labels(job.name, result).inc()
        metrics.job_duration.labels(job.name).set(time.perf_counter() - started)
        if result == "ok":
            metrics.job_last_success.labels(job.name).set(time.time())
        return result

    def _report_lost(self, exc: StoreLost) -> None:
        """Log and count the loss once: it lasts until a restart, and every later run would repeat it."""
        with self._report_lock:
            if self._lost_reported:
                return
            self._lost_reported = True
        log.error("actions stopped: %s", exc)
        self.store_metrics.errors.labels(exc.reason).inc()

    def stop(self) -> None:
        self.stopping.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.leadership is not None:
            self.leadership.stop()  # after the jobs: hands the leases over at once
        if self.store is not None:
            self.store.close()
            self.store = None
