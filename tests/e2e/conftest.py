"""Fixtures for the end-to-end tests: real Prometheus, Alertmanager and a webhook receiver on 127.0.0.1
(tests/kit/stack.py, tests/kit/receiver.py).

Each fixture hands out a process object that the test starts (so that it can choose the order: start
Prometheus first, it takes a few seconds to scrape a new target) and that is stopped at teardown.
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
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    p = Prometheus(tmp_path / "prometheus")
    yield p
    p.stop()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    a = Alertmanager(tmp_path / "alertmanager")
    yield a
    a.stop()
