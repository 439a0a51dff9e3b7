"""Values the exposition cannot encode never make /metrics a 500.

They are sanitised at parse time (model.py: finite numbers, integers clamped to qint64, valid UTF-8
text), and a collector whose families still cannot be encoded is reported by
qbittorrent_exporter_collector_success 0 while the rest of the scrape is served.
"""

from __future__ import annotations

import math

import pytest
from prometheus_client.core import GaugeMetricFamily

from exporter.app import App
from exporter.config import build_settings
from exporter.model import INT_MAX, INT_MIN, to_float, to_int, tracker_host
from exporter.qbt.mirror import Mirror
from tests.kit.fakes import Clock, FakeConnection
from tests.kit.processes import parse_samples, sample

TORRENT = {"name": "a", "state": "uploading", "category": "c", "size": 1}


def app_serving(payload: dict) -> tuple[App, Clock]:
    clock = Clock()
    full = {"rid": 1, "full_update": True, "server_state": {"connection_status": "connected"}, **payload}
    mirror = Mirror(FakeConnection([full, {"rid": 2}, {"rid": 3}]), clock=clock, monotonic=clock)
    return App(build_settings({"metrics.per-torrent": "true"}, {}), mirror=mirror), clock


def scrape(app: App) -> dict:
    status, _, body, _ = app.routes["/metrics"]({}, {})
    assert status == 200
    return parse_samples(body.decode())


def collector_success(samples: dict) -> dict[str, float]:
    return {
        dict(labels)["collector"]: value
        for (name, labels), value in samples.items()
        if name == "qbittorrent_exporter_collector_success"
    }


# Each: (payload merged into a full update, metric name, its labels, the value expected (None: absent)).
CASES = {
    "int-past-float-range": (
        {"torrents": {"a": {**TORRENT, "size": 10**400}}},
        "qbittorrent_torrent_size_bytes",
        {"hash": "a"},
        float(INT_MAX),
    ),
    "negative-int-past-float-range": (
        {"torrents": {"a": {**TORRENT, "size": -(10**400)}}},
        "qbittorrent_torrent_size_bytes",
        {"hash": "a"},
        float(INT_MIN),
    ),
    "nan-where-an-int-is-expected": (
        {"server_state": {"dl_info_speed": float("nan")}},
        "qbittorrent_download_speed_bytes",
        {},
        None,
    ),
    "inf-string-where-an-int-is-expected": (
        {"server_state": {"alltime_ul": "1e999"}},
        "qbittorrent_alltime_uploaded_bytes_total",
        {},
        None,
    ),
    "nan-ratio": (
        {"torrents": {"a": {**TORRENT, "ratio": float("nan")}}},
        "qbittorrent_torrent_ratio",
        {"hash": "a"},
        0.0,
    ),
    "lone-surrogate-in-a-category": (
        {"torrents": {"a": {**TORRENT, "category": "x\ud800"}}, "categories": {"x\ud800": {}}},
        "qbittorrent_category_size_bytes",
        {"category": "x\ufffd"},
        1.0,
    ),
    "lone-surrogate-in-a-name": (
        {"torrents": {"a": {**TORRENT, "name": "n\udc00"}}},
        "qbittorrent_torrent_info",
        {"hash": "a", "name": "n\ufffd", "category": "c", "state": "uploading", "tracker": ""},
        1.0,
    ),
    "lone-surrogate-in-a-hash": (
        {"torrents": {"a\ud800": TORRENT}},
        "qbittorrent_torrent_size_bytes",
        {"hash": "a\ufffd"},
        1.0,
    ),
    "lone-surrogate-in-a-tracker-host": (
        {"torrents": {"a": TORRENT}, "trackers": {"http://t\ud800.example/announce": ["a"]}},
        "qbittorrent_tracker_torrents",
        {"tracker": "t\ufffd.example"},
        1.0,
    ),
}


@pytest.mark.parametrize("payload,metric,labels,value", CASES.values(), ids=CASES.keys())
def test_unencodable_values_are_sanitised_at_parse_time(payload, metric, labels, value):
    app, clock = app_serving(payload)
    for _ in range(2):  # the first scrape and a cached one both answer, with the same values
        samples = scrape(app)
        assert sample(samples, "qbittorrent_up") == 1
        assert set(collector_success(samples).values()) == {1.0}
        assert sample(samples, metric, **labels) == value
        clock.now += 0.5


class Broken:
    """A collector whose family prometheus_client cannot encode (its collect() itself succeeds)."""

    name = "broken"

    def __init__(self, label: object, value: object) -> None:
        self.label, self.value = label, value

    def collect(self):
        family = GaugeMetricFamily("qbittorrent_broken", "Cannot be encoded.", labels=["x"])
        family.add_metric([self.label], self.value)  # type: ignore[arg-type]
        yield family


@pytest.mark.parametrize(
    "label,value",
    [("x\ud800", 1), ("x", 10**400), ("x", "not a number"), (5, 1)],
    ids=["lone-surrogate-label", "int-past-float-range", "string-value", "non-string-label"],
)
def test_a_collector_that_cannot_be_encoded_fails_alone(label, value):
    app, _ = app_serving({"torrents": {"a": TORRENT}})
    app.instances[app.settings.instances[0].name].snapshot_collectors.append(
        lambda snapshot: Broken(label, value)
    )
    samples = scrape(app)
    assert collector_success(samples) == {
        "exporter": 1.0,
        "server": 1.0,
        "torrents": 1.0,
        "ratio": 1.0,
        "per_torrent": 1.0,
        "tracker_scan": 1.0,
        "tracker_health": 1.0,
        "broken": 0.0,
        "events": 1.0,
    }
    assert not any(name == "qbittorrent_broken" for name, _ in samples)
    assert sample(samples, "qbittorrent_up") == 1


@pytest.mark.parametrize(
    "raw,expected",
    [
        (5, 5),
        ("7", 7),
        (2.9, 2),
        (True, 1),
        (10**400, INT_MAX),
        (-(10**400), INT_MIN),
        (float("nan"), 0),
        (float("inf"), 0),
        ("1e999", 0),
        ("-", 0),
        ([1], 0),
        ({"a": 1}, 0),
        (None, 0),
    ],
    ids=lambda v: repr(v)[:12],
)
def test_to_int_is_bounded_and_never_raises(raw, expected):
    assert to_int(raw) == expected


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("0.5", 0.5),
        (2, 2.0),
        (float("nan"), None),
        (float("inf"), None),
        (10**400, None),
        ("-", None),
        ([], None),
    ],
    ids=["string", "int", "nan", "inf", "int-past-float-range", "dash", "list"],
)
def test_to_float_is_finite_or_none(raw, expected):
    result = to_float(raw)
    assert result == expected and (result is None or math.isfinite(result))


def test_tracker_hosts_are_valid_text():
    assert tracker_host("http://a\udfff.example:80/announce?passkey=1") == "a\ufffd.example"
