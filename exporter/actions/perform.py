"""Carry out one Action the way every action is carried out.

Dry-run aware (nothing is called), one log line with hash, name and reason (INFO; WARNING if it
failed), one row in the audit log, one increment of qbittorrent_exporter_actions_total. A failure
is counted and reported, never raised: one torrent's error must not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from ..managers.control import Action
from ..qbt.connection import QBittorrentError
from ..store import AuditEntry, Store
from .metrics import ActionMetrics

log = logging.getLogger("exporter.actions")


class InstanceLog(logging.LoggerAdapter[logging.Logger]):
    """The actions' log lines of one qBittorrent: "<instance>: ..." (and an `instance` field in JSON logs)."""

    def __init__(self, instance: str) -> None:
        super().__init__(log, {"instance": instance})

    def process(self, msg: object, kwargs: Any) -> tuple[object, Any]:
        kwargs.setdefault("extra", {}).update(self.extra or {})
        return f"{(self.extra or {}).get('instance')}: {msg}", kwargs


class Performer:
    def __init__(
        self, store: Store, metrics: ActionMetrics, clock: Callable[[], float], instance: str = ""
    ) -> None:
        self.store, self.metrics, self.clock = store, metrics, clock
        self.log = InstanceLog(instance)

    def perform(self, action: Action, call: Callable[[], object], dry_run: bool) -> bool:
        """Run `call` for `action` (unless dry_run); True if it succeeded or would have."""
        return self.perform_batch([action], call, dry_run)

    def perform_batch(self, actions: list[Action], call: Callable[[], object], dry_run: bool) -> bool:
        """One qBittorrent request for several actions of the same kind (e.g. stop 50 downloads).

        Each action still gets its own log line, audit row and counter increment; they share the
        request's outcome.
        """
        if not actions:
            return True
        error = ""
        if not dry_run:
            self.store.lead()  # LeaseLost: another replica leads this qBittorrent now; nothing is done
            try:
                call()
            except QBittorrentError as exc:
                error = f"{exc.reason}: {exc}"
            except Exception as exc:  # a bug must not stop the other actions; the type says enough
                error = f"unexpected {type(exc).__name__}"
        for action in actions:
            self._record(action, error, dry_run)
        return not error

    def perform_each(
        self, actions: list[Action], call: Callable[[list[str]], object], dry_run: bool
    ) -> list[bool]:
        """`call(hashes)` for all of `actions` in one request; should that request fail, one request
        each, so that one torrent's error does not fail the others. Whether each succeeded (or would)."""
        if len(actions) > 1 and not dry_run:
            self.store.lead()
            try:
                call([a.hash for a in actions])
            except Exception:  # each alone below: each with its own outcome, logged and audited
                pass
            else:
                for action in actions:
                    self._record(action, "", dry_run)
                return [True] * len(actions)
        return [self.perform(a, partial(call, [a.hash]), dry_run) for a in actions]

    def _record(self, action: Action, error: str, dry_run: bool) -> None:
        result = "error" if error else "ok"
        prefix = "dry run: would " if dry_run else ""
        target = f"{action.hash} {action.name!r}" if action.hash else repr(action.name)
        if error:
            self.log.warning(
                "%s%s failed for %s (%s): %s", prefix, action.action, target, action.reason, error
            )
        else:
            self.log.info("%s%s %s: %s", prefix, action.action, target, action.reason)
        reason = f"{action.reason}; {error}" if error else action.reason
        self.store.audit(
            AuditEntry(self.clock(), action.action, action.hash, action.name, reason, result, dry_run)
        )
        self.metrics.actions.labels(action.action, result, "true" if dry_run else "false").inc()
