"""Durable state of the action jobs (the interface and records: base.py; the backends: sqlite.py, the
embedded default, and postgres.py, a database that several services can share; copying between them:
copy.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .base import (
    LOST_REASONS,
    AuditEntry,
    CompletionRecord,
    HandlerRun,
    Key,
    Lease,
    LeaseLost,
    Leases,
    Store,
    StoreError,
    StoreLost,
)
from .sqlite import SCHEMA_VERSION, SQLiteStore

FILE_NAME = "qbittorrent-monitor.db"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


@dataclass(frozen=True)
class StoreSettings:
    """Where the jobs' store is: the SQLite file in `data_dir`, or the PostgreSQL `url` (shared by replicas,
    which then lead instances by leases of `lease_ttl` seconds)."""

    data_dir: str = "data"
    url: str = ""
    password: str = field(default="", repr=False)
    lease_ttl: float = 15.0

    @property
    def shared(self) -> bool:
        """Replicas share it (PostgreSQL): leadership by leases instead of one service per store."""
        return self.url.startswith(POSTGRES_SCHEMES)

    def describe(self) -> str:
        """Where it is, without a password."""
        return self.url or str(Path(self.data_dir) / FILE_NAME)

    def open(self, readonly: bool = False, service: bool = True) -> Store:
        """The store; a SQLite one opened by the service (not by a command beside it) is locked to it."""
        exclusive = service and not readonly and not self.shared
        return open_store(self.data_dir, self.url, self.password, readonly=readonly, exclusive=exclusive)


def open_store(
    data_dir: str, url: str = "", password: str = "", readonly: bool = False, exclusive: bool = False
) -> Store:
    """The store `url` names, or without one the SQLite file in `data_dir`; the service opens it `exclusive`.

    `url`: postgresql://user@host:5432/db (`password` is the role's, from store.password_file), or
    sqlite:///path/to/file.db."""
    if not url:
        return SQLiteStore(Path(data_dir) / FILE_NAME, readonly=readonly, exclusive=exclusive)
    if url.startswith(POSTGRES_SCHEMES):
        # Imported here: psycopg takes ~0.2 s to import, which every command of an SQLite user would pay.
        from .postgres import PostgresStore

        return PostgresStore(url, password=password, readonly=readonly, exclusive=exclusive)
    if url.startswith(SQLITE_SCHEME):
        path = Path("/" + url.removeprefix(SQLITE_SCHEME).lstrip("/"))  # sqlite:///a/b and sqlite:////a/b
        return SQLiteStore(path, readonly=readonly, exclusive=exclusive)
    scheme = url.partition("://")[0] if "://" in url else "none"
    raise StoreError(
        f"store.url: unsupported scheme {scheme!r} (postgresql://user@host:port/db or sqlite:///path)"
    )


__all__ = [
    "Lease",
    "LeaseLost",
    "Leases",
    "StoreSettings",
    "FILE_NAME",
    "LOST_REASONS",
    "SCHEMA_VERSION",
    "AuditEntry",
    "CompletionRecord",
    "HandlerRun",
    "Key",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreLost",
    "open_store",
]
