"""The store's interface and record types: the completion ledger, action state and the audit log.

`Store` is what the jobs use; backends (sqlite.py, beside this file) implement it and import only
this module; `exporter.store.open_store` picks one. Nothing outside this package writes SQL.

Every row belongs to one watched qBittorrent (`instance`, its configured name): the jobs of each
instance see only their own rows through `Scoped` (`store.scoped(name)`), so that the same torrent on
two instances is two completions, and one instance's emergency state never touches another's. Reading
methods take `instance=None` for all of them. `rename_instance` moves an instance's rows to a new name
(a rename declared with `previous_names`: nothing is handled twice).

What is kept:
- completions: one row per (instance, hash, completion_on). status is `baseline` (complete before the first
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

`dump` and `load` move every row as plain values (`COLUMNS`), so that `copy.copy_store` can copy a store
from one backend to another without knowing either.
"""

from __future__ import annotations

import contextvars
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

Key = tuple[str, int]  # (hash, completion_on)

# What dump() and load() carry: each table's columns, in the order of the rows' values; JSON columns
# (torrent, value) as Python values, dry_run as bool. Tables are in the order load() writes them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "baselines": ("instance", "at"),
    "completions": ("instance", "hash", "completion_on", "detected_at", "status", "torrent"),
    "handler_runs": (
        "instance",
        "hash",
        "completion_on",
        "handler",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "updated_at",
    ),
    "action_state": ("instance", "kind", "key", "value"),
    "audit": ("instance", "at", "action", "hash", "name", "reason", "result", "dry_run"),  # in order
}
JSON_COLUMNS = {"completions": "torrent", "action_state": "value"}
# The order dump() gives each table's rows in: its key; the audit log's in the order appended.
DUMP_ORDER = {
    "baselines": "instance",
    "completions": "instance, hash, completion_on",
    "handler_runs": "instance, hash, completion_on, handler",
    "action_state": "instance, kind, key",
    "audit": "id",
}
Rows = dict[str, list[tuple[Any, ...]]]  # table -> its rows (COLUMNS)


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
    instance: str = ""

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
    instance: str = ""


@dataclass(frozen=True)
class AuditEntry:
    at: float
    action: str
    hash: str
    name: str
    reason: str
    result: str  # ok | error
    dry_run: bool
    instance: str = ""


class LeaseLost(StoreError):
    """A write made under an instance's lease that is not held any more (its term, the fencing token, is
    over): refused by the database, so that a replica that lost its lease cannot record anything."""


@dataclass(frozen=True)
class Lease:
    """One term of one replica's leadership over one instance. `token` grows with every new term."""

    instance: str
    holder: str
    token: int


# The lease term the writes of this thread are made under ((instance, token)); None: no fencing.
FENCE: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar("store_fence", default=None)


class Leases(ABC):
    """Leadership per instance among replicas sharing one store. Expiry is decided by the store's clock
    (one clock for every replica), in seconds of `ttl` from the call."""

    @abstractmethod
    def heartbeat(self, holder: str, ttl: float) -> int:
        """This replica is alive for `ttl` more seconds; how many replicas are alive (itself counted)."""

    @abstractmethod
    def held(self) -> dict[str, str]:
        """Instance -> its holder, for every live lease."""

    @abstractmethod
    def acquire(self, instance: str, holder: str, ttl: float) -> Lease | None:
        """A new term of `instance`'s lease for `holder` if nobody holds it (None otherwise)."""

    @abstractmethod
    def renew(self, lease: Lease, ttl: float) -> bool:
        """Extend a term still held; False if it is over (expired, or taken by another term)."""

    @abstractmethod
    def release(self, lease: Lease) -> None:
        """End a term at once (a clean shutdown, a lease given up): another replica may take it now."""

    @abstractmethod
    def leave(self, holder: str) -> None:
        """This replica is gone (a clean shutdown): it no longer counts among the live ones."""


class Store(ABC):
    """What the jobs need from durable storage. Every method is atomic and thread-safe.

    Writes and per-instance reads take the instance's name (`instance=""` is the one unnamed instance of
    stores written before instances existed); reads across instances take `instance=None` for all."""

    # -- completion ledger
    @abstractmethod
    def baseline_taken(self, instance: str = "") -> bool: ...

    @abstractmethod
    def take_baseline(self, keys: Iterable[Key], at: float, instance: str = "") -> None:
        """Record already-complete torrents as seen (never handled) and mark the baseline taken."""

    @abstractmethod
    def known_completions(self, instance: str = "") -> set[Key]: ...

    @abstractmethod
    def add_completion(
        self, key: Key, torrent: Mapping[str, Any], handlers: Iterable[str], at: float, instance: str = ""
    ) -> None:
        """One completion and a pending row per handler, in one transaction (`done` if no handler)."""

    @abstractmethod
    def due_runs(self, now: float, limit: int, instance: str = "") -> list[HandlerRun]: ...

    @abstractmethod
    def finish_run(
        self, run: HandlerRun, status: str, at: float, error: str = "", retry_at: float = 0.0
    ) -> None:
        """Record one attempt (of run.instance): status `done`, `dead`, or `pending` again with `retry_at`."""

    @abstractmethod
    def retry_dead(self, at: float, instance: str | None = None) -> int:
        """Put every dead handler run back to pending (attempts from 0); returns how many."""

    @abstractmethod
    def history(
        self, since: float, status: str = "", limit: int = 1000, instance: str | None = None
    ) -> list[CompletionRecord]: ...

    @abstractmethod
    def backlog(self, instance: str = "") -> int:
        """Completions not done: pending plus dead-letter."""

    # -- action state and audit
    @abstractmethod
    def state(self, kind: str, instance: str = "") -> dict[str, Any]: ...

    @abstractmethod
    def put_state(self, kind: str, key: str, value: Any | None, instance: str = "") -> None:
        """Set (or with None, delete) one entry of an action-state map."""

    @abstractmethod
    def audit(self, entry: AuditEntry) -> None:
        """Append one row (of entry.instance)."""

    @abstractmethod
    def audit_log(self, since: float, limit: int = 1000, instance: str | None = None) -> list[AuditEntry]: ...

    # -- instances
    @abstractmethod
    def instances(self) -> set[str]:
        """The names that have rows."""

    @abstractmethod
    def rename_instance(self, old: str, new: str) -> int:
        """Give every row of `old` to `new` (which must have none yet); returns how many completions moved."""

    # -- health
    @abstractmethod
    def check(self) -> None:
        """Raise StoreLost when this store is not the one at its location any more (SQLite: a file
        deleted or replaced; a database server: another database answers); from then on every other
        method raises it too. Cheap: the jobs call it before every run, /readyz on every probe."""

    # -- copying
    @abstractmethod
    def dump(self) -> Rows:
        """Every row of every instance, table by table (`COLUMNS`), read in one transaction."""

    @abstractmethod
    def load(self, rows: Rows) -> None:
        """Write `rows` (from `dump`) in one transaction; StoreError if this store has any row."""

    @abstractmethod
    def close(self) -> None: ...

    def lead(self) -> None:
        """Raise LeaseLost if writes through this view would be refused (its lease term is over): the jobs
        ask before each effect outside the store (a qBittorrent write, a handler), which the database
        cannot fence. The whole store is always led."""
        return None

    def leases(self) -> Leases | None:
        """The leases of this store when replicas share it; None when one service owns it (SQLite: the
        data directory's lock), which then leads every instance."""
        return None

    def scoped(self, instance: str, token: Callable[[], int | None] | None = None) -> Scoped:
        """This store as one instance's jobs see it; with `token`, each of their writes is fenced by the
        lease term it returns (a write under a term that is over raises LeaseLost)."""
        return Scoped(self, instance, token)


class Scoped(Store):
    """One instance's view of a store: every call is about `instance`, whatever the caller passes."""

    def __init__(self, store: Store, instance: str, token: Callable[[], int | None] | None = None) -> None:
        self.store, self.instance, self.token = store, instance, token

    def lead(self) -> None:
        if self.token is not None and self.token() is None:
            raise LeaseLost(f"no lease on {self.instance}: this replica does not lead it now")

    @contextmanager
    def _fenced(self) -> Iterator[None]:
        """The writes in this block are made under the current lease term (none: not fenced)."""
        token = self.token() if self.token is not None else None
        if token is None:
            if self.token is not None:
                raise LeaseLost(f"no lease on {self.instance}: this replica does not lead it now")
            yield
            return
        reset = FENCE.set((self.instance, token))
        try:
            yield
        finally:
            FENCE.reset(reset)

    def baseline_taken(self, instance: str = "") -> bool:
        return self.store.baseline_taken(self.instance)

    def take_baseline(self, keys: Iterable[Key], at: float, instance: str = "") -> None:
        with self._fenced():
            self.store.take_baseline(keys, at, self.instance)

    def known_completions(self, instance: str = "") -> set[Key]:
        return self.store.known_completions(self.instance)

    def add_completion(
        self, key: Key, torrent: Mapping[str, Any], handlers: Iterable[str], at: float, instance: str = ""
    ) -> None:
        with self._fenced():
            self.store.add_completion(key, torrent, handlers, at, self.instance)

    def due_runs(self, now: float, limit: int, instance: str = "") -> list[HandlerRun]:
        return self.store.due_runs(now, limit, self.instance)

    def finish_run(
        self, run: HandlerRun, status: str, at: float, error: str = "", retry_at: float = 0.0
    ) -> None:
        with self._fenced():
            self.store.finish_run(replace(run, instance=self.instance), status, at, error, retry_at)

    def retry_dead(self, at: float, instance: str | None = None) -> int:
        with self._fenced():
            return self.store.retry_dead(at, self.instance)

    def history(
        self, since: float, status: str = "", limit: int = 1000, instance: str | None = None
    ) -> list[CompletionRecord]:
        return self.store.history(since, status, limit, self.instance)

    def backlog(self, instance: str = "") -> int:
        return self.store.backlog(self.instance)

    def state(self, kind: str, instance: str = "") -> dict[str, Any]:
        return self.store.state(kind, self.instance)

    def put_state(self, kind: str, key: str, value: Any | None, instance: str = "") -> None:
        with self._fenced():
            self.store.put_state(kind, key, value, self.instance)

    def audit(self, entry: AuditEntry) -> None:
        with self._fenced():
            self.store.audit(replace(entry, instance=self.instance))

    def audit_log(self, since: float, limit: int = 1000, instance: str | None = None) -> list[AuditEntry]:
        return self.store.audit_log(since, limit, self.instance)

    def instances(self) -> set[str]:
        return {self.instance} & self.store.instances()

    def rename_instance(self, old: str, new: str) -> int:
        raise StoreError("an instance's view of the store cannot rename instances")

    def check(self) -> None:
        self.store.check()

    def dump(self) -> Rows:
        raise StoreError("an instance's view of the store cannot be copied: copy the store")

    def load(self, rows: Rows) -> None:
        raise StoreError("an instance's view of the store cannot be copied into: copy the store")

    def close(self) -> None:
        """The store itself stays open: its owner closes it."""
