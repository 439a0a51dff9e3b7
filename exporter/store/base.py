"""The store's interface and record types: the completion ledger, action state and the audit log.

`Store` is what the jobs use; backends (sqlite.py, beside this file) implement it and import only
this module; `exporter.store.open_store` picks one. Nothing outside this package writes SQL.

What is kept:
- completions: one row per (hash, completion_on). status is `baseline` (complete before the first
  start, never handled), `pending` (handlers still to run), `done` or `dead` (a handler gave up);
  `torrent` holds the torrent's fields at completion time as JSON, so a handler can still run after
  the torrent is gone.
- handler_runs: one row per (completion, handler): `pending` (with next_attempt_at), `done`, `dead`.
  Rows are written `pending` before a handler runs and `done` after; after a crash, only the rows
  still pending run again.
- action_state: small per-feature key -> JSON maps (stall ladder position and cooldowns, which
  torrents the ratio emergency stopped, ...), so decisions survive restarts.
- audit: an append-only log of every action, dry runs included.

A store that is corrupt, empty, from a newer version, or not writable is a `StoreError` at open: the
service refuses to start rather than silently losing the ledger. A store lost while the service runs
(its files deleted or replaced) is a `StoreLost` from `check()` and from every call after it: the
service stops acting rather than recording into files a restart would not read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Key = tuple[str, int]  # (hash, completion_on)


class StoreError(Exception):
    """The store cannot be used; the message says which file and what to do."""


LOST_REASONS = ("deleted", "replaced")


class StoreLost(StoreError):
    """The store this object opened is no longer the one at its location. `reason` (one of
    LOST_REASONS, a metric label) is `deleted` (nothing there any more) or `replaced` (another one is)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class HandlerRun:
    hash: str
    completion_on: int
    handler: str
    status: str  # pending | done | dead
    attempts: int
    next_attempt_at: float
    last_error: str
    torrent: Mapping[str, Any]

    @property
    def key(self) -> Key:
        return (self.hash, self.completion_on)


@dataclass(frozen=True)
class CompletionRecord:
    hash: str
    completion_on: int
    detected_at: float
    status: str  # pending | done | dead
    torrent: Mapping[str, Any]
    handlers: tuple[HandlerRun, ...]


@dataclass(frozen=True)
class AuditEntry:
    at: float
    action: str
    hash: str
    name: str
    reason: str
    result: str  # ok | error
    dry_run: bool


class Store(ABC):
    """What the jobs need from durable storage. Every method is atomic and thread-safe."""

    # -- completion ledger
    @abstractmethod
    def baseline_taken(self) -> bool: ...

    @abstractmethod
    def take_baseline(self, keys: Iterable[Key], at: float) -> None:
        """Record already-complete torrents as seen (never handled) and mark the baseline taken."""

    @abstractmethod
    def known_completions(self) -> set[Key]: ...

    @abstractmethod
    def add_completion(
        self, key: Key, torrent: Mapping[str, Any], handlers: Iterable[str], at: float
    ) -> None:
        """One completion and a pending row per handler, in one transaction (`done` if no handler)."""

    @abstractmethod
    def due_runs(self, now: float, limit: int) -> list[HandlerRun]: ...

    @abstractmethod
    def finish_run(
        self, run: HandlerRun, status: str, at: float, error: str = "", retry_at: float = 0.0
    ) -> None:
        """Record one attempt: status `done`, `dead`, or `pending` again with `retry_at`."""

    @abstractmethod
    def retry_dead(self, at: float) -> int:
        """Put every dead handler run back to pending (attempts from 0); returns how many."""

    @abstractmethod
    def history(self, since: float, status: str = "", limit: int = 1000) -> list[CompletionRecord]: ...

    @abstractmethod
    def backlog(self) -> int:
        """Completions not done: pending plus dead-letter."""

    # -- action state and audit
    @abstractmethod
    def state(self, kind: str) -> dict[str, Any]: ...

    @abstractmethod
    def put_state(self, kind: str, key: str, value: Any | None) -> None:
        """Set (or with None, delete) one entry of an action-state map."""

    @abstractmethod
    def audit(self, entry: AuditEntry) -> None: ...

    @abstractmethod
    def audit_log(self, since: float, limit: int = 1000) -> list[AuditEntry]: ...

    # -- health
    @abstractmethod
    def check(self) -> None:
        """Raise StoreLost when this store is not the one at its location any more (SQLite: a file
        deleted or replaced; a database server: another database answers); from then on every other
        method raises it too. Cheap: the jobs call it before every run, /readyz on every probe."""

    @abstractmethod
    def close(self) -> None: ...
