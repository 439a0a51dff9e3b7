"""The store against its files being deleted or replaced, and the errors it gives at open: real files
in tmp_path, a real second Store (a second open file description, which flock tells apart like a
second process), a real child process where dying matters, and the App's jobs and /readyz."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client.registry import CollectorRegistry

from exporter.app import App
from exporter.config import build_settings
from exporter.store import FILE_NAME, StoreError, StoreLost, open_store
from tests.kit.builders import seeding as seed
from tests.kit.builders import snapshot as snap
from tests.kit.fakes import FakeMirror


def sidecars(data: Path) -> dict[str, Path]:
    db = data / FILE_NAME
    return {"db": db, "wal": db.with_name(db.name + "-wal"), "shm": db.with_name(db.name + "-shm")}


def another_store(where: Path) -> Path:
    """A valid store file elsewhere, to rename over the running one."""
    open_store(str(where)).close()
    return where / FILE_NAME


def delete(name: str):
    return lambda data, tmp: sidecars(data)[name].unlink()


def replace(name: str):
    def act(data: Path, tmp: Path) -> None:
        if name == "db":
            other = another_store(tmp / "other")
        else:
            other = tmp / f"other-{name}"
            other.write_bytes(sidecars(data)[name].read_bytes())
        os.replace(other, sidecars(data)[name])

    return act


def move_directory(data: Path, tmp: Path) -> None:
    data.rename(tmp / "moved")


def files_under(tmp: Path) -> list[Path]:
    return sorted(tmp.rglob("*"))


def delete_lock_files(data: Path, tmp: Path) -> None:
    for p in data.glob("*.lock"):  # the lock file of earlier versions
        p.unlink()


# What happens to the files under a running service -> the reason it reports.
LOSSES = [
    pytest.param(delete("db"), "deleted", "the store file", id="db-deleted"),
    pytest.param(replace("db"), "replaced", "the store file", id="db-replaced"),
    pytest.param(delete("wal"), "deleted", "its write-ahead log", id="wal-deleted"),
    pytest.param(replace("wal"), "replaced", "its write-ahead log", id="wal-replaced"),
    pytest.param(delete("shm"), "deleted", "its shared-memory index", id="shm-deleted"),
    pytest.param(move_directory, "deleted", "its data directory", id="directory-moved"),
]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(delete_lock_files, id="lock-files-deleted"),
        pytest.param(delete("wal"), id="wal-deleted"),
        pytest.param(delete("shm"), id="shm-deleted"),
        pytest.param(delete("db"), id="db-deleted"),
        pytest.param(replace("db"), id="db-replaced"),
    ],
)
def test_no_file_deleted_or_replaced_lets_a_second_service_open_the_store(tmp_path, tamper):
    data = tmp_path / "data"
    service = open_store(str(data), exclusive=True)
    try:
        tamper(data, tmp_path)
        with pytest.raises(StoreError, match="in use by another qbittorrent-monitor"):
            open_store(str(data), exclusive=True)
    finally:
        service.close()
    open_store(str(data), exclusive=True).close()  # the lock goes with the service


@pytest.mark.parametrize(("lose", "reason", "what"), LOSSES)
def test_a_lost_store_refuses_every_call_from_then_on(tmp_path, lose, reason, what):
    data = tmp_path / "data"
    store = open_store(str(data), exclusive=True)
    try:
        store.check()  # nothing changed yet
        store.add_completion(("h", 1), {"name": "x"}, ["hook"], 10.0)
        lose(data, tmp_path)
        files = files_under(tmp_path)
        with pytest.raises(StoreLost, match=f"is lost: {what} .* was {reason} under the running") as lost:
            store.check()
        assert lost.value.reason == reason
        for call in (
            lambda: store.due_runs(11.0, 10),
            lambda: store.add_completion(("h", 2), {}, ["hook"], 11.0),
            lambda: store.put_state("k", "a", 1),
            store.check,
        ):
            with pytest.raises(StoreLost, match="no job acts until the service is restarted"):
                call()
        assert files_under(tmp_path) == files  # nothing recreated in place of what went
    finally:
        store.close()


def test_a_lost_store_stays_lost_when_its_file_comes_back(tmp_path):
    """Lost is final until a restart: the one error was logged, and nothing was recorded meanwhile."""
    data = tmp_path / "data"
    store = open_store(str(data), exclusive=True)
    try:
        db = data / FILE_NAME
        db.rename(tmp_path / "away.db")
        with pytest.raises(StoreLost, match="was deleted"):
            store.check()
        (tmp_path / "away.db").rename(db)  # the very same file, back at its path
        with pytest.raises(StoreLost, match="was deleted"):
            store.check()
    finally:
        store.close()


CRASH_AFTER_A_LOSS = """
import os, sys
from pathlib import Path
from exporter.store import StoreLost, open_store
data, other, lose = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
store = open_store(str(data), exclusive=True)
store.take_baseline([], 1.0)
store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the baseline is in the db file, as it would be
store.add_completion(("h", 1), {"name": "x"}, ["hook"], 2.0)  # only in the -wal
[run] = store.due_runs(2.0, 10)
store.finish_run(run, "done", 3.0)  # the handler ran: only in the -wal
if lose == "wal-deleted":
    os.unlink(data / "qbittorrent-monitor.db-wal")
else:  # another store renamed over this one
    replacement = open_store(str(other))
    replacement.add_completion(("other", 9), {}, [], 1.0)
    replacement.close()
    os.replace(other / "qbittorrent-monitor.db", data / "qbittorrent-monitor.db")
try:
    store.check()
except StoreLost as exc:
    print(exc)
os._exit(9)  # dies like SIGKILL: no close
"""


@pytest.mark.parametrize(
    ("lose", "printed", "known"),
    [
        # else the ledger's latest commits die with the process: after a restart the completion is
        # unknown, is detected again, and its handler runs a second time
        pytest.param(
            "wal-deleted", "its commits were copied into the store file first", {("h", 1)}, id="wal-deleted"
        ),
        # else SQLite replays the old -wal into the replacement at the next start (mispaired files)
        pytest.param("db-replaced", "the store file", {("other", 9)}, id="db-replaced"),
    ],
)
def test_a_store_found_lost_leaves_no_commit_behind_in_its_wal(tmp_path, lose, printed, known):
    data = tmp_path / "data"
    child = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_A_LOSS, str(data), str(tmp_path / "other"), lose],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 9, child.stderr
    assert "is lost" in child.stdout and printed in child.stdout
    store = open_store(str(data), exclusive=True)  # the restart
    try:
        assert store.known_completions() == known
        assert store.due_runs(10.0, 10) == [] and store.backlog() == 0  # nothing runs (again)
    finally:
        store.close()


def empty_file(data: Path) -> None:
    data.mkdir()
    (data / FILE_NAME).write_bytes(b"")


def directory_at_store(data: Path) -> None:
    (data / FILE_NAME).mkdir(parents=True)


def file_as_data_dir(data: Path) -> None:
    data.write_text("x")


def file_above_data_dir(data: Path) -> None:
    data.mkdir()
    (data / "blocker").write_text("x")


def wal_without_store(data: Path) -> None:
    data.mkdir()
    sidecars(data)["wal"].write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 28)  # a wal header, 32 bytes


# What is where the store should be -> (data dir to open, relative to tmp_path), expected message.
OPEN_ERRORS = [
    pytest.param(
        empty_file,
        "data",
        r"store .*/data/qbittorrent-monitor.db is empty: .*move it away to start afresh",
        id="empty-file",
    ),
    pytest.param(
        directory_at_store, "data", r"store .*qbittorrent-monitor.db is not a regular file", id="directory"
    ),
    pytest.param(
        file_as_data_dir, "data", r"the data directory .*/data is not a directory$", id="data-dir-is-a-file"
    ),
    pytest.param(
        file_above_data_dir,
        "data/blocker/data",
        r"cannot create the data directory .*/blocker/data: .*/data/blocker is not a directory$",
        id="file-above-data-dir",
    ),
    pytest.param(
        wal_without_store,
        "data",
        r"store .* is missing but its write-ahead log qbittorrent-monitor.db-wal is there .* move "
        r"qbittorrent-monitor.db-wal and qbittorrent-monitor.db-shm away to start afresh",
        id="wal-without-store",
    ),
]


@pytest.mark.parametrize("exclusive", [True, False], ids=["service", "cli"])
@pytest.mark.parametrize(("arrange", "where", "message"), OPEN_ERRORS)
def test_what_cannot_be_this_store_is_an_error_at_open_and_is_left_alone(
    tmp_path, arrange, where, message, exclusive
):
    data = tmp_path / "data"
    arrange(data)
    before = sorted((p.relative_to(tmp_path), p.is_dir()) for p in tmp_path.rglob("*"))
    with pytest.raises(StoreError, match=message) as error:
        open_store(str(tmp_path / where), exclusive=exclusive)
    assert "\n" not in str(error.value)
    assert sorted((p.relative_to(tmp_path), p.is_dir()) for p in tmp_path.rglob("*")) == before


def test_an_empty_file_is_refused_by_the_read_only_commands_too(tmp_path):
    empty_file(tmp_path / "data")
    with pytest.raises(StoreError, match="is empty: .*move it away"):
        open_store(str(tmp_path / "data"), readonly=True)


def test_a_missing_file_is_a_fresh_store_and_never_passes_through_an_empty_one(tmp_path):
    data = tmp_path / "data"
    open_store(str(data), exclusive=True).close()
    assert (data / FILE_NAME).stat().st_size > 0
    assert [p.name for p in data.iterdir()] == [FILE_NAME]  # no scratch file, no lock file left over
    db = sqlite3.connect(data / FILE_NAME)
    assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    db.close()


# -- the jobs and /readyz of a service whose store is lost ------------------------------------------

CONFIG = "completion:\n  interval: 1s\n  handlers:\n    - {name: mark, type: add_tags, tags: [done]}\n"


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(("lose", "reason", "what"), LOSSES)
def test_a_service_whose_store_is_lost_stops_acting_logs_once_counts_and_is_not_ready(
    tmp_path, caplog, lose, reason, what
):
    cfg = tmp_path / "config.yml"
    cfg.write_text(CONFIG)
    data = tmp_path / "data"
    mirror = FakeMirror(snap(generation=1))
    app = App(build_settings({"data.dir": str(data)}, {}, str(cfg)), mirror=mirror)
    actions = app.actions
    assert actions is not None
    [name] = app.instances
    job = actions.build_jobs()[(name, "completion")]
    try:
        assert actions.run(job) == "ok"  # the baseline
        mirror.snapshot = snap(seed("a"), generation=2)
        assert actions.run(job) == "ok"
        assert mirror.connection.calls == [("add_tags", ("a",), ("done",))]
        assert app.routes["/readyz"]({}, {})[0] == 200

        lose(data, tmp_path)
        files = files_under(tmp_path)
        mirror.snapshot = snap(seed("a"), seed("b"), generation=3)
        caplog.set_level(logging.ERROR, logger="exporter.actions")
        assert [actions.run(job) for _ in range(3)] == ["store_lost"] * 3
        assert mirror.connection.calls == [("add_tags", ("a",), ("done",))]  # b is not handled

        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert f"is lost: {what}" in errors[0].getMessage() and errors[0].exc_info is None
        events = app.events
        assert value(events, "qbittorrent_exporter_store_errors_total", reason=reason) == 1
        other = {"deleted": "replaced", "replaced": "deleted"}[reason]
        assert value(events, "qbittorrent_exporter_store_errors_total", reason=other) == 0
        runs = "qbittorrent_exporter_job_runs_total"
        per_instance = app.instances[name].events  # job runs are per qBittorrent, the store's errors not
        assert value(per_instance, runs, job="completion", result="store_lost") == 3
        assert value(per_instance, runs, job="completion", result="ok") == 2

        status, _, body, _ = app.routes["/readyz"]({}, {})
        assert status == 503 and f"not ready: store {data / FILE_NAME} is lost: {what}" in body.decode()
        assert files_under(tmp_path) == files  # no fresh store in place of the lost one
    finally:
        actions.stop()


class Recorder:
    """A job that acts without touching the store: only the check before the run can stop it."""

    name = "control"

    def __init__(self) -> None:
        self.runs = 0

    def run(self, stopping: threading.Event) -> str:
        self.runs += 1
        return "ok"


def test_the_store_is_checked_before_a_job_runs_not_only_when_the_job_uses_it(tmp_path):
    cfg = tmp_path / "config.yml"
    cfg.write_text(CONFIG)
    app = App(build_settings({"data.dir": str(tmp_path / "data")}, {}, str(cfg)), mirror=FakeMirror(None))
    assert app.actions is not None
    app.actions.build_jobs()
    job = Recorder()
    try:
        assert app.actions.run(job) == "ok" and job.runs == 1
        (tmp_path / "data" / FILE_NAME).unlink()
        assert app.actions.run(job) == "store_lost" and job.runs == 1
    finally:
        app.actions.stop()
