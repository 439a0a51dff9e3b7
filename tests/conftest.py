"""Fixtures: a real qbittorrent-nox per test (throwaway profile on 127.0.0.1) and the exporter process.

Missing qbittorrent-nox is an error, never a skip: scripts/setup installs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import qbittorrentapi

from exporter.sandbox import QBittorrentProcess
from tests.helpers import ExporterProcess


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


def client_for(q: QBittorrentProcess) -> qbittorrentapi.Client:
    c = qbittorrentapi.Client(
        host=q.url,
        username=q.username,
        password=q.password,
        SIMPLE_RESPONSES=True,
        REQUESTS_ARGS={"timeout": 10},
    )
    c.auth_log_in()
    return c


@pytest.fixture
def qbt_client(qbt) -> qbittorrentapi.Client:
    return client_for(qbt)


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
