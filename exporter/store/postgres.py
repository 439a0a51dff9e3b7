"""The PostgreSQL backend of the store: a shared database (store.url) through a pool of psycopg 3 connections.

The same tables, schema versions and semantics as sqlite.py, in PostgreSQL's types (BIGINT, DOUBLE
PRECISION, JSONB for torrents and action state, BOOLEAN). The version is the one row of `schema_version`;
migrations run under a transaction-level advisory lock, so that two services starting together migrate
once. Text that rows are sorted by is `COLLATE "C"`, so that the order is the bytes' (SQLite's), whatever
the database's locale.

SQLite serialises every write; here each write takes an advisory lock of its instance for its transaction
(shared with, and excluded by, the writes that touch every instance), so that two threads or two
processes finishing handlers of the same completion cannot both miss the other's row. Reads are one
statement (in autocommit: its own transaction, without BEGIN and COMMIT round trips) or one REPEATABLE READ
snapshot (history, dump).

Messages never hold the password: the store is named by `describe()`, a URL that libpq cannot parse is
refused without quoting it, and a password that a server message would quote is cut out.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from .base import (
    COLUMNS,
    DUMP_ORDER,
    FENCE,
    JSON_COLUMNS,
    AuditEntry,
    CompletionRecord,
    HandlerRun,
    Key,
    Lease,
    LeaseLost,
    Leases,
    Rows,
    Store,
    StoreError,
    StoreLost,
)

T = TypeVar("T")
Cursor = psycopg.Cursor[dict[str, Any]]

MIGRATIONS: tuple[str, ...] = (
    # version 1 (sqlite.py's version 1)
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE completions (
        hash TEXT COLLATE "C" NOT NULL, completion_on BIGINT NOT NULL, detected_at DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL, torrent JSONB NOT NULL, PRIMARY KEY (hash, completion_on));
    CREATE INDEX completions_by_time ON completions (detected_at) WHERE status <> 'baseline';
    CREATE TABLE handler_runs (
        hash TEXT COLLATE "C" NOT NULL, completion_on BIGINT NOT NULL, handler TEXT COLLATE "C" NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at DOUBLE PRECISION NOT NULL,
        last_error TEXT NOT NULL DEFAULT '', updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (hash, completion_on, handler));
    CREATE INDEX handler_runs_due ON handler_runs (next_attempt_at) WHERE status = 'pending';
    CREATE TABLE action_state (
        kind TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, value JSONB NOT NULL,
        PRIMARY KEY (kind, key));
    CREATE TABLE audit (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL,
        action TEXT NOT NULL, hash TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL,
        result TEXT NOT NULL, dry_run BOOLEAN NOT NULL);
    CREATE INDEX audit_by_time ON audit (at);
    """,
    # version 2: every row belongs to an instance (its configured name; '' for rows of version 1)
    """
    ALTER TABLE completions ADD COLUMN instance TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE completions ALTER COLUMN instance DROP DEFAULT, DROP CONSTRAINT completions_pkey,
        ADD PRIMARY KEY (instance, hash, completion_on);
    ALTER TABLE handler_runs ADD COLUMN instance TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE handler_runs ALTER COLUMN instance DROP DEFAULT, DROP CONSTRAINT handler_runs_pkey,
        ADD PRIMARY KEY (instance, hash, completion_on, handler);
    DROP INDEX handler_runs_due;
    CREATE INDEX handler_runs_due ON handler_runs (instance, next_attempt_at, hash, handler)
        WHERE status = 'pending';  -- due_runs' order: a LIMIT reads only the rows it returns
    ALTER TABLE action_state ADD COLUMN instance TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE action_state ALTER COLUMN instance DROP DEFAULT, DROP CONSTRAINT action_state_pkey,
        ADD PRIMARY KEY (instance, kind, key);
    ALTER TABLE audit ADD COLUMN instance TEXT COLLATE "C" NOT NULL DEFAULT '';
    CREATE TABLE baselines (instance TEXT COLLATE "C" PRIMARY KEY, at DOUBLE PRECISION NOT NULL);
    INSERT INTO baselines SELECT '', CAST(value AS DOUBLE PRECISION) FROM meta WHERE key = 'baseline_at';
    DELETE FROM meta WHERE key = 'baseline_at';
    """,
    # version 3: leadership per instance among replicas (store/base.py Leases); times are the server's
    """
    CREATE TABLE leases (
        instance TEXT COLLATE "C" PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL);
    CREATE TABLE replicas (holder TEXT PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL);
    """,
    # version 4: the completion backlog counted from an index (the job reads it every run; it scanned
    # every baseline row, ~40 ms at 50,000 torrents)
    """
    CREATE INDEX completions_backlog ON completions (instance) WHERE status IN ('pending', 'dead');
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# Advisory lock keys: a bigint each (the two-int key space below does not overlap them), readable in
# pg_locks as the bytes of their names.
SERVICE_LOCK = int.from_bytes(b"qbm-serv", "big", signed=True)  # held by the one service (exclusive)
MIGRATE_LOCK = int.from_bytes(b"qbm-migr", "big", signed=True)  # one migration at a time
ALL_WRITES = int.from_bytes(b"qbm-writ", "big", signed=True)  # shared by instance writes, taken by all-writes
INSTANCE_LOCKS = int.from_bytes(b"qbmi", "big", signed=True)  # (this, hashtext(instance)): one instance

POOL_SIZE = 4  # the jobs' threads are few; a fifth caller waits up to POOL_TIMEOUT for a connection
POOL_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5  # seconds, per connection attempt (libpq's connect_timeout)
STATEMENT_TIMEOUT = "30s"  # a statement that waits longer (a lock held by a stuck peer) fails instead

_COMPLETION = "instance, hash, completion_on, detected_at, status, torrent"
_RUN = "instance, hash, completion_on, handler, status, attempts, next_attempt_at, last_error"
_DUMP = {t: f"SELECT {', '.join(c)} FROM {t} ORDER BY {DUMP_ORDER[t]}" for t, c in COLUMNS.items()}  # noqa: S608


class PostgresStore(Store):
    """`exclusive`: hold a session-level advisory lock on a dedicated connection while open, so that a
    second service on the same database fails at start (the server drops the lock with the session:
    when the process dies, or its connection does)."""

    def __init__(self, url: str, password: str = "", readonly: bool = False, exclusive: bool = False) -> None:
        self.url, self.readonly = url, readonly
        try:
            parts = conninfo_to_dict(url)
        except psycopg.Error:  # libpq's message quotes the bad part, which may be the password
            raise StoreError(
                "store.url is not a valid PostgreSQL URL (postgresql://user@host:port/database, "
                "special characters %-escaped; the password belongs in store.password_file)"
            ) from None
        self.name = describe(parts)
        self._secrets = tuple(s for s in (password, str(parts.get("password") or ""), url) if s)
        self._kwargs: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT,
            "fallback_application_name": "qbittorrent-monitor",
        }
        if password:
            self._kwargs["password"] = password
        self._lock_conn: psycopg.Connection[Any] | None = None
        first = self._connect()
        try:
            if exclusive:
                self._take_lock(first)
            self._check(first)
        except BaseException:
            first.close()
            raise
        self._lost: StoreLost | None = None
        try:
            with first.transaction():
                self._id = self._store_id(first)
        except psycopg.Error as exc:
            first.close()
            raise StoreError(self._explain(exc)) from None
        if exclusive:
            self._lock_conn = first  # the lock lives as long as this session
        else:
            first.close()
        self._leases = PostgresLeases(self)
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url,
            kwargs={**self._kwargs, "row_factory": dict_row, "autocommit": True},
            min_size=1,
            max_size=POOL_SIZE,
            timeout=POOL_TIMEOUT,
            configure=self._configure,
            check=ConnectionPool.check_connection,
            name="qbittorrent-monitor-store",
            open=True,
        )

    # -- opening -----------------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, **self._kwargs)
        except psycopg.Error as exc:
            raise StoreError(self._explain_connect(exc)) from None

    def _take_lock(self, conn: psycopg.Connection[Any]) -> None:
        """The one-service-per-store check (until leadership per instance replaces it)."""
        [held] = conn.execute("SELECT pg_try_advisory_lock(%s)", (SERVICE_LOCK,)).fetchone() or (False,)
        if not held:
            raise StoreError(
                f"store {self.name} is in use by another qbittorrent-monitor (one service per store.url)"
            )

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        """Refuse a newer schema; migrate an older one (not when read-only), one opener at a time."""
        try:
            with conn.transaction():
                if not self.readonly:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                self._migrate(conn, self._version(conn))
        except psycopg.Error as exc:
            raise StoreError(self._explain(exc)) from None

    def _migrate(self, conn: psycopg.Connection[Any], version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.name} has schema version {version}, newer than this qbittorrent-monitor "
                f"understands ({SCHEMA_VERSION}): upgrade, or use another store.url"
            )
        if self.readonly:
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.name} has schema version {version}; start the service once to migrate it"
                )
            return
        for number in range(version, SCHEMA_VERSION):
            conn.execute(MIGRATIONS[number])
        conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))
        conn.execute(
            "INSERT INTO meta VALUES ('store_id', %s) ON CONFLICT (key) DO NOTHING", (uuid.uuid4().hex,)
        )
        conn.execute(
            "INSERT INTO meta VALUES ('opened_by_pid', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (str(os.getpid()),),
        )

    def _version(self, conn: psycopg.Connection[Any]) -> int:
        """The schema version; a database without the table is version 0 (created here unless read-only)."""
        [table] = conn.execute("SELECT to_regclass('schema_version')").fetchone() or (None,)
        if table is None:
            if self.readonly:
                raise StoreError(f"no store in {self.name} (has the service run with actions enabled?)")
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO schema_version VALUES (0)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _store_id(self, conn: psycopg.Connection[Any]) -> str:
        """The random id this store was given when it was created: another database has another one."""
        row = (
            conn.cursor(row_factory=tuple_row)
            .execute("SELECT value FROM meta WHERE key = 'store_id'")
            .fetchone()
        )
        return str(row[0]) if row else ""

    def check(self) -> None:
        """StoreLost when the database at store.url is not this store any more: its tables dropped
        (`deleted`), or another store's (`replaced`). PostgreSQL unreachable is a StoreError, not a loss:
        the jobs fail this run and try again."""
        if self._lost is not None:
            raise self._lost
        try:
            with self._pool.connection() as conn:
                [table] = conn.cursor(row_factory=tuple_row).execute(
                    "SELECT to_regclass('meta')"
                ).fetchone() or (None,)
                if table is None:
                    found = None
                else:
                    found = self._store_id(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreError(self._explain(exc)) from None
        if found == self._id:
            return
        reason = "deleted" if found is None else "replaced"
        what = "its tables are gone" if found is None else "the database holds another store"
        self._lost = StoreLost(reason, f"store {self.name} is lost: {what}")
        raise self._lost

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Each pooled connection: statements bounded; read-only opens cannot write by mistake."""
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (STATEMENT_TIMEOUT,))
        if self.readonly:
            conn.execute("SET default_transaction_read_only = on")

    # -- errors --------------------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        """libpq's message as one line, without the password or the URL it might quote."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())

    def _explain_connect(self, exc: psycopg.Error) -> str:
        text = self._clean(str(exc))
        reason = text.rsplit(" failed: ", 1)[-1].removeprefix("FATAL: ").strip()
        if "password authentication failed" in text:
            hint = "wrong password: check store.password_file"
        elif "no password supplied" in text:
            hint = "the server asks for a password: set store.password_file"
        elif "does not exist" in text:
            hint = "create it, owned by the store's role (CREATE DATABASE ... OWNER ...)"
        elif "Connection refused" in text or "timeout expired" in text or "No such file" in text:
            hint = "PostgreSQL is unreachable: is it running, and is store.url right?"
        else:
            hint = "check store.url"
        return f"store {self.name}: cannot connect ({reason}): {hint}"

    def _explain(self, exc: psycopg.Error | PoolTimeout) -> str:
        if isinstance(exc, PoolTimeout):
            return f"store {self.name}: no connection to PostgreSQL within {POOL_TIMEOUT:g} s"
        text = self._clean(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return (
                f"store {self.name}: {text}: the store's role must own its database (or search_path schema)"
            )
        return f"store {self.name}: {text}"

    # -- transactions ----------------------------------------------------------------------------------

    def _read(self, fn: Callable[[Cursor], T]) -> T:
        """fn(cursor), a read of one statement: its own transaction (autocommit spares BEGIN and COMMIT)."""
        return self._call(fn, None, ())

    def _snapshot(self, fn: Callable[[Cursor], T]) -> T:
        """fn(cursor), a read of several statements, in one transaction that sees one snapshot."""
        return self._call(fn, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", ())

    def _write(self, fn: Callable[[Cursor], T], instance: str | None) -> T:
        """fn(cursor) in one transaction holding the write lock of `instance` (None: of every instance).

        Under a fence (base.FENCE: this thread writes for `instance` under a lease term), the transaction
        first checks that the term is still the live one, and holds its row: a replica taking the lease
        over waits for this write to commit, and a stale term's write is refused (LeaseLost)."""
        if instance is None:
            return self._call(fn, "SELECT pg_advisory_xact_lock(%s)", (ALL_WRITES,))
        fence = FENCE.get()
        if fence is None or fence[0] != instance:
            return self._call(
                fn,
                "SELECT pg_advisory_xact_lock_shared(%s), pg_advisory_xact_lock(%s, hashtext(%s))",
                (ALL_WRITES, INSTANCE_LOCKS, instance),
            )
        token = fence[1]

        def fenced(cur: Cursor) -> T:
            live = cur.execute(
                "SELECT 1 FROM leases WHERE instance = %s AND token = %s AND expires_at > now() FOR SHARE",
                (instance, token),
            ).fetchone()
            if live is None:
                raise LeaseLost(f"store {self.name}: the lease of {instance} (term {token}) is over")
            return fn(cur)

        return self._call(
            fenced,
            "SELECT pg_advisory_xact_lock_shared(%s), pg_advisory_xact_lock(%s, hashtext(%s))",
            (ALL_WRITES, INSTANCE_LOCKS, instance),
        )

    # -- leases (store/base.py Leases) ------------------------------------------------------------------

    def leases(self) -> Leases:
        return self._leases

    def _call(
        self,
        fn: Callable[[Cursor], T],
        first: str | None,
        args: tuple[Any, ...],
        timeout: float | None = None,
    ) -> T:
        """fn(cursor) on a pooled connection, alone or in a transaction that `first` opens (committed, or
        rolled back on any error); database errors become StoreError."""
        try:
            with self._pool.connection(timeout=timeout) as conn, conn.cursor() as cur:
                if first is None:
                    return fn(cur)
                with conn.transaction():
                    cur.execute(first, args)
                    return fn(cur)
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreError(self._explain(exc)) from None

    # -- completion ledger -----------------------------------------------------------------------------

    def baseline_taken(self, instance: str = "") -> bool:
        return self._read(
            lambda cur: (
                cur.execute("SELECT 1 FROM baselines WHERE instance = %s", (instance,)).fetchone() is not None
            )
        )

    def take_baseline(self, keys: Iterable[Key], at: float, instance: str = "") -> None:
        rows = [(instance, h, c, at) for h, c in keys]

        def write(cur: Cursor) -> None:
            cur.executemany(
                f"INSERT INTO completions ({_COMPLETION}) VALUES (%s, %s, %s, %s, 'baseline', '{{}}') "
                "ON CONFLICT DO NOTHING",
                rows,
            )
            cur.execute(
                "INSERT INTO baselines VALUES (%s, %s) ON CONFLICT (instance) DO UPDATE SET at = EXCLUDED.at",
                (instance, at),
            )

        self._write(write, instance)

    def known_completions(self, instance: str = "") -> set[Key]:
        return self._read(
            lambda cur: {
                (r["hash"], r["completion_on"])
                for r in cur.execute(
                    "SELECT hash, completion_on FROM completions WHERE instance = %s", (instance,)
                )
            }
        )

    def add_completion(
        self, key: Key, torrent: Mapping[str, Any], handlers: Iterable[str], at: float, instance: str = ""
    ) -> None:
        names = list(handlers)

        def write(cur: Cursor) -> None:
            cur.execute(
                f"INSERT INTO completions ({_COMPLETION}) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (instance, *key, at, "pending" if names else "done", Jsonb(dict(torrent))),
            )
            if cur.rowcount != 1:
                return  # already in the ledger: its handlers were queued then
            cur.executemany(
                f"INSERT INTO handler_runs ({_RUN}, updated_at) "
                "VALUES (%s, %s, %s, %s, 'pending', 0, %s, '', %s) ON CONFLICT DO NOTHING",
                [(instance, *key, name, at, at) for name in names],
            )

        self._write(write, instance)

    def due_runs(self, now: float, limit: int, instance: str = "") -> list[HandlerRun]:
        return self._read(
            lambda cur: [
                _run_of(r)
                for r in cur.execute(
                    "SELECT r.instance, r.hash, r.completion_on, r.handler, r.status, r.attempts, "
                    "r.next_attempt_at, r.last_error, c.torrent FROM handler_runs r "
                    "JOIN completions c USING (instance, hash, completion_on) "
                    "WHERE r.instance = %s AND r.status = 'pending' AND r.next_attempt_at <= %s "
                    "ORDER BY r.next_attempt_at, r.hash, r.handler LIMIT %s",
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
        where = "WHERE instance = %s AND hash = %s AND completion_on = %s"
        # TEXT cannot hold NUL, which a handler's output may: it is the one character written otherwise
        error = error[:500].replace("\x00", "\ufffd")

        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE handler_runs SET status = %s, attempts = attempts + 1, next_attempt_at = %s, "
                f"last_error = %s, updated_at = %s {where} AND handler = %s",
                (status, retry_at if status == "pending" else at, error, at, *key, run.handler),
            )
            statuses = {r["status"] for r in cur.execute(f"SELECT status FROM handler_runs {where}", key)}
            overall = "pending" if "pending" in statuses else "dead" if "dead" in statuses else "done"
            cur.execute(f"UPDATE completions SET status = %s {where}", (overall, *key))

        self._write(write, run.instance)

    def retry_dead(self, at: float, instance: str | None = None) -> int:
        where, args = _instance_filter(instance)

        def write(cur: Cursor) -> int:
            cur.execute(
                "UPDATE handler_runs SET status = 'pending', attempts = 0, next_attempt_at = %s, "
                f"updated_at = %s WHERE status = 'dead'{where}",
                (at, at, *args),
            )
            n = cur.rowcount
            cur.execute(f"UPDATE completions SET status = 'pending' WHERE status = 'dead'{where}", args)
            return n

        return self._write(write, instance)

    def history(
        self, since: float, status: str = "", limit: int = 1000, instance: str | None = None
    ) -> list[CompletionRecord]:
        where, args = _instance_filter(instance)
        sql = f"SELECT {_COMPLETION} FROM completions WHERE status <> 'baseline' AND detected_at >= %s{where}"
        params: list[Any] = [since, *args]
        if status:
            sql, params = sql + " AND status = %s", [*params, status]
        sql += " ORDER BY detected_at DESC, instance, hash LIMIT %s"

        def read(cur: Cursor) -> list[CompletionRecord]:
            rows = cur.execute(sql, (*params, limit)).fetchall()
            runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
            for r in cur.execute(
                f"SELECT {_RUN} FROM handler_runs "
                "WHERE (instance, hash, completion_on) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[])) ORDER BY handler",
                (
                    [r["instance"] for r in rows],
                    [r["hash"] for r in rows],
                    [r["completion_on"] for r in rows],
                ),
            ):
                runs.setdefault((r["instance"], r["hash"], r["completion_on"]), []).append(r)
            return [
                CompletionRecord(
                    r["hash"],
                    r["completion_on"],
                    r["detected_at"],
                    r["status"],
                    r["torrent"],
                    tuple(
                        _run_of(x, r["torrent"])
                        for x in runs.get((r["instance"], r["hash"], r["completion_on"]), [])
                    ),
                    r["instance"],
                )
                for r in rows
            ]

        return self._snapshot(read)

    def backlog(self, instance: str = "") -> int:
        sql = "SELECT count(*) AS n FROM completions WHERE instance = %s AND status IN ('pending', 'dead')"
        return self._read(lambda cur: int(cur.execute(sql, (instance,)).fetchall()[0]["n"]))

    # -- action state and audit ------------------------------------------------------------------------

    def state(self, kind: str, instance: str = "") -> dict[str, Any]:
        return self._read(
            lambda cur: {
                r["key"]: r["value"]
                for r in cur.execute(
                    "SELECT key, value FROM action_state WHERE instance = %s AND kind = %s", (instance, kind)
                )
            }
        )

    def put_state(self, kind: str, key: str, value: Any | None, instance: str = "") -> None:
        if value is None:
            sql = "DELETE FROM action_state WHERE instance = %s AND kind = %s AND key = %s"
            args: tuple[Any, ...] = (instance, kind, key)
        else:
            sql = (
                "INSERT INTO action_state (instance, kind, key, value) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (instance, kind, key) DO UPDATE SET value = EXCLUDED.value"
            )
            args = (instance, kind, key, Jsonb(value))
        self._write(lambda cur: _execute(cur, sql, args), instance)

    def audit(self, entry: AuditEntry) -> None:
        sql = (
            "INSERT INTO audit (at, action, hash, name, reason, result, dry_run, instance) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        )
        args = (entry.at, entry.action, entry.hash, entry.name, entry.reason, entry.result, entry.dry_run)
        self._write(lambda cur: _execute(cur, sql, (*args, entry.instance)), entry.instance)

    def audit_log(self, since: float, limit: int = 1000, instance: str | None = None) -> list[AuditEntry]:
        where, args = _instance_filter(instance)
        return self._read(
            lambda cur: [
                AuditEntry(
                    r["at"],
                    r["action"],
                    r["hash"],
                    r["name"],
                    r["reason"],
                    r["result"],
                    r["dry_run"],
                    r["instance"],
                )
                for r in cur.execute(
                    "SELECT at, action, hash, name, reason, result, dry_run, instance FROM audit "
                    f"WHERE at >= %s{where} ORDER BY id LIMIT %s",
                    (since, *args, limit),
                )
            ]
        )

    # -- instances ---------------------------------------------------------------------------------------

    def instances(self) -> set[str]:
        return self._read(lambda cur: {r["instance"] for r in cur.execute(_INSTANCES)})

    def rename_instance(self, old: str, new: str) -> int:
        def write(cur: Cursor) -> int:
            if cur.execute("SELECT 1 FROM completions WHERE instance = %s LIMIT 1", (new,)).fetchone():
                raise StoreError(f"cannot give the rows of {old!r} to {new!r}: {new!r} has rows of its own")
            cur.execute("UPDATE completions SET instance = %s WHERE instance = %s", (new, old))
            moved = cur.rowcount
            for table in ("handler_runs", "action_state", "audit", "baselines"):
                cur.execute(f"UPDATE {table} SET instance = %s WHERE instance = %s", (new, old))  # noqa: S608
            return moved

        return self._write(write, None)

    # -- copying -------------------------------------------------------------------------------------------

    def dump(self) -> Rows:
        def read(cur: Cursor) -> Rows:
            return {table: [tuple(r.values()) for r in cur.execute(_DUMP[table])] for table in COLUMNS}

        return self._snapshot(read)

    def load(self, rows: Rows) -> None:
        def write(cur: Cursor) -> None:
            if cur.execute(_INSTANCES + " LIMIT 1").fetchone():
                raise StoreError(f"store {self.name} is not empty: copy only into a new store")
            for table, columns in COLUMNS.items():
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                    [_encoded(table, row) for row in rows.get(table, [])],
                )

        self._write(write, None)

    def close(self) -> None:
        self._pool.close()
        if self._lock_conn is not None:
            self._lock_conn.close()  # ends the session, which releases its advisory lock
            self._lock_conn = None


_INSTANCES = " UNION ".join(
    f"SELECT DISTINCT instance FROM {t}"  # noqa: S608
    for t in ("completions", "handler_runs", "action_state", "audit", "baselines")
)


def describe(parts: Mapping[str, Any]) -> str:
    """The store's URL (parsed) as messages name it: user, host, port and database, never the password."""
    user = f"{parts['user']}@" if parts.get("user") else ""
    host, port, database = str(parts.get("host") or ""), str(parts.get("port") or ""), parts.get("dbname", "")
    if host.startswith("/"):  # a Unix socket directory
        return f"postgresql://{user}/{database}?host={host}" + (f"&port={port}" if port else "")
    return f"postgresql://{user}{host}{':' + port if port else ''}/{database}"


def _execute(cur: Cursor, sql: str, args: tuple[Any, ...]) -> None:
    cur.execute(sql, args)


def _instance_filter(instance: str | None) -> tuple[str, tuple[str, ...]]:
    """An `AND instance = %s` clause and its argument, or nothing for every instance."""
    return ("", ()) if instance is None else (" AND instance = %s", (instance,))


def _encoded(table: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row of dump() with its JSON column wrapped for JSONB."""
    if table not in JSON_COLUMNS:
        return row
    at = COLUMNS[table].index(JSON_COLUMNS[table])
    return (*row[:at], Jsonb(row[at]), *row[at + 1 :])


def _run_of(row: Mapping[str, Any], torrent: Mapping[str, Any] | None = None) -> HandlerRun:
    return HandlerRun(
        hash=row["hash"],
        completion_on=row["completion_on"],
        handler=row["handler"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        torrent=torrent if torrent is not None else row["torrent"],
        instance=row["instance"],
    )


class PostgresLeases(Leases):
    """Leases in the `leases` table: a term is a row's (holder, token); expiry by the server's clock."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.timeout = POOL_TIMEOUT  # a third of the lease's time-to-live once a heartbeat says it

    def _one(self, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        """One statement, failing within a third of the lease's time: the loop must notice an outage
        before its leases lapse, not wait on the pool."""
        return self.store._call(lambda cur: cur.execute(sql, args).fetchone(), None, (), self.timeout)

    def heartbeat(self, holder: str, ttl: float) -> int:
        self.timeout = min(ttl / 3, POOL_TIMEOUT)

        def beat(cur: Cursor) -> int:
            cur.execute(
                "INSERT INTO replicas VALUES (%s, now() + %s * interval '1 second') "
                "ON CONFLICT (holder) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                (holder, ttl),
            )
            cur.execute("DELETE FROM replicas WHERE expires_at < now() - interval '1 hour'")
            row = cur.execute("SELECT count(*) AS n FROM replicas WHERE expires_at > now()").fetchone()
            return int(row["n"]) if row else 1

        return self.store._call(beat, "SELECT 1", (), self.timeout)

    def held(self) -> dict[str, str]:
        return self.store._call(
            lambda cur: {
                r["instance"]: r["holder"]
                for r in cur.execute("SELECT instance, holder FROM leases WHERE expires_at > now()")
            },
            None,
            (),
            self.timeout,
        )

    def acquire(self, instance: str, holder: str, ttl: float) -> Lease | None:
        row = self._one(
            "INSERT INTO leases VALUES (%s, %s, 1, now() + %s * interval '1 second') "
            "ON CONFLICT (instance) DO UPDATE SET holder = EXCLUDED.holder, token = leases.token + 1, "
            "expires_at = EXCLUDED.expires_at WHERE leases.expires_at <= now() RETURNING token",
            (instance, holder, ttl),
        )
        return Lease(instance, holder, int(row["token"])) if row else None

    def renew(self, lease: Lease, ttl: float) -> bool:
        row = self._one(
            "UPDATE leases SET expires_at = now() + %s * interval '1 second' "
            "WHERE instance = %s AND holder = %s AND token = %s AND expires_at > now() RETURNING token",
            (ttl, lease.instance, lease.holder, lease.token),
        )
        return row is not None

    def release(self, lease: Lease) -> None:
        self._one(
            "UPDATE leases SET expires_at = now() - interval '1 millisecond' "
            "WHERE instance = %s AND holder = %s AND token = %s RETURNING token",
            (lease.instance, lease.holder, lease.token),
        )

    def leave(self, holder: str) -> None:
        self._one("DELETE FROM replicas WHERE holder = %s RETURNING holder", (holder,))
