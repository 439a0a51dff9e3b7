"""Fixtures for the end-to-end tests: real Prometheus, Alertmanager and a webhook receiver on 127.0.0.1
(tests/kit/stack.py, tests/kit/receiver.py).

Each fixture hands out a process object that the test starts (so that it can choose the order: start
Prometheus first, it takes a few seconds to scrape a new target) and that is stopped at teardown.
Prometheus and Alertmanager are those of the test's `prometheus_version` (tests/conftest.py): every test
using them runs on Prometheus 2 and 3, ids `[...-prom-2]` and `[...-prom-3]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.receiver import Receiver
from tests.kit.stack import Alertmanager, Prometheus

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver(receivers) -> Receiver:
    """Alertmanager's and the completion webhooks' receiver; /fail answers 500."""
    return receivers(statuses={"/fail": 500})


@pytest.fixture
def prometheus(tmp_path: Path, prometheus_version: str) -> Iterator[Prometheus]:
    p = Prometheus(tmp_path / "prometheus", prometheus_version)
    yield p
    p.stop()


@pytest.fixture
def alertmanager(tmp_path: Path, prometheus_version: str) -> Iterator[Alertmanager]:
    a = Alertmanager(tmp_path / "alertmanager", prometheus_version)
    yield a
    a.stop()
