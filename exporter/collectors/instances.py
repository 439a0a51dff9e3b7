"""Many qBittorrents in one exposition: every family of an instance gets its `qbittorrent="<name>"` label.

Each instance's collectors (and its own event counters) produce families as if it were alone; `merge`
adds the label to every sample and joins families of the same name across instances, so that the
exposition has one HELP/TYPE per name. The label is added also with a single instance, so that rules and
dashboards have one shape. Cardinality grows only with the number of instances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client.core import Metric
from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Sample

LABEL = "qbittorrent"


class MergedCollector:
    """The families of several instances ({name: families}), labelled and merged; then `extra` as is."""

    def __init__(self, by_instance: Mapping[str, Iterable[Metric]], extra: Iterable[Metric] = ()) -> None:
        self.by_instance = by_instance
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from merge(self.by_instance)
        yield from self.extra


def merge(by_instance: Mapping[str, Iterable[Metric]]) -> list[Metric]:
    merged: dict[str, Metric] = {}
    for name, families in by_instance.items():
        for family in families:
            target = merged.get(family.name)
            if target is None:
                target = merged[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
            target.samples.extend(
                Sample(s.name, {LABEL: name, **s.labels}, s.value, s.timestamp, s.exemplar)
                for s in family.samples
            )
    return list(merged.values())


Families = list[Metric]


class Scrape:
    """What one scrape shows: each instance's families (unlabelled) and the service's own (`extra`).

    An instance's families may be given as a function that makes them: `each()` then makes them one
    instance at a time and keeps none, so that the text writer holds one instance's families at once
    (at 50 qBittorrents, all of them alive together were ~70,000 objects: a cyclic-GC pass of ~35 ms
    in every scrape). `registry()` gives them, made once, to prometheus_client's encoders (OpenMetrics,
    protobuf); the text format has a faster writer (exporter/http/exposition.py) that adds the label as
    it writes."""

    def __init__(self, by_instance: Mapping[str, Families | Callable[[], Families]], extra: Families) -> None:
        self._sources, self.extra = by_instance, extra

    def each(self) -> Iterator[tuple[str, Families]]:
        for name, source in self._sources.items():
            yield name, source() if callable(source) else source

    @property
    def by_instance(self) -> dict[str, Families]:
        made = dict(self.each())
        self._sources = made  # made once: a second reading shows the same scrape
        return made

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(MergedCollector(self.by_instance, self.extra))
        return registry
