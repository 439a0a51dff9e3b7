"""The fast text writer must write exactly what prometheus_client's generate_latest writes."""

from __future__ import annotations

import math

import pytest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from exporter.collectors.instances import Scrape
from exporter.http.exposition import encode, value_text


def families(n: float) -> list:
    up = GaugeMetricFamily("qbittorrent_up", "1 if the last sync succeeded.", value=n)
    errors = CounterMetricFamily(
        "qbittorrent_exporter_sync_errors", "Failed syncs,\nby reason \\ kind.", labels=["reason"]
    )
    errors.add_metric(["timeout"], 3)
    errors.add_metric(["auth"], 0)
    torrents = GaugeMetricFamily("qbittorrent_torrents", "Torrents.", labels=["state", "category", "status"])
    for i, (category, value) in enumerate(
        [
            ("", 1),
            ('we"ird\\cat\nx', 2.5),
            ("ünïcode", 1e21),
            ("big", 123456789.0),
            ("small", 1e-7),
            ("neg", -3.0),
        ]
    ):
        torrents.add_metric(["uploading", category, "seeding"], value + i)
    special = GaugeMetricFamily("qbittorrent_tracker_ratio", "Ratio.", labels=["tracker"])
    special.add_metric(["a.example"], math.inf)
    special.add_metric(["b.example"], -math.inf)
    special.add_metric(["c.example"], math.nan)
    empty = GaugeMetricFamily("qbittorrent_seeding_slots_active", "No samples this time.", labels=["x"])
    return [up, errors, torrents, special, empty]


@pytest.mark.parametrize("names", [["one"], ["a", "b", "c"], []], ids=["one", "three", "none"])
def test_the_same_bytes_as_generate_latest(names):
    build = GaugeMetricFamily("qbittorrent_exporter_build_info", "Version.", labels=["version"])
    build.add_metric(["1.0"], 1)
    scrape = Scrape({n: families(i) for i, n in enumerate(names)}, [build])
    assert encode(scrape) == generate_latest(scrape.registry())


@pytest.mark.parametrize(
    "value", [0, 1, 0.5, 1e6, 1234567.0, 12345678.9, 1e300, -1e10, 2**62, math.inf, math.nan]
)
def test_values_are_written_as_go_writes_them(value):
    from prometheus_client.utils import floatToGoString

    assert value_text(value) == floatToGoString(value)


def test_a_whole_scrape_of_two_instances_with_every_feature(tmp_path):
    import yaml

    from exporter.app import App
    from exporter.config import build_settings
    from exporter.docsgen import EXAMPLE_CONFIG, example_snapshot

    cfg = tmp_path / "c.yml"
    config = dict(
        EXAMPLE_CONFIG,
        instances=[{"name": "a", "url": "http://127.0.0.1:1"}, {"name": "b", "url": "http://127.0.0.1:2"}],
    )
    cfg.write_text(yaml.safe_dump(config))
    app = App(build_settings({"metrics.per-torrent": "true", "data.dir": str(tmp_path / "d")}, {}, str(cfg)))
    try:
        scrape = app.collect({"a": example_snapshot(), "b": None})
        text = encode(scrape)
        assert text == generate_latest(scrape.registry())
        assert b'qbittorrent_torrent_info{category="movies",hash=' in text and b'qbittorrent="a"' in text
    finally:
        app.stop()


def as_gauges(families: list) -> list:
    """The same families with every gauge as a collectors' Gauge (rows)."""
    from exporter.collectors.family import Gauge

    out = []
    for f in families:
        if f.type != "gauge":
            out.append(f)
            continue
        g = Gauge(f.name, f.documentation, labels=list(f.samples[0].labels) if f.samples else ["x"])
        for s in f.samples:
            g.add_metric(list(s.labels.values()), s.value)
        out.append(g)
    return out


def test_gauge_rows_write_the_same_bytes_and_samples():
    plain = families(1)
    gauges = as_gauges(plain)
    assert [g.samples for g in gauges] == [f.samples for f in plain]
    build = GaugeMetricFamily("qbittorrent_exporter_build_info", "Version.", labels=["version"])
    build.add_metric(["1.0"], 1)
    scrape = Scrape({"a": gauges, "b": as_gauges(families(2))}, [build])
    assert encode(scrape) == generate_latest(scrape.registry())


def test_the_writer_reuses_only_families_whose_rows_did_not_change():
    from exporter.http.exposition import Writer

    writer = Writer()
    for values in ([1, 2, 3], [1, 2, 3], [1, 5, 3], [1, 5, 3, 7]):
        fams = as_gauges(families(values[0]))
        fams[2].rows[: len(values)] = [(fams[2].rows[i][0], v) for i, v in enumerate(values)]
        scrape = Scrape({"a": fams, "b": as_gauges(families(values[1]))}, [])
        assert writer.encode(scrape) == generate_latest(scrape.registry()), values


def test_a_gauge_takes_no_samples_but_its_rows():
    from exporter.collectors.family import Gauge

    g = Gauge("qbittorrent_x", "X.", labels=["a"])
    with pytest.raises(TypeError):
        g.add_sample("qbittorrent_x", {"a": "1"}, 1.0)
    with pytest.raises(ValueError):
        g.add_metric(["1"], 1.0, timestamp=5)


def test_a_lazy_scrape_makes_each_instance_once_and_holds_none_while_written():
    import gc
    import weakref

    from exporter.http.exposition import Writer

    made: list[str] = []
    alive: list[weakref.ref] = []

    def source(name: str, n: int):
        def make():
            assert all(r() is None for r in alive), "the last instance's families are still held"
            made.append(name)
            fams = as_gauges(families(n))
            alive.extend(weakref.ref(f) for f in fams)
            return fams

        return make

    lazy = Scrape({"a": source("a", 1), "b": source("b", 2), "c": source("c", 3)}, [])
    gc.collect()
    text = Writer().encode(lazy)
    eager = Scrape({n: as_gauges(families(i)) for n, i in (("a", 1), ("b", 2), ("c", 3))}, [])
    assert text == generate_latest(eager.registry()) and made == ["a", "b", "c"]

    twice = Scrape({"a": source("a", 1)}, [])
    alive.clear()
    assert twice.by_instance is not None and twice.registry() is not None
    assert made == ["a", "b", "c", "a"]  # made once for both readings
