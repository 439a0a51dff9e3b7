"""One store suite, run on both backends (ids "sqlite" and "postgresql"): every method of the interface,
instance scoping, renames, concurrency, the one-service lock, schema versions, and copy_store between them.

SQLite runs on a file in tmp_path; PostgreSQL on one throwaway cluster per session (tests/kit/postgres.py),
emptied before each test. What only one backend has (a corrupt file, permissions; connection errors) is
tested on its own: tests/unit/test_store.py for SQLite, the end of this file for PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from exporter.store import FILE_NAME, AuditEntry, Store, StoreError, StoreLost, open_store
from exporter.store import postgres as pg
from exporter.store import sqlite as lite
from exporter.store.copy import copy_store
from tests.kit.postgres import ROLE, STRANGER, PostgresCluster

# -- the two backends ------------------------------------------------------------------------------------


class SQLiteBackend:
    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "data"

    def open(self, **kwargs: Any) -> Store:
        return open_store(str(self.dir), **kwargs)

    def sql(self, statement: str, args: tuple[Any, ...] = ()) -> None:
        """Run one statement on the store's tables behind its back (`%s` placeholders)."""
        db = sqlite3.connect(self.dir / FILE_NAME)
        db.executescript(statement) if not args else db.execute(statement.replace("%s", "?"), args)
        db.commit()
        db.close()

    def set_version(self, version: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sql(f"PRAGMA user_version = {version}")

    migrations = lite.MIGRATIONS


class PostgresBackend:
    name = "postgresql"

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster
        self.url, self.password = cluster.url(), cluster.passwords[ROLE]

    def open(self, **kwargs: Any) -> Store:
        return open_store("", url=self.url, password=self.password, **kwargs)

    def sql(self, statement: str, args: tuple[Any, ...] = ()) -> None:
        with psycopg.connect(self.url, password=self.password, autocommit=True) as db:
            db.execute(statement, args or None)

    def set_version(self, version: int) -> None:
        self.sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        self.sql("DELETE FROM schema_version")
        self.sql("INSERT INTO schema_version VALUES (%s)", (version,))

    migrations = pg.MIGRATIONS


Backend = SQLiteBackend | PostgresBackend


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SQLiteBackend(tmp_path)
    cluster: PostgresCluster = request.getfixturevalue("cluster")  # started only if a test needs it
    cluster.reset()
    return PostgresBackend(cluster)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    s = backend.open()
    yield s
    s.close()


def audit(at: float, hash: str = "h", instance: str = "", dry_run: bool = False) -> AuditEntry:
    return AuditEntry(at, "reannounce", hash, "name", "why", "ok", dry_run, instance)


# -- the completion ledger --------------------------------------------------------------------------------


def test_reopening_keeps_everything(backend):
    s = backend.open()
    s.take_baseline([("b", 1)], 5.0)
    s.add_completion(("h", 1), {"name": "x"}, ["hook"], 10.0)
    s.put_state("stall_ladder", "h", {"step": 1, "at": 5.0})
    s.audit(audit(11.0))
    s.close()
    s = backend.open()
    assert s.known_completions() == {("h", 1), ("b", 1)} and s.baseline_taken()
    assert s.state("stall_ladder") == {"h": {"step": 1, "at": 5.0}}
    assert [r.handler for r in s.due_runs(10.0, 10)] == ["hook"]
    assert [e.at for e in s.audit_log(0)] == [11.0]
    s.close()


def test_baseline_rows_are_known_but_not_history(store):
    assert not store.baseline_taken()
    store.take_baseline([("a", 1), ("b", 2)], 100.0)
    assert store.baseline_taken()
    assert store.known_completions() == {("a", 1), ("b", 2)}
    assert store.history(0) == [] and store.backlog() == 0
    store.take_baseline([("a", 1), ("c", 3)], 200.0)  # again: the known rows stay, new ones join
    assert store.known_completions() == {("a", 1), ("b", 2), ("c", 3)}


def test_handler_runs_go_pending_then_done_and_the_completion_follows(store):
    store.add_completion(("h", 7), {"name": "n", "hash": "h"}, ["a", "b"], 100.0)
    assert store.backlog() == 1
    runs = store.due_runs(100.0, 10)
    assert [(r.handler, r.status, r.attempts, r.torrent["name"]) for r in runs] == [
        ("a", "pending", 0, "n"),
        ("b", "pending", 0, "n"),
    ]
    store.finish_run(runs[0], "done", 101.0)
    assert store.history(0)[0].status == "pending"
    store.finish_run(runs[1], "pending", 101.0, "HTTP 500", retry_at=131.0)
    assert store.due_runs(130.0, 10) == []
    retry = store.due_runs(131.0, 10)
    assert [(r.handler, r.attempts, r.last_error, r.next_attempt_at) for r in retry] == [
        ("b", 1, "HTTP 500", 131.0)
    ]
    store.finish_run(retry[0], "done", 131.0)
    record = store.history(0)[0]
    assert record.status == "done" and store.backlog() == 0
    assert [(h.handler, h.status, h.attempts, h.torrent) for h in record.handlers] == [
        ("a", "done", 1, {"name": "n", "hash": "h"}),
        ("b", "done", 2, {"name": "n", "hash": "h"}),
    ]


def test_a_dead_handler_makes_a_dead_letter_completion_and_errors_are_cut_at_500(store):
    store.add_completion(("h", 7), {"name": "n"}, ["a"], 100.0)
    store.finish_run(store.due_runs(100.0, 1)[0], "dead", 101.0, "exit status 1 " + "x" * 600)
    [dead] = store.history(0, status="dead")
    assert dead.handlers[0].last_error.startswith("exit status 1") and len(dead.handlers[0].last_error) == 500
    assert store.history(0, status="done") == [] and store.backlog() == 1
    assert store.due_runs(1e9, 10) == []


def test_a_completion_without_handlers_is_done_at_once_and_adding_twice_is_harmless(store):
    store.add_completion(("h", 7), {"name": "n"}, [], 100.0)
    store.add_completion(("h", 7), {"name": "other"}, ["a"], 200.0)
    assert [(r.status, r.torrent["name"], r.detected_at) for r in store.history(0)] == [("done", "n", 100.0)]
    assert store.due_runs(300.0, 10) == []
    store.add_completion(("p", 1), {}, ["a"], 100.0)
    store.add_completion(("p", 1), {}, ["a", "b"], 200.0)  # its handlers were queued the first time
    assert [r.handler for r in store.due_runs(300.0, 10)] == ["a"]


def test_torrent_fields_come_back_as_they_went_in(store):
    torrent = {
        "name": "Ünïcode ☃ «x»",
        "size": 2**53,
        "ratio": 1.25,
        "tags": ["a", "b"],
        "nested": {"k": None},
    }
    store.add_completion(("h", 1), torrent, ["a"], 1.0)
    assert store.history(0)[0].torrent == torrent and store.due_runs(1.0, 1)[0].torrent == torrent


def test_due_runs_are_ordered_by_time_then_hash_then_handler_and_limited(store):
    store.add_completion(("b", 1), {}, ["z", "a"], 10.0)
    store.add_completion(("a", 1), {}, ["m"], 10.0)
    store.add_completion(("B", 1), {}, ["x"], 10.0)  # bytes order: "B" < "a" < "b", whatever the locale
    store.add_completion(("c", 1), {}, ["k"], 5.0)
    assert [(r.hash, r.handler) for r in store.due_runs(10.0, 10)] == [
        ("c", "k"),
        ("B", "x"),
        ("a", "m"),
        ("b", "a"),
        ("b", "z"),
    ]
    assert [(r.hash, r.handler) for r in store.due_runs(10.0, 2)] == [("c", "k"), ("B", "x")]
    assert [r.hash for r in store.due_runs(7.0, 10)] == ["c"]


def test_history_is_newest_first_bounded_by_since_filtered_by_status_and_limited(store):
    for i in range(3):
        store.add_completion((f"h{i}", i), {"name": str(i)}, [], 100.0 + i)
    store.add_completion(("p", 9), {}, ["a"], 101.5)
    store.add_completion(("a", 1), {}, [], 102.0)  # a tie on time: by hash, in bytes order
    store.add_completion(("Z", 1), {}, [], 102.0)
    assert [r.hash for r in store.history(101.0)] == ["Z", "a", "h2", "p", "h1"]
    assert [r.hash for r in store.history(101.0, status="pending")] == ["p"]
    assert [r.hash for r in store.history(0, limit=2)] == ["Z", "a"]
    assert [r.handlers for r in store.history(0, status="done")] == [()] * 5


def test_retry_dead_puts_dead_runs_back_to_pending(store):
    store.add_completion(("h", 7), {"name": "n"}, ["a", "b"], 100.0)
    a, b = store.due_runs(100.0, 10)
    store.finish_run(a, "dead", 101.0, "HTTP 500")
    store.finish_run(b, "done", 101.0)
    assert store.retry_dead(200.0) == 1
    assert store.history(0)[0].status == "pending" and store.backlog() == 1
    [again] = store.due_runs(200.0, 10)
    assert (again.handler, again.attempts, again.status, again.next_attempt_at) == ("a", 0, "pending", 200.0)
    assert store.retry_dead(300.0) == 0


def test_the_store_refuses_unknown_statuses(store):
    store.add_completion(("h", 7), {}, ["a"], 1.0)
    with pytest.raises(ValueError):
        store.finish_run(store.due_runs(1.0, 1)[0], "maybe", 2.0)
    assert store.due_runs(1.0, 1)[0].attempts == 0


# -- action state and audit ---------------------------------------------------------------------------


def test_state_maps_set_replace_and_delete(store):
    store.put_state("k", "a", {"x": 1})
    store.put_state("k", "b", [1, 2])
    store.put_state("k", "b", [3, {"deep": 0.5}])
    store.put_state("other", "a", 1)
    store.put_state("k", "a", None)
    store.put_state("k", "never-set", None)
    assert store.state("k") == {"b": [3, {"deep": 0.5}]} and store.state("other") == {"a": 1}
    assert store.state("none") == {}


def test_audit_is_append_only_in_order_bounded_by_since_and_limit(store):
    for i in range(4):
        store.audit(audit(10.0 + i, f"h{i}", dry_run=i == 1))
    store.audit(audit(9.0, "late"))  # appended last, older time: still last in the log
    assert [(e.hash, e.dry_run) for e in store.audit_log(11.0)] == [
        ("h1", True),
        ("h2", False),
        ("h3", False),
    ]
    assert [e.hash for e in store.audit_log(0, limit=2)] == ["h0", "h1"]
    assert [e.hash for e in store.audit_log(0)][-1] == "late"
    assert store.audit_log(0)[0] == audit(10.0, "h0")


# -- instances ---------------------------------------------------------------------------------------------


def test_two_instances_with_the_same_torrent_stay_apart(store):
    for name in ("one", "two"):
        store.add_completion(("h", 1), {"name": name}, ["a"], 10.0, instance=name)
    store.take_baseline([("b", 1)], 5.0, instance="one")
    [run_one] = store.due_runs(10.0, 10, "one")
    assert run_one.instance == "one" and run_one.torrent == {"name": "one"}
    store.finish_run(run_one, "dead", 11.0, "boom")
    assert store.backlog("one") == 1 and store.backlog("two") == 1 and store.backlog() == 0
    assert [r.status for r in store.due_runs(10.0, 10, "two")] == ["pending"]
    assert store.known_completions("one") == {("h", 1), ("b", 1)} and store.known_completions("two") == {
        ("h", 1)
    }
    assert store.baseline_taken("one") and not store.baseline_taken("two")
    assert {(r.instance, r.status) for r in store.history(0)} == {("one", "dead"), ("two", "pending")}
    assert [r.instance for r in store.history(0, instance="two")] == ["two"]
    assert store.retry_dead(20.0, "two") == 0 and store.retry_dead(20.0, "one") == 1
    store.put_state("k", "x", 1, instance="one")
    store.audit(audit(1.0, instance="two"))
    assert store.state("k", "one") == {"x": 1} and store.state("k", "two") == {}
    assert [e.instance for e in store.audit_log(0)] == ["two"] and store.audit_log(0, instance="one") == []
    assert store.instances() == {"one", "two"}


def test_retry_dead_of_every_instance(store):
    for name in ("one", "two"):
        store.add_completion(("h", 1), {}, ["a"], 10.0, instance=name)
        store.finish_run(store.due_runs(10.0, 1, name)[0], "dead", 11.0)
    assert store.retry_dead(20.0) == 2
    assert store.backlog("one") == store.backlog("two") == 1
    assert {r.status for r in store.history(0)} == {"pending"}


def test_a_scoped_view_is_one_instance_whatever_the_caller_passes(store):
    one, two = store.scoped("one"), store.scoped("two")
    one.take_baseline([("b", 1)], 1.0, instance="two")
    one.add_completion(("h", 1), {}, ["a"], 10.0, instance="two")
    [run] = one.due_runs(10.0, 10, instance="two")
    one.finish_run(replace(run, instance="two"), "dead", 11.0)  # still one's run
    one.put_state("k", "x", 1, instance="two")
    one.audit(audit(1.0, instance="two"))
    assert store.instances() == {"one"} and one.instances() == {"one"} and two.instances() == set()
    assert two.due_runs(10.0, 10) == [] and two.history(0) == [] and two.audit_log(0) == []
    assert not two.baseline_taken() and two.backlog() == 0 and two.state("k") == {}
    assert two.retry_dead(20.0) == 0 and one.retry_dead(20.0) == 1
    assert one.known_completions() == {("b", 1), ("h", 1)} and store.backlog("one") == 1
    for refused in (lambda: one.rename_instance("one", "x"), one.dump, lambda: one.load({})):
        with pytest.raises(StoreError, match="an instance's view"):
            refused()
    one.close()
    assert store.backlog("one") == 1  # the view's close leaves the store open


def test_instances_are_the_names_of_any_rows(store):
    assert store.instances() == set()
    store.audit(audit(1.0, instance="a"))
    store.put_state("k", "x", 1, instance="b")
    store.take_baseline([], 1.0, instance="c")
    assert store.instances() == {"a", "b", "c"}


def test_rename_instance_moves_every_row_and_nothing_runs_twice(store):
    store.take_baseline([("b", 1)], 1.0, instance="old")
    store.add_completion(("h", 1), {}, ["a", "z"], 10.0, instance="old")
    store.finish_run(store.due_runs(10.0, 1, "old")[0], "done", 11.0)
    store.put_state("k", "x", 1, instance="old")
    store.audit(audit(1.0, instance="old"))
    store.add_completion(("other", 1), {}, [], 10.0, instance="keep")
    assert store.rename_instance("old", "new") == 2
    assert store.instances() == {"new", "keep"}
    assert store.baseline_taken("new") and store.known_completions("new") == {("b", 1), ("h", 1)}
    assert [r.handler for r in store.due_runs(10.0, 10, "new")] == ["z"]
    assert store.state("k", "new") == {"x": 1} and [e.instance for e in store.audit_log(0)] == ["new"]
    with pytest.raises(StoreError, match="'keep' has rows of its own"):
        store.rename_instance("new", "keep")
    assert store.known_completions("new") == {("b", 1), ("h", 1)}  # the refused rename moved nothing


# -- threads ------------------------------------------------------------------------------------------------


def in_threads(n: int, work) -> None:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 -- reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and errors == []


def test_threads_adding_completions_lose_no_row_and_queue_no_handler_twice(store):
    # 6 threads add 40 completions each; half of each thread's keys are also added by another thread
    def work(i: int) -> None:
        for j in range(40):
            owner = i if j % 2 else (i + 1) % 6
            store.add_completion((f"h{owner}-{j}", j), {"by": i}, ["a", "b"], 10.0 + j, instance=f"i{j % 2}")
            store.audit(audit(float(j), f"{i}-{j}"))

    in_threads(6, work)
    keys = {(f"h{i if j % 2 else (i + 1) % 6}-{j}", j) for i in range(6) for j in range(40)}
    found = store.known_completions("i0") | store.known_completions("i1")
    runs = store.due_runs(1e9, 10_000, "i0") + store.due_runs(1e9, 10_000, "i1")
    assert found == keys and len(runs) == 2 * len(keys) == len({(r.key, r.handler) for r in runs})
    assert len(store.audit_log(0, limit=10_000)) == 6 * 40


def test_threads_finishing_handlers_of_the_same_completions_leave_each_one_done(store):
    # each of 4 threads finishes its own handler of the same 30 completions: whoever finishes last must
    # see the others' runs done, or a completion stays pending with nothing left to run
    handlers = ["a", "b", "c", "d"]
    for j in range(30):
        store.add_completion((f"h{j}", j), {}, handlers, 10.0)
    runs = store.due_runs(10.0, 1000)

    in_threads(4, lambda i: [store.finish_run(r, "done", 11.0) for r in runs if r.handler == handlers[i]])
    assert store.backlog() == 0 and {r.status for r in store.history(0)} == {"done"}


# -- opening: the one service, read-only opens, schema versions ------------------------------------------


def test_one_service_per_store_but_readers_and_the_cli_may_open_it(backend):
    service = backend.open(exclusive=True)
    with pytest.raises(StoreError, match="in use by another qbittorrent-monitor"):
        backend.open(exclusive=True)
    backend.open(readonly=True).close()
    backend.open().close()  # `completions --retry-dead`
    service.close()
    backend.open(exclusive=True).close()  # the lock goes with the service


def test_a_readonly_store_reads_while_the_writer_writes_and_cannot_write(store, backend):
    store.add_completion(("h", 1), {"name": "x"}, [], 10.0)
    reader = backend.open(readonly=True)
    assert [r.hash for r in reader.history(0)] == ["h"]
    store.add_completion(("g", 1), {"name": "x"}, [], 11.0)
    assert [r.hash for r in reader.history(0)] == ["g", "h"]
    with pytest.raises(StoreError):
        reader.put_state("k", "x", 1)
    reader.close()
    assert store.state("k") == {}


def test_readonly_open_of_a_missing_store_says_so(backend):
    with pytest.raises(StoreError, match="no store"):
        backend.open(readonly=True)


def test_a_store_from_a_newer_version_is_refused(backend):
    backend.open().close()
    backend.set_version(lite.SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=f"schema version {lite.SCHEMA_VERSION + 1}, newer than this"):
        backend.open()
    with pytest.raises(StoreError, match="newer than this"):
        backend.open(readonly=True)


def test_both_backends_are_at_the_same_schema_version():
    assert pg.SCHEMA_VERSION == lite.SCHEMA_VERSION == 4


def test_a_version_1_store_migrates_its_rows_to_the_unnamed_instance(backend):
    backend.set_version(0)
    backend.sql(backend.migrations[0])
    backend.set_version(1)
    row = (
        "INSERT INTO completions (hash, completion_on, detected_at, status, torrent) "
        "VALUES (%s, %s, %s, %s, %s)"
    )
    backend.sql(row, ("h", 1, 10.0, "pending", '{"name": "x"}'))
    backend.sql(row, ("b", 2, 5.0, "baseline", "{}"))
    backend.sql(
        "INSERT INTO handler_runs (hash, completion_on, handler, status, next_attempt_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        ("h", 1, "a", "pending", 10.0, 10.0),
    )
    backend.sql("INSERT INTO action_state VALUES (%s, %s, %s)", ("k", "x", "1"))
    backend.sql("INSERT INTO meta VALUES (%s, %s)", ("baseline_at", "5.0"))
    s = backend.open()
    assert s.instances() == {""} and s.baseline_taken("") and s.known_completions() == {("h", 1), ("b", 2)}
    assert [(r.handler, r.torrent) for r in s.due_runs(10.0, 10)] == [("a", {"name": "x"})]
    assert s.state("k") == {"x": 1}
    s.close()
    backend.open(readonly=True).close()  # now at the current version


# -- copy_store ------------------------------------------------------------------------------------------


def fill(s: Store) -> None:
    """A bit of everything, in two instances."""
    for name in ("one", "two"):
        s.take_baseline([("base", 1)], 1.0, instance=name)
        s.add_completion(("h", 1), {"name": name, "n": 1.5}, ["a", "b"], 10.0, instance=name)
        s.add_completion(("g", 2), {}, [], 12.0, instance=name)
        s.put_state("stall", "h", {"step": 2}, instance=name)
        s.audit(audit(5.0, "h", instance=name, dry_run=True))
    a, b = s.due_runs(10.0, 10, "one")
    s.finish_run(a, "dead", 11.0, "boom")
    s.finish_run(b, "pending", 11.0, "later", retry_at=40.0)
    s.audit(audit(3.0, "z", instance="one"))


@pytest.mark.parametrize("direction", ["sqlite-to-postgresql", "postgresql-to-sqlite"])
def test_copy_store_moves_every_row_of_every_instance(direction, tmp_path, cluster):
    cluster.reset()
    backends = [SQLiteBackend(tmp_path), PostgresBackend(cluster)]
    src_backend, dst_backend = backends if direction.startswith("sqlite") else backends[::-1]
    src, dst = src_backend.open(), dst_backend.open()
    fill(src)
    counts = copy_store(src, dst)
    assert counts == {"baselines": 2, "completions": 6, "handler_runs": 4, "action_state": 2, "audit": 3}
    assert dst.dump() == src.dump()
    for name in ("one", "two"):  # what the jobs see is the same
        assert dst.history(0, instance=name) == src.history(0, instance=name)
        assert dst.due_runs(100.0, 10, name) == src.due_runs(100.0, 10, name)
        assert dst.known_completions(name) == src.known_completions(name)
        assert dst.baseline_taken(name) and dst.state("stall", name) == {"h": {"step": 2}}
    assert dst.audit_log(0) == src.audit_log(0)
    dst.audit(audit(99.0, "after"))  # the copy goes on appending after the copied log
    assert dst.audit_log(0)[-1].hash == "after"
    src.close()
    dst.close()


def test_copy_store_refuses_a_destination_with_rows(backend, tmp_path):
    src, dst = open_store(str(tmp_path / "src")), backend.open()
    fill(src)
    dst.audit(audit(1.0, instance="mine"))
    with pytest.raises(StoreError, match="not empty"):
        copy_store(src, dst)
    with pytest.raises(StoreError, match="not empty"):
        dst.load(src.dump())  # the backend itself refuses too
    assert dst.instances() == {"mine"} and len(dst.audit_log(0)) == 1
    src.close()
    dst.close()


# -- PostgreSQL only: what opening can go wrong with ---------------------------------------------------


def open_error(url: str, password: str) -> str:
    with pytest.raises(StoreError) as caught:
        open_store("", url=url, password=password)
    message = str(caught.value)
    assert "\n" not in message and (not password or password not in message), message
    return message


def test_postgresql_unreachable_is_one_line(cluster):
    from exporter.sandbox import free_port

    message = open_error(f"postgresql://qbm@127.0.0.1:{free_port()}/qbm", cluster.passwords[ROLE])
    assert "cannot connect" in message and "unreachable" in message


def test_a_wrong_password_is_named_and_not_shown(cluster):
    wrong = "not-the-" + cluster.passwords[ROLE]
    assert "wrong password" in open_error(cluster.url(), wrong)
    assert "set store.password_file" in open_error(cluster.url(), "")


def test_a_password_in_the_url_is_never_shown(cluster):
    secret = cluster.passwords[ROLE] + "x"
    message = open_error(f"postgresql://qbm:{secret}@127.0.0.1:{cluster.port}/qbm", "")
    assert secret not in message and "postgresql://qbm@127.0.0.1" in message


def test_a_url_libpq_cannot_parse_is_refused_without_quoting_it():
    # libpq would say: invalid percent-encoded token: "hunter%zz2"
    with pytest.raises(StoreError, match="store.url is not a valid PostgreSQL URL") as caught:
        open_store("", url="postgresql://qbm:hunter%zz2@127.0.0.1:5432/qbm")
    assert "hunter" not in str(caught.value)


def test_a_password_that_a_server_message_would_quote_is_cut_out(cluster):
    cluster.reset()
    s = pg.PostgresStore(cluster.url(), password=cluster.passwords[ROLE])
    message = s._explain(psycopg.OperationalError(f"FATAL: odd {cluster.passwords[ROLE]} here\nDETAIL: x"))
    assert message == f"store {cluster.url()}: FATAL: odd *** here"
    s.close()


def test_a_missing_database_is_named(cluster):
    message = open_error(cluster.url("nope"), cluster.passwords[ROLE])
    assert 'database "nope" does not exist' in message and "CREATE DATABASE" in message


def test_a_role_that_may_not_create_tables_is_told_what_it_needs(cluster):
    cluster.reset()
    message = open_error(cluster.url(user=STRANGER), cluster.passwords[STRANGER])
    assert "permission denied" in message and "must own its database" in message


def test_services_opening_a_new_database_together_migrate_it_once(cluster):
    # (SQLite fails this today: it reads its version before taking the write lock)
    cluster.reset()
    barrier = threading.Barrier(6)

    def open_and_close(i: int) -> None:
        barrier.wait(timeout=30)
        PostgresBackend(cluster).open().close()

    in_threads(6, open_and_close)


def test_the_unix_socket_works_too(cluster):
    cluster.reset()
    s = open_store("", url=cluster.socket_url(), password=cluster.passwords[ROLE])
    s.add_completion(("h", 1), {}, [], 1.0)
    assert s.known_completions() == {("h", 1)}
    s.close()


def test_a_handler_error_with_a_nul_byte_is_stored(cluster):
    cluster.reset()
    s = PostgresBackend(cluster).open()
    s.add_completion(("h", 1), {}, ["a"], 1.0)
    s.finish_run(s.due_runs(1.0, 1)[0], "dead", 2.0, "bin\x00ary")
    assert s.history(0)[0].handlers[0].last_error == "bin\ufffdary"
    s.close()


def test_an_unknown_url_scheme_is_refused_without_echoing_the_url():
    with pytest.raises(StoreError, match="store.url: unsupported scheme 'mysql'") as caught:
        open_store("", url="mysql://u:hunter2@h/db")
    assert "hunter2" not in str(caught.value)


def test_a_sqlite_url_names_the_file(tmp_path):
    s = open_store("", url=f"sqlite://{tmp_path}/elsewhere.db")
    s.audit(audit(1.0))
    s.close()
    assert (tmp_path / "elsewhere.db").is_file()


def test_check_passes_on_the_store_and_finds_it_lost_once_it_is_another(backend):
    store = backend.open(exclusive=True)
    try:
        store.check()
        store.add_completion(("h", 1), {}, [], 1.0, "a")
        if isinstance(backend, SQLiteBackend):
            (backend.dir / FILE_NAME).unlink()  # a file deleted under the service
        else:
            backend.sql("DELETE FROM meta WHERE key = 'store_id'")  # as if another store were restored here
            backend.sql("INSERT INTO meta VALUES ('store_id', 'someone-else')")
        with pytest.raises(StoreLost) as lost:
            store.check()
        assert lost.value.reason == ("deleted" if isinstance(backend, SQLiteBackend) else "replaced")
        with pytest.raises(StoreLost):  # and it stays lost
            store.check()
    finally:
        store.close()
