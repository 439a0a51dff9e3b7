"""Fixtures over the test kit (tests/kit/): a real qbittorrent-nox per test (throwaway profile on 127.0.0.1),
the exporter process, loopback receivers, a SQLite store in tmp_path. Each is
stopped or closed at teardown.

The version matrix (tests/kit/versions.py) is a fixture parameter. A test that starts qBittorrent (through
`qbt_factory`, `qbt` or `qbt_client`) runs once per `qbt_version`: "4.5" and "5.x" always, "5.1" too when
marked `@pytest.mark.qbt51`, or exactly the ids of `@pytest.mark.qbt_versions("5.1", "5.x")`. A test that
runs Prometheus tools runs once per `prometheus_version` ("2", "3"). The ids say which: `test_x[qbt-5.x]`,
`test_y[qbt-4.5-prom-3]`. Processes stay per test; only the Debian roots are shared.

A missing binary or root, or a version that does not start, is an error, never a skip: scripts/setup
installs and builds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import qbittorrentapi

from exporter.sandbox import QBittorrentProcess
from exporter.store import Store, open_store
from tests.kit import versions
from tests.kit.processes import ExporterProcess
from tests.kit.receiver import Receiver

QBT_ALWAYS = ("4.5", "5.x")  # the oldest and the newest: every test that runs qBittorrent


def qbittorrent_ids(definition: pytest.Function) -> list[str]:
    """The qBittorrent matrix ids a test runs on, from its markers (see the module docstring)."""
    only = definition.get_closest_marker("qbt_versions")
    if only is not None:
        for matrix_id in only.args:
            versions.param_id("qbt", matrix_id)  # an unknown id fails at collection
        return list(only.args)
    wanted = {*QBT_ALWAYS, *(["5.1"] if definition.get_closest_marker("qbt51") else [])}
    return [matrix_id for matrix_id in versions.QBITTORRENT if matrix_id in wanted]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "qbt_version" in metafunc.fixturenames:
        ids = qbittorrent_ids(metafunc.definition)
        metafunc.parametrize(
            "qbt_version", ids, indirect=True, ids=[versions.param_id("qbt", i) for i in ids]
        )
    if "prometheus_version" in metafunc.fixturenames:
        ids = list(versions.PROMETHEUS)
        metafunc.parametrize(
            "prometheus_version", ids, indirect=True, ids=[versions.param_id("prom", i) for i in ids]
        )


@pytest.fixture
def qbt_version(request: pytest.FixtureRequest) -> str:
    """The qBittorrent matrix id this test runs on ("4.5", "5.1", "5.x"); set by pytest_generate_tests."""
    return request.param


@pytest.fixture
def prometheus_version(request: pytest.FixtureRequest) -> str:
    """The Prometheus matrix id this test runs on ("2", "3"); set by pytest_generate_tests."""
    return request.param


@pytest.fixture
def qbt_factory(tmp_path: Path, qbt_version: str) -> Iterator[Callable[..., QBittorrentProcess]]:
    """make(name, version=None, **QBittorrentProcess fields): a started qbittorrent-nox of this test's
    `qbt_version` (or of `version`), profile tmp_path/name; stopped at teardown."""
    started: list[QBittorrentProcess] = []

    def make(name: str = "qbt", version: str | None = None, **kwargs) -> QBittorrentProcess:
        command = versions.qbittorrent(version or qbt_version)
        q = QBittorrentProcess(profile=tmp_path / name, command=command, **kwargs).start()
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
