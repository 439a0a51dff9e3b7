"""`Gauge`: a gauge family that keeps its samples as rows, for the collectors' many small series.

prometheus_client's GaugeMetricFamily turns every add_metric into a Sample with a dict of its labels;
the text writer (http/exposition.py) then takes those dicts apart again. At 50 qBittorrents of ~650
series each that was a third of a scrape's CPU. `Gauge` appends (label values, value) and nothing
else; the text writer formats the rows directly. Everything else that reads a family (OpenMetrics,
protobuf, the merge for prometheus_client's registry, tests) sees the same `samples` a
GaugeMetricFamily would have, built when asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.samples import Sample

Row = tuple[Sequence[str], float]


class Gauge(GaugeMetricFamily):
    def __init__(
        self,
        name: str,
        documentation: str,
        value: float | None = None,
        labels: Sequence[str] | None = None,
        unit: str = "",
    ) -> None:
        self.rows: list[Row] = []
        super().__init__(name, documentation, value, labels, unit)

    @property
    def label_names(self) -> tuple[str, ...]:
        return self._labelnames

    def add_metric(self, labels: Sequence[str], value: float, timestamp: object = None) -> None:
        if timestamp is not None:
            raise ValueError(f"{self.name}: a Gauge has no timestamps")
        self.rows.append((labels, value))

    def add_rows(self, rows: Iterable[Row]) -> None:
        """add_metric for each (label values, value), in one call."""
        self.rows.extend(rows)

    @property
    def samples(self) -> list[Sample]:
        names = self._labelnames
        return [
            Sample(self.name, dict(zip(names, labels, strict=True)), value, None)
            for labels, value in self.rows
        ]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        if value:  # Metric.__init__ sets [] and nothing else may: samples come from rows
            raise TypeError(f"{self.name}: add samples to a Gauge with add_metric")

    def add_sample(self, *args: object, **kwargs: object) -> None:
        raise TypeError(f"{self.name}: add samples to a Gauge with add_metric")
