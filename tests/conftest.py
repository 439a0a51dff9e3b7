"""Fixtures over the test kit (tests/kit/): a real qbittorrent-nox per test (throwaway profile on 127.0.0.1),
the exporter process, loopback receivers, a SQLite store in tmp_path. Each is
stopped or closed at teardown.

Missing qbittorrent-nox is an error, never a skip: scripts/setup installs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import qbittorrentapi

from exporter.sandbox import QBittorrentProcess
from exporter.store import Store, open_store
from tests.kit.processes import ExporterProcess
from tests.kit.receiver import Receiver


@pytest.fixture
def qbt_factory(tmp_path: Path) -> Iterator[Callable[..., QBittorrentProcess]]:
    started: list[QBittorrentProcess] = []

    def make(name: str = "qbt", **kwargs) -> QBittorrentProcess:
        q = QBittorrentProcess(profile=tmp_path / name, **kwargs).start()
        started.append(q)
        return q

    yield make
    for q in started:
        q.stop()


@pytest.fixture
def qbt(qbt_factory) -> QBittorrentProcess:
    return qbt_factory()


@pytest.fixture
def qbt_client(qbt) -> qbittorrentapi.Client:
    return qbt.client()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    p = tmp_path / "password.txt"
    p.write_text("adminadmin\n")
    return p


@pytest.fixture
def exporter_factory(tmp_path: Path) -> Iterator[Callable[..., ExporterProcess]]:
    started: list[ExporterProcess] = []

    def make(args: list[str], wait: bool = True, env: dict | None = None, **kwargs) -> ExporterProcess:
        e = ExporterProcess(args=args, workdir=tmp_path / "exporter", env=env or {}, **kwargs).start(
            wait=wait
        )
        started.append(e)
        return e

    yield make
    for e in started:
        e.stop()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """receivers(status, **options) -> a new Receiver (tests/kit/receiver.py), closed at teardown."""
    made: list[Receiver] = []

    def make(status: int = 200, **options) -> Receiver:
        made.append(Receiver(status, **options))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def receiver(receivers) -> Receiver:
    """A Receiver that answers 200 to everything."""
    return receivers()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A new SQLite store in tmp_path/data."""
    s = open_store(str(tmp_path / "data"))
    yield s
    s.close()


@pytest.fixture(scope="session")
def cluster():
    """A throwaway PostgreSQL cluster (tests/kit/postgres.py), started once, for the tests that ask."""
    from tests.kit.postgres import PostgresCluster

    with PostgresCluster() as c:
        yield c


@pytest.fixture
def postgres(cluster):
    """The cluster's database, empty: (url, password) of its role."""
    from tests.kit.postgres import ROLE

    cluster.reset()
    return cluster.url(), cluster.passwords[ROLE]
