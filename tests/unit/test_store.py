"""The SQLite store: real files in tmp_path; migrations, WAL, clear errors, ledger, state and audit."""

from __future__ import annotations

import sqlite3

import pytest

from exporter.store import SCHEMA_VERSION, AuditEntry, SQLiteStore, StoreError, open_store


def test_a_new_store_is_a_wal_file_at_the_current_schema_version(tmp_path):
    s = open_store(str(tmp_path / "data"))
    s.close()
    db = sqlite3.connect(tmp_path / "data" / "qbittorrent-monitor.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"completions", "handler_runs", "action_state", "audit", "meta"} <= tables


def test_reopening_keeps_everything(tmp_path):
    s = open_store(str(tmp_path))
    s.add_completion(("h", 1), {"name": "x"}, ["hook"], 10.0)
    s.put_state("stall_ladder", "h", {"step": 1, "at": 5.0})
    s.close()
    s = open_store(str(tmp_path))
    assert s.known_completions() == {("h", 1)}
    assert s.state("stall_ladder") == {"h": {"step": 1, "at": 5.0}}
    assert [r.handler for r in s.due_runs(10.0, 10)] == ["hook"]
    s.close()


# How a data directory can be unusable. Each returns (data directory, open_store options).


def corrupt_file(tmp_path):
    (tmp_path / "qbittorrent-monitor.db").write_bytes(b"this is not a database at all" * 100)
    return tmp_path, {}


def directory_in_the_way(tmp_path):
    (tmp_path / "qbittorrent-monitor.db").mkdir()  # what root cannot write either
    return tmp_path, {}


def file_in_the_way(tmp_path):
    (tmp_path / "file").write_text("x")
    return tmp_path / "file" / "data", {}


def newer_schema(tmp_path):
    open_store(str(tmp_path)).close()
    db = sqlite3.connect(tmp_path / "qbittorrent-monitor.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    return tmp_path, {}


def missing_for_a_reader(tmp_path):
    return tmp_path, {"readonly": True}


OPEN_ERRORS = [
    ("corrupt", corrupt_file, "is corrupt.*move it away"),
    ("directory-in-the-way", directory_in_the_way, "not a regular file"),
    ("data-dir-not-creatable", file_in_the_way, "cannot create the data directory"),
    ("newer-version", newer_schema, "newer than this"),
    ("readonly-missing", missing_for_a_reader, "no store at"),
]


def files_under(directory):
    """Each file's bytes, after SQLite has folded any write-ahead log into its database (a write that a
    failed open made would otherwise hide in the -wal file, which SQLite itself creates and removes)."""
    for wal in directory.rglob("*-wal"):
        db = sqlite3.connect(wal.with_name(wal.name.removesuffix("-wal")))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    files = (p for p in sorted(directory.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm")))
    return {p: p.read_bytes() for p in files}


@pytest.mark.parametrize("make, message", [c[1:] for c in OPEN_ERRORS], ids=[c[0] for c in OPEN_ERRORS])
def test_a_store_that_cannot_be_opened_is_a_clear_error_and_is_left_alone(tmp_path, make, message):
    data_dir, options = make(tmp_path)
    before = files_under(tmp_path)
    with pytest.raises(StoreError, match=message):
        open_store(str(data_dir), **options)
    assert files_under(tmp_path) == before, "never replaced, never deleted"


def test_readonly_store_reads_while_the_writer_is_open(store, tmp_path):
    store.add_completion(("h", 1), {"name": "x"}, [], 10.0)
    reader = open_store(str(tmp_path / "data"), readonly=True)
    assert [r.hash for r in reader.history(0)] == ["h"]
    reader.close()


def test_baseline_rows_are_known_but_not_history(store):
    assert not store.baseline_taken()
    store.take_baseline([("a", 1), ("b", 2)], 100.0)
    assert store.baseline_taken()
    assert store.known_completions() == {("a", 1), ("b", 2)}
    assert store.history(0) == [] and store.backlog() == 0


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
    assert [r.handler for r in store.due_runs(130.0, 10)] == []
    retry = store.due_runs(131.0, 10)
    assert [(r.handler, r.attempts, r.last_error) for r in retry] == [("b", 1, "HTTP 500")]
    store.finish_run(retry[0], "done", 131.0)
    record = store.history(0)[0]
    assert record.status == "done" and store.backlog() == 0
    assert [(h.handler, h.status, h.attempts) for h in record.handlers] == [
        ("a", "done", 1),
        ("b", "done", 2),
    ]


def test_a_dead_handler_makes_a_dead_letter_completion(store):
    store.add_completion(("h", 7), {"name": "n"}, ["a"], 100.0)
    store.finish_run(store.due_runs(100.0, 1)[0], "dead", 101.0, "exit status 1")
    assert store.history(0, status="dead")[0].handlers[0].last_error == "exit status 1"
    assert store.history(0, status="done") == [] and store.backlog() == 1


def test_a_completion_without_handlers_is_done_at_once_and_adding_twice_is_harmless(store):
    store.add_completion(("h", 7), {"name": "n"}, [], 100.0)
    store.add_completion(("h", 7), {"name": "other"}, ["a"], 200.0)
    assert [(r.status, r.torrent["name"]) for r in store.history(0)] == [("done", "n")]
    assert store.due_runs(300.0, 10) == []


def test_history_is_newest_first_and_bounded_by_since(store):
    for i in range(3):
        store.add_completion((f"h{i}", i), {"name": str(i)}, [], 100.0 + i)
    assert [r.hash for r in store.history(101.0)] == ["h2", "h1"]


def test_state_maps_set_and_delete(store):
    store.put_state("k", "a", {"x": 1})
    store.put_state("k", "b", [1, 2])
    store.put_state("other", "a", 1)
    store.put_state("k", "a", None)
    assert store.state("k") == {"b": [1, 2]} and store.state("other") == {"a": 1}


def test_audit_is_append_only_in_order(store):
    for i in range(3):
        store.audit(AuditEntry(10.0 + i, "reannounce", f"h{i}", "n", "why", "ok", i == 1))
    log = store.audit_log(11.0)
    assert [(e.hash, e.dry_run) for e in log] == [("h1", True), ("h2", False)]


def test_the_store_refuses_unknown_statuses(store):
    store.add_completion(("h", 7), {}, ["a"], 1.0)
    with pytest.raises(ValueError):
        store.finish_run(store.due_runs(1.0, 1)[0], "maybe", 2.0)


def test_sqlitestore_is_usable_from_several_threads(store):
    import threading

    def work(i):
        for j in range(20):
            store.audit(AuditEntry(float(j), "x", f"{i}-{j}", "", "", "ok", False))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.audit_log(0, limit=1000)) == 80
    assert isinstance(store, SQLiteStore)


def test_retry_dead_puts_dead_runs_back_to_pending(store):
    store.add_completion(("h", 7), {"name": "n"}, ["a", "b"], 100.0)
    a, b = store.due_runs(100.0, 10)
    store.finish_run(a, "dead", 101.0, "HTTP 500")
    store.finish_run(b, "done", 101.0)
    assert store.retry_dead(200.0) == 1
    assert store.history(0)[0].status == "pending" and store.backlog() == 1
    [again] = store.due_runs(200.0, 10)
    assert (again.handler, again.attempts, again.status) == ("a", 0, "pending")
    assert store.retry_dead(300.0) == 0


def test_one_service_per_store_but_readers_and_the_cli_may_open_it(tmp_path):
    service = open_store(str(tmp_path), exclusive=True)
    with pytest.raises(StoreError, match="in use by another qbittorrent-monitor"):
        open_store(str(tmp_path), exclusive=True)
    open_store(str(tmp_path), readonly=True).close()
    open_store(str(tmp_path)).close()  # `completions --retry-dead`
    service.close()
    open_store(str(tmp_path), exclusive=True).close()  # the lock goes with the service


def test_the_backlog_is_counted_from_its_index_not_by_reading_every_baseline_row(tmp_path):
    from exporter.store.sqlite import BACKLOG

    s = open_store(str(tmp_path))
    s.take_baseline([(f"{i:040x}", 1) for i in range(100)], 1.0)
    s.add_completion(("new", 2), {"name": "x"}, ["hook"], 10.0)
    assert s.backlog() == 1
    s.close()
    db = sqlite3.connect(tmp_path / "qbittorrent-monitor.db")
    plan = " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {BACKLOG}", ("",)))
    assert "USING INDEX completions_backlog" in plan, plan
