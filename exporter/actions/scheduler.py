"""Actions: the `control` and `completion` jobs on an APScheduler BackgroundScheduler.

Built by the App (build_actions) when a `control:` or `completion:` section is configured and
--actions.enabled is true (the kill switch: false runs no job at all, so nothing is written to qBittorrent).
start() opens the store (a bad store stops the service from starting), then schedules each job with a
stable id, coalesce=True and max_instances=1, first run right away. stop() (SIGTERM) tells running
jobs to finish their current action and waits for them.

Every run is counted: qbittorrent_exporter_job_runs_total{job,result}, its duration and the time
of the last successful run. A job that raises is counted as `error` and runs again next interval.

Before each run the store is checked (Store.check): once its files are deleted or replaced under the
service, no job acts any more (what it did could not be recorded, and after a restart it would be
done again). Each such run is `store_lost`; the loss is logged and counted
(qbittorrent_exporter_store_errors_total{reason}) once, and /readyz answers 503 with the reason.
The store is never reopened or recreated while the service runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.registry import CollectorRegistry

from ..managers.ratio_index import SharedRatioIndex
from ..qbt.mirror import Mirror
from ..store import Store, StoreLost, open_store
from . import handlers
from .completion import CompletionJob
from .control import ControlJob
from .metrics import ActionMetrics
from .perform import Performer
from .settings import JobsSettings

log = logging.getLogger("exporter.actions")


class Job(Protocol):
    name: str

    def run(self, stopping: threading.Event) -> str: ...


class Actions:
    """`ratio` is the mirror's SharedRatioIndex (the ratio collector reads the same one)."""

    def __init__(
        self,
        settings: JobsSettings,
        mirror: Mirror,
        registry: CollectorRegistry,
        ratio: SharedRatioIndex | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.mirror, self.clock = settings, mirror, clock
        self.control, self.completion = settings.control, settings.completion
        self.ratio = ratio or SharedRatioIndex(settings.trackers, settings.seeding)
        self.metrics = ActionMetrics(registry)
        self.metrics.declare(settings.configured, tuple(h.name for h in self.completion.handlers))
        self.stopping = threading.Event()
        self.store: Store | None = None
        self._lost_reported = False  # the store's loss is logged and counted once (two jobs may find it)
        self._report_lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.scheduler: BackgroundScheduler | None = None

    def build_jobs(self) -> dict[str, Job]:
        """Open the store and build the configured jobs (start() schedules them; tests call run)."""
        self.store = open_store(self.settings.data_dir, exclusive=True)
        dry = self.settings.dry_run
        connection = self.mirror.connection
        jobs: dict[str, Job] = {}
        if self.control.configured:
            performer = Performer(self.store, self.metrics, self.clock)
            jobs["control"] = ControlJob(
                self.control,
                dry,
                self.mirror,
                connection,
                self.store,
                self.metrics,
                self.settings.trackers,
                performer,
                self.clock,
                self.ratio,
            )
        if self.completion.configured:
            built = {h.name: handlers.build(h, connection) for h in self.completion.handlers}
            jobs["completion"] = CompletionJob(
                self.completion, dry, self.mirror, self.store, self.metrics, built, self.clock
            )
        self.jobs = jobs
        return jobs

    def start(self) -> None:
        jobs = self.build_jobs()
        intervals = {"control": self.control.interval, "completion": self.completion.interval}
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for name, job in jobs.items():
            self.scheduler.add_job(
                self.run,
                "interval",
                seconds=intervals[name],
                args=[job],
                id=name,
                name=name,
                next_run_time=datetime.now(UTC),
            )
        self.scheduler.start()
        mode = " (dry run: nothing is written)" if self.settings.dry_run else ""
        log.info(
            "actions: jobs %s started, store %s%s",
            ", ".join(f"{n} every {intervals[n]:g}s" for n in jobs),
            self.settings.data_dir,
            mode,
        )

    def run(self, job: Job) -> str:
        """One instrumented run of `job`; never raises. `store_lost` if the store is gone: found by
        the check before the run, or by the store itself on any call during it."""
        started = time.perf_counter()
        try:
            if self.store is not None:
                self.store.check()
            result = job.run(self.stopping)
        except StoreLost as exc:
            self._report_lost(exc)
            result = "store_lost"
        except Exception:
            log.exception("job %s failed", job.name)
            result = "error"
        self.metrics.job_runs.labels(job.name, result).inc()
        self.metrics.job_duration.labels(job.name).set(time.perf_counter() - started)
        if result == "ok":
            self.metrics.job_last_success.labels(job.name).set(time.time())
        return result

    def _report_lost(self, exc: StoreLost) -> None:
        """Log and count the loss once: it lasts until a restart, and every later run would repeat it."""
        with self._report_lock:
            if self._lost_reported:
                return
            self._lost_reported = True
        log.error("actions stopped: %s", exc)
        self.metrics.store_errors.labels(exc.reason).inc()

    def stop(self) -> None:
        self.stopping.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.store is not None:
            self.store.close()
            self.store = None


def build_actions(
    settings: JobsSettings, mirror: Mirror, registry: CollectorRegistry, ratio: SharedRatioIndex | None = None
) -> Actions | None:
    """The Actions of this service, or None when no job is configured or --actions.enabled=false."""
    configured = settings.configured
    if not configured:
        return None
    if not settings.enabled:
        log.warning(
            "--actions.enabled=false: the %s job(s) do not run; nothing is written to qBittorrent",
            " and ".join(configured),
        )
        return None
    return Actions(settings, mirror, registry, ratio)
