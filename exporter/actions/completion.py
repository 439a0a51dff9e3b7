"""The `completion` job: record new completions in the ledger, then run their handlers exactly once.

Order matters for exactly-once: a completion and one `pending` row per matching handler are
written in one transaction before any handler runs; a handler's row becomes `done` right after it
succeeds. After a crash, only rows still pending run again (a webhook receiver can drop the rare
repeat by its X-Qbittorrent-Monitor-Delivery id). A failed handler is retried with exponential
backoff, then left `dead` (dead-letter: the backlog gauge, `completions --status dead`, the API).
Handlers of one completion are independent: one failing never holds back the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import NamedTuple

from ..managers.completion import after_failure, find_new, matching, record, take_baseline
from ..model import Snapshot, Torrent
from ..qbt.mirror import Mirror
from ..store import AuditEntry, HandlerRun, LeaseLost, Store, StoreError, StoreLost
from .handlers import Handler, HandlerError
from .metrics import ActionMetrics
from .perform import InstanceLog
from .settings import CompletionSettings


class Finish(NamedTuple):
    """One handler attempt's outcome, as _record writes it to the ledger."""

    run: HandlerRun
    result: str  # ok, dry_run, error, dead
    error: str
    dry_run: bool
    retry_at: float
    at: float


class CompletionJob:
    name = "completion"

    def __init__(
        self,
        settings: CompletionSettings,
        dry_run_all: bool,
        mirror: Mirror,
        store: Store,
        metrics: ActionMetrics,
        handlers: Mapping[str, Handler],
        clock: Callable[[], float],
        unrecorded: list[Finish] | None = None,
    ) -> None:
        """`unrecorded`: attempts made but not yet in the ledger; the caller keeps the list across the
        jobs it builds (one per lease term), so that a store outage does not make a handler run twice."""
        self.unrecorded: list[Finish] = [] if unrecorded is None else unrecorded
        self.settings, self.mirror, self.store, self.metrics = settings, mirror, store, metrics
        self.log = InstanceLog(mirror.name)
        self.handlers, self.clock = handlers, clock
        self.dry_run = dry_run_all or settings.dry_run
        self.filters = [(h.name, h.filter) for h in settings.handlers]
        self.known = store.known_completions()
        self._generation = -1
        self._looked_at: Mapping[str, Torrent] = {}  # the torrents the last detect() went through
        metrics.backlog.set(store.backlog())

    def run(self, stopping: threading.Event) -> str:
        snapshot = self.mirror.refresh()
        if snapshot is not None and snapshot.generation != self._generation:
            self.detect(snapshot, self.clock())
            self._generation = snapshot.generation
        self.run_handlers(stopping)  # even while qBittorrent is down: webhooks and commands still work
        self.metrics.backlog.set(self.store.backlog())
        return "ok" if snapshot is not None else "skipped"

    def detect(self, snapshot: Snapshot, now: float) -> None:
        if not self.store.baseline_taken():
            seen, new = take_baseline(snapshot, now, self.settings.backfill)
            self.store.take_baseline(seen, now)
            self.known.update(seen)
            self.log.info(
                "completion baseline: %d torrents already complete are not new; "
                "%d inside the backfill window",
                len(seen),
                len(new),
            )
        else:
            new = find_new(snapshot, self.known, self._looked_at, snapshot.changed_since(self._generation))
        for t in new:
            rec = record(t, snapshot.instance)
            key = (t.hash, rec["completion_on"])
            names = matching(self.filters, rec)
            self.store.add_completion(key, rec, names, now)
            self.known.add(key)
            self.metrics.completions.labels(t.category).inc()
            self.log.info(
                "completed: %s %r (category %r); handlers: %s",
                t.hash,
                t.name,
                t.category,
                ", ".join(names) or "none",
            )
        self._looked_at = snapshot.torrents  # all its new ones are in self.known now

    def run_handlers(self, stopping: threading.Event) -> None:
        while self.unrecorded:  # first what was done while the store did not answer
            done = self.unrecorded[0]
            self._ledger(done)
            self.unrecorded.pop(0)
            self._report(*done)
        for run in self.store.due_runs(self.clock(), self.settings.max_runs_per_run):
            if stopping.is_set():
                return
            self.run_one(run)

    def run_one(self, run: HandlerRun) -> None:
        handler = self.handlers.get(run.handler)
        if handler is None:
            self._finish(run, "dead", "handler is no longer configured", False)
            return
        dry_run = self.dry_run or handler.settings.dry_run
        if dry_run:
            self._finish(run, "dry_run", "", True)
            return
        self.store.lead()  # LeaseLost: another replica leads this qBittorrent now and runs it instead
        try:
            # The instance is part of the id: the same torrent may complete on two qBittorrents.
            handler.run(run.torrent, f"{run.instance}:{run.hash}:{run.completion_on}:{run.handler}")
        except HandlerError as exc:
            error = str(exc)
        except Exception as exc:  # a bug in one handler must not stop the others
            self.log.debug("handler %s raised", run.handler, exc_info=True)
            error = f"unexpected {type(exc).__name__}"
        else:
            self._finish(run, "ok", "", False)
            return
        status, retry_at = after_failure(
            run.attempts + 1, handler.settings.retries, self.clock(), handler.settings.backoff
        )
        self._finish(run, "error" if status == "pending" else "dead", error, False, retry_at)

    def _finish(self, run: HandlerRun, result: str, error: str, dry_run: bool, retry_at: float = 0.0) -> None:
        """Ledger, log line, audit row and counter for one handler attempt. Should the store not answer
        (PostgreSQL restarting), the attempt is kept in `unrecorded` and recorded by the next run here
        before anything else, instead of being run again once the store is back."""
        finish = Finish(run, result, error, dry_run, retry_at, self.clock())
        try:
            self._ledger(finish)
        except (LeaseLost, StoreLost):
            raise  # another replica leads now, or the store is gone: not ours to record later
        except StoreError:
            self.unrecorded.append(finish)
            raise
        self._report(*finish)

    def _ledger(self, f: Finish) -> None:
        status = {"ok": "done", "dry_run": "done", "error": "pending", "dead": "dead"}[f.result]
        self.store.finish_run(f.run, status, f.at, f.error or ("dry run" if f.dry_run else ""), f.retry_at)

    def _report(
        self, run: HandlerRun, result: str, error: str, dry_run: bool, retry_at: float, now: float
    ) -> None:
        """The log line, audit row and counter of an attempt in the ledger."""
        name = run.torrent.get("name", "")
        attempt = run.attempts + 1
        if result == "ok":
            self.log.info("handler %s done for %s %r (attempt %d)", run.handler, run.hash, name, attempt)
        elif result == "dry_run":
            self.log.info("dry run: would run handler %s for %s %r", run.handler, run.hash, name)
        elif result == "error":
            self.log.warning(
                "handler %s failed for %s %r (attempt %d): %s; retrying in %.0fs",
                run.handler,
                run.hash,
                name,
                attempt,
                error,
                retry_at - now,
            )
        else:
            self.log.error(
                "handler %s gave up for %s %r after %d attempts: %s (dead-letter)",
                run.handler,
                run.hash,
                name,
                attempt,
                error,
            )
        kind = self.handlers[run.handler].settings.type if run.handler in self.handlers else "handler"
        reason = f"completion handler {run.handler}" + (f"; {error}" if error else "")
        self.store.audit(
            AuditEntry(
                now, kind, run.hash, name, reason, "ok" if result in ("ok", "dry_run") else "error", dry_run
            )
        )
        self.metrics.handler_runs.labels(run.handler, result).inc()
