"""Durable state of the action jobs (the interface and records: base.py; the SQLite backend: sqlite.py)."""

from __future__ import annotations

from pathlib import Path

from .base import LOST_REASONS, AuditEntry, CompletionRecord, HandlerRun, Key, Store, StoreError, StoreLost
from .sqlite import SCHEMA_VERSION, SQLiteStore

FILE_NAME = "qbittorrent-monitor.db"


def open_store(data_dir: str, readonly: bool = False, exclusive: bool = False) -> Store:
    """The store in `data_dir` (SQLite); the service opens it `exclusive` (one service per store)."""
    return SQLiteStore(Path(data_dir) / FILE_NAME, readonly=readonly, exclusive=exclusive)


__all__ = [
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
