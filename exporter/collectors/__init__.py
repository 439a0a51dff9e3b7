"""Collectors turn one Snapshot (plus manager outputs) into metric families at scrape time.

They never call qBittorrent: the scrape handler refreshes the mirror first and passes the Snapshot
in. `ScrapeCollector` runs the parts of one scrape, so that one failing part does not hide the others,
and reports each part's duration and success (as node_exporter does per collector).

prometheus_client encodes the families only after collect() has returned them, outside any part's
try: a family it cannot encode would turn the whole scrape into a 500. So each part's families are
checked for what the encoder needs (`check_encodable`) inside that part's try.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain
from operator import itemgetter
from typing import Protocol

from prometheus_client.core import Metric
from prometheus_client.registry import CollectorRegistry

from .family import Gauge

log = logging.getLogger(__name__)


class Collector(Protocol):
    name: str

    def collect(self) -> Iterable[Metric]: ...


class RegistryCollector:
    """Shows the metrics of another registry (the service's own event counters) in this scrape."""

    name = "events"

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def check_encodable(metrics: Iterable[Metric]) -> None:
    """Raise if the exposition could not encode a sample: a value float() refuses (an int past float
    range, a non-number) or a label value that is not a string of valid UTF-8 (a lone surrogate)."""
    for metric in metrics:
        if type(metric) is Gauge:  # the same checks in C loops: a scrape has ~650 rows per qBittorrent
            labels = list(map(itemgetter(0), metric.rows))
            deque(map(float, map(itemgetter(1), metric.rows)), maxlen=0)
            if any(n != len(metric.label_names) for n in set(map(len, labels))):
                raise ValueError(f"{metric.name}: label values of another width than its labels")
            text = "".join(chain.from_iterable(labels))
            if not text.isascii():
                text.encode("utf-8")
            continue
        for sample in metric.samples:
            if type(sample.value) is not float:
                float(sample.value)
            for text in sample.labels.values():
                if not text.isascii():
                    text.encode("utf-8")


class ScrapeCollector:
    def __init__(self, parts: Iterable[Collector]) -> None:
        self.parts = list(parts)

    def collect(self) -> Iterator[Metric]:
        duration = Gauge(
            "qbittorrent_exporter_collector_duration_seconds",
            "Time each collector took in this scrape.",
            labels=["collector"],
        )
        success = Gauge(
            "qbittorrent_exporter_collector_success",
            "1 if the collector succeeded in this scrape.",
            labels=["collector"],
        )
        for part in self.parts:
            started = time.perf_counter()
            try:
                metrics = list(part.collect())
                check_encodable(metrics)
                ok = 1
            except Exception:
                log.exception("collector %s failed", part.name)
                metrics, ok = [], 0
            duration.add_metric([part.name], time.perf_counter() - started)
            success.add_metric([part.name], ok)
            yield from metrics
        yield duration
        yield success
