"""The store under the real `qbittorrent-monitor` process (python -m exporter.cli) and a real
qbittorrent-nox on loopback: one service per store whatever file is deleted, a running service whose
store is deleted or replaced, and the start-up messages of a data directory on a read-only mount
(`unshare --mount` and a read-only bind mount: the one way to make a directory unwritable for root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.store import FILE_NAME, open_store
from tests.kit.processes import ExporterProcess, http_get, sample, wait_for
from tests.kit.torrents import exporter_args

pytestmark = pytest.mark.integration

CONFIG = "completion:\n  interval: 200ms\n  handlers:\n    - {name: mark, type: add_tags, tags: [done]}\n"
RUNS = "qbittorrent_exporter_job_runs_total"


@pytest.fixture
def service(qbt, password_file, exporter_factory, tmp_path):
    """A running service with a store in tmp_path/data, ready, its completion job running; and the
    arguments to start another one on the same store."""
    config = tmp_path / "config.yml"
    config.write_text(CONFIG)
    args = exporter_args(qbt, password_file, data_dir=tmp_path / "data", config=config)
    exporter = exporter_factory(args)
    wait_for(
        lambda: (sample(exporter.scrape(), RUNS, job="completion", result="ok") or 0) >= 2,
        what="two completion runs",
    )
    assert http_get(exporter.url + "/readyz")[0] == 200
    return exporter, args


def second_service(args: list[str], tmp_path: Path) -> tuple[int, str]:
    """Start another service on the same store; (exit code, log)."""
    other = ExporterProcess(args=args, workdir=tmp_path / "second").start(wait=False)
    try:
        try:
            code = other.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"a second service runs on the same store:\n{other.log()}") from None
        return code, other.log()
    finally:
        other.stop()


def delete(*suffixes: str):
    def act(data: Path) -> None:
        for suffix in suffixes:
            for p in data.glob(f"*{suffix}"):
                p.unlink()

    return act


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(delete(".lock"), id="lock-file-deleted"),
        pytest.param(delete("-wal", "-shm"), id="wal-and-shm-deleted"),
        pytest.param(delete(".db"), id="db-deleted"),
    ],
)
def test_a_second_real_service_on_the_same_store_is_refused_whatever_file_is_deleted(
    service, tmp_path, tamper
):
    exporter, args = service
    tamper(tmp_path / "data")
    code, log = second_service(args, tmp_path)
    assert code == 1, log
    assert "in use by another qbittorrent-monitor" in log and "Traceback" not in log
    assert exporter.proc.poll() is None


def replace_db(data: Path) -> None:
    open_store(str(data.parent / "other")).close()
    os.replace(data.parent / "other" / FILE_NAME, data / FILE_NAME)


@pytest.mark.parametrize(
    ("lose", "reason"),
    [
        pytest.param(delete(".db", "-wal", "-shm"), "deleted", id="store-files-deleted"),
        pytest.param(replace_db, "replaced", id="db-replaced"),
    ],
)
def test_a_real_service_whose_store_is_lost_stops_acting_says_so_once_and_is_not_ready(
    service, tmp_path, lose, reason
):
    exporter, args = service
    data = tmp_path / "data"
    lose(data)
    files = sorted(data.iterdir())
    wait_for(
        lambda: (sample(exporter.scrape(), RUNS, job="completion", result="store_lost") or 0) >= 3,
        what="three store_lost runs",
    )
    s = exporter.scrape()
    assert sample(s, "qbittorrent_exporter_store_errors_total", reason=reason) == 1
    ok = sample(s, RUNS, job="completion", result="ok")
    status, body = http_get(exporter.url + "/readyz")
    assert status == 503 and f"not ready: store {data / FILE_NAME} is lost: the store file" in body
    assert f"was {reason} under the running service" in body
    lines = [line for line in exporter.log().splitlines() if "actions stopped: store" in line]
    assert len(lines) == 1 and "ERROR" in lines[0], exporter.log()
    assert "Traceback" not in exporter.log()
    assert sorted(data.iterdir()) == files  # no fresh store made in its place
    assert sample(exporter.scrape(), RUNS, job="completion", result="ok") == ok  # no run succeeds
    code, log = second_service(args, tmp_path)  # and still one service per data directory
    assert code == 1 and "in use by another qbittorrent-monitor" in log


def start_on_read_only(target: Path, data: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The real service started with `target` bind-mounted read-only, in a mount namespace of its own
    (nothing outside the test sees the mount; it goes with the process)."""
    config = tmp_path / "config.yml"
    config.write_text(CONFIG)
    argv = [
        sys.executable,
        "-m",
        "exporter.cli",
        "--qbittorrent.url",
        "http://127.0.0.1:9",
        "--data.dir",
        str(data),
        "--config.file",
        str(config),
        "--web.listen-address",
        "127.0.0.1:0",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBITTORRENT_MONITOR_")}
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(target), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def existing_store(data: Path) -> None:
    open_store(str(data)).close()


@pytest.mark.parametrize(
    ("arrange", "read_only", "message"),
    [
        pytest.param(
            lambda data: data.mkdir(),
            "data",
            "cannot create the store {db}: the data directory is not writable "
            "(it is on a read-only file system)",
            id="empty-directory",
        ),
        pytest.param(
            existing_store,
            "data",
            "the data directory {data} is not writable (it is on a read-only file system): the store "
            "needs qbittorrent-monitor.db-wal and qbittorrent-monitor.db-shm beside qbittorrent-monitor.db",
            id="directory-with-a-store",
        ),
        pytest.param(
            existing_store,
            "db",
            "store {db} is not writable (it is on a read-only file system)",
            id="read-only-store-file",
        ),
    ],
)
def test_a_store_on_a_read_only_mount_is_refused_at_start_naming_the_cause(
    tmp_path, arrange, read_only, message
):
    data = tmp_path / "data"
    db = data / FILE_NAME
    arrange(data)
    before = sorted(data.iterdir())
    run = start_on_read_only({"data": data, "db": db}[read_only], data, tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    output = run.stdout + run.stderr
    assert "cannot open the store: " + message.format(db=db, data=data) in output
    assert "Traceback" not in output and "cannot create the data directory" not in output
    assert sorted(data.iterdir()) == before
