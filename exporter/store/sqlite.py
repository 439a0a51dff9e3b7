"""The SQLite backend of the store: one file in WAL mode, schema versioned with PRAGMA user_version."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .base import (
    COLUMNS,
    DUMP_ORDER,
    JSON_COLUMNS,
    AuditEntry,
    CompletionRecord,
    HandlerRun,
    Key,
    Rows,
    Store,
    StoreError,
    StoreLost,
)
from .files import (
    DirectoryLock,
    Identities,
    create_store_file,
    identity_of,
    make_directory,
    refuse_non_store,
    sidecar,
    unwritable_store,
)

T = TypeVar("T")

MIGRATIONS: tuple[str, ...] = (
    # version 1
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE completions (
        hash TEXT NOT NULL, completion_on INTEGER NOT NULL, detected_at REAL NOT NULL,
        status TEXT NOT NULL, torrent TEXT NOT NULL, PRIMARY KEY (hash, completion_on));
    CREATE INDEX completions_by_time ON completions (detected_at) WHERE status != 'baseline';
    CREATE TABLE handler_runs (
        hash TEXT NOT NULL, completion_on INTEGER NOT NULL, handler TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL,
        PRIMARY KEY (hash, completion_on, handler));
    CREATE INDEX handler_runs_due ON handler_runs (next_attempt_at) WHERE status = 'pending';
    CREATE TABLE action_state (
        kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, key));
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, action TEXT NOT NULL,
        hash TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL, result TEXT NOT NULL,
        dry_run INTEGER NOT NULL);
    CREATE INDEX audit_by_time ON audit (at);
    """,
    # version 2: every row belongs to an instance (its configured name; '' for rows of version 1)
    """
    CREATE TABLE completions_v2 (
        instance TEXT NOT NULL, hash TEXT NOT NULL, completion_on INTEGER NOT NULL, detected_at REAL NOT NULL,
        status TEXT NOT NULL, torrent TEXT NOT NULL, PRIMARY KEY (instance, hash, completion_on));
    INSERT INTO completions_v2 SELECT '', hash, completion_on, detected_at, status, torrent FROM completions;
    DROP TABLE completions;
    ALTER TABLE completions_v2 RENAME TO completions;
    CREATE INDEX completions_by_time ON completions (detected_at) WHERE status != 'baseline';
    CREATE TABLE handler_runs_v2 (
        instance TEXT NOT NULL, hash TEXT NOT NULL, completion_on INTEGER NOT NULL, handler TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL,
        PRIMARY KEY (instance, hash, completion_on, handler));
    INSERT INTO handler_runs_v2 SELECT '', hash, completion_on, handler, status, attempts, next_attempt_at,
        last_error, updated_at FROM handler_runs;
    DROP TABLE handler_runs;
    ALTER TABLE handler_runs_v2 RENAME TO handler_runs;
    CREATE INDEX handler_runs_due ON handler_runs (instance, next_attempt_at) WHERE status = 'pending';
    CREATE TABLE action_state_v2 (
        instance TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (instance, kind, key));
    INSERT INTO action_state_v2 SELECT '', kind, key, value FROM action_state;
    DROP TABLE action_state;
    ALTER TABLE action_state_v2 RENAME TO action_state;
    ALTER TABLE audit ADD COLUMN instance TEXT NOT NULL DEFAULT '';
    CREATE TABLE baselines (instance TEXT PRIMARY KEY, at REAL NOT NULL);
    INSERT INTO baselines SELECT '', CAST(value AS REAL) FROM meta WHERE key = 'baseline_at';
    DELETE FROM meta WHERE key = 'baseline_at';
    """,
    # version 3: leases among replicas (used by the PostgreSQL backend; one service owns a SQLite store)
    """
    CREATE TABLE leases (instance TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL,
        expires_at REAL NOT NULL);
    CREATE TABLE replicas (holder TEXT PRIMARY KEY, expires_at REAL NOT NULL);
    """,
    # version 4: the completion backlog counted from an index (the job reads it every run; it scanned
    # every baseline row, ~40 ms at 50,000 torrents)
    """
    CREATE INDEX completions_backlog ON completions (instance) WHERE status IN ('pending', 'dead');
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
# Read by the completion job every run: answered from the completions_backlog index (version 4).
BACKLOG = "SELECT count(*) FROM completions WHERE instance = ? AND status IN ('pending', 'dead')"


class SQLiteStore(Store):
    """`exclusive`: hold a lock on the data directory while open (files.py says why the directory), so
    that a second service on the same store fails at start instead of running every handler twice.

    A missing file is a fresh store; a file that cannot be this store's (empty, not a regular file,
    corrupt, newer schema) or a directory it cannot write is a StoreError at open, never replaced."""

    def __init__(self, path: str | Path, readonly: bool = False, exclusive: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.Lock()
        self._dirlock: DirectoryLock | None = None
        self._lost: tuple[str, str] | None = None  # (reason, message) once check() found the store gone
        try:
            self._db = self._connect(readonly, exclusive)
            try:
                self._check(readonly)
            except BaseException:
                self._db.close()
                raise
            self._files = Identities((self.path.parent, self.path, self._wal, self._shm))
        except BaseException as exc:
            if self._dirlock is not None:
                self._dirlock.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(self._explain(exc)) from None
            if isinstance(exc, OSError):
                raise StoreError(f"cannot open store {self.path}: {exc.strerror}") from None
            raise

    @property
    def _wal(self) -> Path:
        return sidecar(self.path, "-wal")

    @property
    def _shm(self) -> Path:
        return sidecar(self.path, "-shm")

    def _connect(self, readonly: bool, exclusive: bool) -> sqlite3.Connection:
        """The connection, after every check that can be made on the files themselves (files.py)."""
        if readonly:
            if identity_of(self.path) is None:
                raise StoreError(f"no store at {self.path} (has the service run with actions enabled?)")
            refuse_non_store(self.path)
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        make_directory(self.path.parent)
        if exclusive:
            self._dirlock = DirectoryLock(self.path.parent, self.path)
        if identity_of(self.path) is None:
            create_store_file(self.path)
        refuse_non_store(self.path)
        if why := unwritable_store(self.path):
            raise StoreError(why)
        return sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)

    def _explain(self, exc: sqlite3.DatabaseError) -> str:
        text = str(exc)
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return (
                f"store {self.path} is corrupt ({text}); move it away to start afresh or restore a "
                "backup — the completion ledger and action state are in it"
            )
        if "readonly" in text or "unable to open" in text or "disk I/O" in text:
            return unwritable_store(self.path) or f"store {self.path} cannot be written ({text})"
        return f"store {self.path}: {text}"

    def check(self) -> None:
        """StoreLost once the data directory, the db, its -wal or its -shm is not at its path any more
        or is another file there (compared by st_dev and st_ino with what was opened). Sticky: the
        files this connection writes are then not the ones a restart would read."""
        if self._lost is None:
            try:
                change = self._files.changed()
            except OSError as exc:  # e.g. the directory's permissions changed: not known to be lost
                raise StoreError(f"cannot check store {self.path}: {exc.strerror}") from None
            if change is None:
                return
            with self._lock:
                if self._lost is None:
                    self._lost = (change[0], self._lost_message(*change))
        raise StoreLost(*self._lost)

    def _lost_message(self, reason: str, path: Path) -> str:
        """The one error of a lost store, after moving every commit out of the -wal this connection
        writes (a checkpoint through its open files; the paths are not used).

        SQLite keeps that -wal when its db has gone (it does not checkpoint a moved db on close), and
        a restart would replay it into whatever db is at the path then: a replacement, or a fresh
        store (SQLite pairs a db and a -wal by name only). Checkpointed and truncated, it holds
        nothing to replay, and its commits are in the db file this connection opened: the store
        itself if only the -wal or -shm went (Identities reports the first change in the order
        directory, db, -wal, -shm), a moved-away db or directory wherever it is now."""
        what = {
            self.path.parent: "its data directory",
            self.path: "the store file",
            self._wal: "its write-ahead log",
            self._shm: "its shared-memory index",
        }[path]
        saved = self._checkpoint()
        note = ""
        if path in (self._wal, self._shm):
            note = "; its commits were " + ("copied into the store file first" if saved else "not saved")
        return (
            f"store {self.path} is lost: {what} {path} was {reason} under the running service{note}; "
            "no job acts until the service is restarted"
        )

    def _checkpoint(self) -> bool:
        """Copy every commit of the -wal into the db file and truncate the -wal; True if done."""
        if self.readonly:
            return False
        try:
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error:
            return False
        return bool(busy == 0)

    def _check(self, readonly: bool) -> None:
        db = self._db
        db.row_factory = sqlite3.Row
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}, newer than this "
                f"qbittorrent-monitor understands ({SCHEMA_VERSION}): upgrade, or use another --data.dir"
            )
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed: {check}")
        if readonly:
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.path} has schema version {version}; start the service once to migrate it"
                )
            return
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("BEGIN IMMEDIATE")  # fails here, at start, if the file cannot be written
        try:
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('opened_by_pid', ?)", (str(os.getpid()),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn(db) in one transaction, under the lock, if the store is still there (check());
        database errors become StoreError."""
        self.check()
        with self._lock:
            try:
                if not self.readonly:
                    self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(self._db)
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                if self._db.in_transaction:
                    self._db.execute("COMMIT")
                return result
            except sqlite3.DatabaseError as exc:
                raise StoreError(self._explain(exc)) from None

    # -- completion ledger -----------------------------------------------------------------------

    def baseline_taken(self, instance: str = "") -> bool:
        return (
            self._run(
                lambda db: db.execute("SELECT 1 FROM baselines WHERE instance = ?", (instance,)).fetchone()
            )
            is not None
        )

    def take_baseline(self, keys: Iterable[Key], at: float, instance: str = "") -> None:
        def write(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT OR IGNORE INTO completions VALUES (?, ?, ?, ?, 'baseline', '{}')",
                ((instance, h, c, at) for h, c in keys),
            )
            db.execute("INSERT OR REPLACE INTO baselines VALUES (?, ?)", (instance, at))

        self._run(write)

    def known_completions(self, instance: str = "") -> set[Key]:
        return self._run(
            lambda db: {
                (r[0], r[1])
                for r in db.execute(
                    "SELECT hash, completion_on FROM completions WHERE instance = ?", (instance,)
                )
            }
        )

    def add_completion(
        self, key: Key, torrent: Mapping[str, Any], handlers: Iterable[str], at: float, instance: str = ""
    ) -> None:
        names = list(handlers)

        def write(db: sqlite3.Connection) -> None:
            added = db.execute(
                "INSERT OR IGNORE INTO completions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    instance,
                    *key,
                    at,
                    "pending" if names else "done",
                    json.dumps(dict(torrent), sort_keys=True),
                ),
            )
            if added.rowcount != 1:
                return  # already in the ledger: its handlers were queued then
            db.executemany(
                "INSERT OR IGNORE INTO handler_runs VALUES (?, ?, ?, ?, 'pending', 0, ?, '', ?)",
                ((instance, *key, name, at, at) for name in names),
            )

        self._run(write)

    def due_runs(self, now: float, limit: int, instance: str = "") -> list[HandlerRun]:
        return self._run(
            lambda db: [
                _run_of(r)
                for r in db.execute(
                    "SELECT r.*, c.torrent FROM handler_runs r "
                    "JOIN completions c USING (instance, hash, completion_on) "
                    "WHERE r.instance = ? AND r.status = 'pending' AND r.next_attempt_at <= ? "
                    "ORDER BY r.next_attempt_at, r.hash, r.handler LIMIT ?",
                    (instance, now, limit),
                )
            ]
        )

    def finish_run(
        self, run: HandlerRun, status: str, at: float, error: str = "", retry_at: float = 0.0
    ) -> None:
        if status not in ("done", "dead", "pending"):
            raise ValueError(f"bad handler run status {status!r}")
        key = (run.instance, *run.key)

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE handler_runs SET status = ?, attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = ?, updated_at = ? "
                "WHERE instance = ? AND hash = ? AND completion_on = ? AND handler = ?",
                (status, retry_at if status == "pending" else at, error[:500], at, *key, run.handler),
            )
            statuses = {
                r[0]
                for r in db.execute(
                    "SELECT status FROM handler_runs WHERE instance = ? AND hash = ? AND completion_on = ?",
                    key,
                )
            }
            overall = "pending" if "pending" in statuses else "dead" if "dead" in statuses else "done"
            db.execute(
                "UPDATE completions SET status = ? WHERE instance = ? AND hash = ? AND completion_on = ?",
                (overall, *key),
            )

        self._run(write)

    def retry_dead(self, at: float, instance: str | None = None) -> int:
        where, args = _instance_filter(instance)

        def write(db: sqlite3.Connection) -> int:
            n = db.execute(
                "UPDATE handler_runs SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                f"updated_at = ? WHERE status = 'dead'{where}",
                (at, at, *args),
            ).rowcount
            db.execute(f"UPDATE completions SET status = 'pending' WHERE status = 'dead'{where}", args)
            return n

        return self._run(write)

    def history(
        self, since: float, status: str = "", limit: int = 1000, instance: str | None = None
    ) -> list[CompletionRecord]:
        where, args = _instance_filter(instance)

        def read(db: sqlite3.Connection) -> list[CompletionRecord]:
            sql = f"SELECT * FROM completions WHERE status != 'baseline' AND detected_at >= ?{where}"
            params: list[Any] = [since, *args]
            if status:
                sql, params = sql + " AND status = ?", [*params, status]
            rows = db.execute(
                sql + " ORDER BY detected_at DESC, instance, hash LIMIT ?", (*params, limit)
            ).fetchall()
            out = []
            for r in rows:
                torrent = json.loads(r["torrent"])
                runs = tuple(
                    _run_of(x, torrent)
                    for x in db.execute(
                        "SELECT * FROM handler_runs WHERE instance = ? AND hash = ? AND completion_on = ? "
                        "ORDER BY handler",
                        (r["instance"], r["hash"], r["completion_on"]),
                    )
                )
                out.append(
                    CompletionRecord(
                        r["hash"],
                        r["completion_on"],
                        r["detected_at"],
                        r["status"],
                        torrent,
                        runs,
                        r["instance"],
                    )
                )
            return out

        return self._run(read)

    def backlog(self, instance: str = "") -> int:
        return self._run(lambda db: db.execute(BACKLOG, (instance,)).fetchone()[0])

    # -- action state and audit ------------------------------------------------------------------

    def state(self, kind: str, instance: str = "") -> dict[str, Any]:
        return self._run(
            lambda db: {
                r[0]: json.loads(r[1])
                for r in db.execute(
                    "SELECT key, value FROM action_state WHERE instance = ? AND kind = ?", (instance, kind)
                )
            }
        )

    def put_state(self, kind: str, key: str, value: Any | None, instance: str = "") -> None:
        if value is None:
            self._run(
                lambda db: db.execute(
                    "DELETE FROM action_state WHERE instance = ? AND kind = ? AND key = ?",
                    (instance, kind, key),
                )
            )
        else:
            self._run(
                lambda db: db.execute(
                    "INSERT OR REPLACE INTO action_state VALUES (?, ?, ?, ?)",
                    (instance, kind, key, json.dumps(value, sort_keys=True)),
                )
            )

    def audit(self, entry: AuditEntry) -> None:
        self._run(
            lambda db: db.execute(
                "INSERT INTO audit (at, action, hash, name, reason, result, dry_run, instance) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.at,
                    entry.action,
                    entry.hash,
                    entry.name,
                    entry.reason,
                    entry.result,
                    int(entry.dry_run),
                    entry.instance,
                ),
            )
        )

    def audit_log(self, since: float, limit: int = 1000, instance: str | None = None) -> list[AuditEntry]:
        where, args = _instance_filter(instance)
        return self._run(
            lambda db: [
                AuditEntry(
                    r["at"],
                    r["action"],
                    r["hash"],
                    r["name"],
                    r["reason"],
                    r["result"],
                    bool(r["dry_run"]),
                    r["instance"],
                )
                for r in db.execute(
                    f"SELECT * FROM audit WHERE at >= ?{where} ORDER BY id LIMIT ?", (since, *args, limit)
                )
            ]
        )

    # -- instances ----------------------------------------------------------------------------------

    def instances(self) -> set[str]:
        tables = ("completions", "handler_runs", "action_state", "audit", "baselines")
        return self._run(
            lambda db: {r[0] for t in tables for r in db.execute(f"SELECT DISTINCT instance FROM {t}")}  # noqa: S608
        )

    def rename_instance(self, old: str, new: str) -> int:
        def write(db: sqlite3.Connection) -> int:
            if db.execute("SELECT 1 FROM completions WHERE instance = ? LIMIT 1", (new,)).fetchone():
                raise StoreError(f"cannot give the rows of {old!r} to {new!r}: {new!r} has rows of its own")
            moved = db.execute("UPDATE completions SET instance = ? WHERE instance = ?", (new, old)).rowcount
            for table in ("handler_runs", "action_state", "audit", "baselines"):
                db.execute(f"UPDATE {table} SET instance = ? WHERE instance = ?", (new, old))  # noqa: S608
            return moved

        return self._run(write)

    # -- copying ----------------------------------------------------------------------------------

    def dump(self) -> Rows:
        def read(db: sqlite3.Connection) -> Rows:
            if not db.in_transaction:
                db.execute("BEGIN")  # one snapshot for every table, read-only opens included
            return {table: [_decoded(table, tuple(r)) for r in db.execute(_DUMP[table])] for table in COLUMNS}

        return self._run(read)

    def load(self, rows: Rows) -> None:
        def write(db: sqlite3.Connection) -> None:
            if _has_rows(db):
                raise StoreError(f"store {self.path} is not empty: copy only into a new store")
            for table, columns in COLUMNS.items():
                db.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    (_encoded(table, row) for row in rows.get(table, [])),
                )

        self._run(write)

    def close(self) -> None:
        try:
            self.check()  # a loss nobody noticed yet: empty the -wal now (see _lost_message)
        except StoreError:
            pass
        with self._lock:
            self._db.close()
            if self._dirlock is not None:
                self._dirlock.close()
                self._dirlock = None


_DUMP = {t: f"SELECT {', '.join(c)} FROM {t} ORDER BY {DUMP_ORDER[t]}" for t, c in COLUMNS.items()}  # noqa: S608


def _decoded(table: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row as dump() gives it: JSON columns parsed, dry_run a bool."""
    values = dict(zip(COLUMNS[table], row, strict=True))
    if table in JSON_COLUMNS:
        values[JSON_COLUMNS[table]] = json.loads(values[JSON_COLUMNS[table]])
    if table == "audit":
        values["dry_run"] = bool(values["dry_run"])
    return tuple(values.values())


def _encoded(table: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row of dump() as this file's columns hold it (the inverse of _decoded)."""
    values = dict(zip(COLUMNS[table], row, strict=True))
    if table in JSON_COLUMNS:
        values[JSON_COLUMNS[table]] = json.dumps(values[JSON_COLUMNS[table]], sort_keys=True)
    if table == "audit":
        values["dry_run"] = int(values["dry_run"])
    return tuple(values.values())


def _has_rows(db: sqlite3.Connection) -> bool:
    return any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in COLUMNS)  # noqa: S608


def _instance_filter(instance: str | None) -> tuple[str, tuple[str, ...]]:
    """An `AND instance = ?` clause and its argument, or nothing for every instance."""
    return ("", ()) if instance is None else (" AND instance = ?", (instance,))


def _run_of(row: sqlite3.Row, torrent: Mapping[str, Any] | None = None) -> HandlerRun:
    return HandlerRun(
        hash=row["hash"],
        completion_on=row["completion_on"],
        handler=row["handler"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        torrent=torrent if torrent is not None else json.loads(row["torrent"]),
        instance=row["instance"],
    )
