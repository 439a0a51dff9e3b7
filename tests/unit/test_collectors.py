"""Collectors through a private CollectorRegistry, and a golden exposition file checked by promtool."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from exporter.app import App
from exporter.collectors.exporter import ExporterCollector
from exporter.collectors.server import ServerCollector
from exporter.collectors.torrents import PerTorrentCollector, TorrentsCollector
from exporter.config import build_settings
from exporter.model import KNOWN_STATES, AppInfo, SyncStats
from exporter.qbt.connection import QBittorrentError
from exporter.qbt.maindata import MaindataState
from exporter.qbt.mirror import Backoff, Mirror
from tests.kit import versions
from tests.kit.fakes import Clock, FakeConnection

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def snapshot_5x():
    """The Snapshot after the whole recorded 5.x sequence (two torrents left, one complete)."""
    state = MaindataState("test")
    state.set_app(AppInfo("v5.0.2", "2.11.2", "2.0.10.0"))
    for step in json.loads((GOLDEN / "maindata-5.0.json").read_text())["steps"]:
        state.apply(step["payload"])
    return state.snapshot(taken_at=1700003700.0)


def registry_of(*collectors):
    registry = CollectorRegistry(auto_describe=False)
    for c in collectors:
        registry.register(c)
    return registry


def fixed_stats():
    stats = SyncStats(up=True, last_duration=0.25, last_success=1700003700.0, syncs=4, full_syncs=1)
    stats.errors["timeout"] = 2
    return stats


def test_server_metrics():
    r = registry_of(ServerCollector(snapshot_5x()))
    assert (
        r.get_sample_value(
            "qbittorrent_info", {"version": "v5.0.2", "webapi_version": "2.11.2", "libtorrent": "2.0.10.0"}
        )
        == 1
    )
    assert r.get_sample_value("qbittorrent_alltime_uploaded_bytes_total") == 2500
    assert r.get_sample_value("qbittorrent_session_downloaded_bytes_total") == 100
    assert r.get_sample_value("qbittorrent_download_speed_bytes") == 2048  # sent as the string "2048"
    assert r.get_sample_value("qbittorrent_global_ratio") == 1.75
    assert r.get_sample_value("qbittorrent_free_space_bytes") == 4_000_000_000
    assert r.get_sample_value("qbittorrent_dht_nodes") == 312
    assert r.get_sample_value("qbittorrent_connection_status", {"status": "connected"}) == 1
    assert r.get_sample_value("qbittorrent_connection_status", {"status": "firewalled"}) == 0


def test_global_ratio_absent_when_unknown():
    state = MaindataState()
    state.apply({"rid": 1, "full_update": True, "server_state": {"global_ratio": "-", "alltime_ul": 1}})
    r = registry_of(ServerCollector(state.snapshot(0)))
    assert r.get_sample_value("qbittorrent_global_ratio") is None
    assert r.get_sample_value("qbittorrent_free_space_bytes") is None  # not reported -> absent, not 0
    assert r.get_sample_value("qbittorrent_alltime_uploaded_bytes_total") == 1


def test_torrent_counts_by_state_status_category_and_tracker():
    snap = snapshot_5x()
    r = registry_of(TorrentsCollector(snap))
    assert (
        r.get_sample_value(
            "qbittorrent_torrents", {"state": "uploading", "status": "seeding", "category": "linux"}
        )
        == 1
    )
    assert (
        r.get_sample_value(
            "qbittorrent_torrents", {"state": "stalledUP", "status": "seeding", "category": ""}
        )
        == 1
    )
    # zeros for every known state in every category, so series do not vanish
    assert (
        r.get_sample_value(
            "qbittorrent_torrents", {"state": "stoppedUP", "status": "paused", "category": "linux"}
        )
        == 0
    )
    series = [s for m in r.collect() if m.name == "qbittorrent_torrents" for s in m.samples]
    assert len(series) == len(KNOWN_STATES) * 2
    assert r.get_sample_value("qbittorrent_tracker_torrents", {"tracker": "tracker.example.org"}) == 1
    assert r.get_sample_value("qbittorrent_tracker_torrents", {"tracker": "open.tracker.test"}) == 1
    assert r.get_sample_value("qbittorrent_category_size_bytes", {"category": "linux"}) == 1073741824
    assert (
        r.get_sample_value("qbittorrent_tracker_uploaded_bytes", {"tracker": "tracker.example.org"})
        == 3221225472
    )
    assert r.get_sample_value("qbittorrent_category_downloaded_bytes", {"category": ""}) == 2147483648


def test_per_torrent_series_carry_only_the_hash_outside_info():
    r = registry_of(PerTorrentCollector(snapshot_5x()))
    assert (
        r.get_sample_value(
            "qbittorrent_torrent_info",
            {
                "hash": "aaaa",
                "name": "debian.iso",
                "category": "linux",
                "state": "uploading",
                "tracker": "tracker.example.org",
            },
        )
        == 1
    )
    assert r.get_sample_value("qbittorrent_torrent_uploaded_bytes_total", {"hash": "aaaa"}) == 3221225472
    for metric in r.collect():
        if metric.name != "qbittorrent_torrent_info":
            assert all(set(s.labels) == {"hash"} for s in metric.samples), metric.name


def test_golden_exposition_and_promtool(tmp_path, prometheus_version):
    snap = snapshot_5x()
    text = generate_latest(
        registry_of(
            ExporterCollector(fixed_stats()),
            ServerCollector(snap),
            TorrentsCollector(snap),
            PerTorrentCollector(snap),
        )
    ).decode()
    golden = GOLDEN / "metrics.prom"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), "exposition changed: review it, then UPDATE_GOLDEN=1 pytest to accept"
    assert "SECRET" not in text
    promtool = versions.prometheus(prometheus_version, "promtool")  # prom-2 and prom-3: both lint it
    check = subprocess.run(
        [*promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == "" and check.stderr.strip() == "", (
        check.stdout + check.stderr
    )  # no lint warnings


def app_with(answers, clock):
    settings = build_settings({"qbittorrent.name": "q"}, {})
    mirror = Mirror(FakeConnection(answers), clock=clock, monotonic=clock, connect_backoff=Backoff(1, 30))
    return App(settings, mirror=mirror)


def scrape(app):
    status, ctype, body, _ = app.routes["/metrics"]({}, {})
    assert status == 200 and ctype.startswith("text/plain")
    return body.decode()


def test_unreachable_qbittorrent_shows_up_0_and_no_state_series():
    clock = Clock()
    down = QBittorrentError("connection", "cannot connect to qBittorrent")
    app = app_with(
        [
            {
                "rid": 1,
                "full_update": True,
                "server_state": {"alltime_ul": 5},
                "torrents": {"a": {"state": "uploading"}},
            },
            down,
            {"rid": 2, "full_update": True, "server_state": {"alltime_ul": 6}},
        ],
        clock,
    )
    up = scrape(app)
    assert 'qbittorrent_up{qbittorrent="q"} 1.0' in up
    assert 'qbittorrent_alltime_uploaded_bytes_total{qbittorrent="q"} 5.0' in up
    clock.now += 5
    text = scrape(app)
    assert 'qbittorrent_up{qbittorrent="q"} 0.0' in text
    assert 'qbittorrent_exporter_sync_errors_total{qbittorrent="q",reason="connection"} 1.0' in text
    for absent in ("qbittorrent_alltime_uploaded_bytes_total", "qbittorrent_torrents{", "qbittorrent_info{"):
        assert absent not in text  # counters must not look like they reset to zero
    status, _, body, _ = app.routes["/readyz"]({}, {})
    assert status == 503 and b"cannot connect" in body
    clock.now += 5
    assert 'qbittorrent_alltime_uploaded_bytes_total{qbittorrent="q"} 6.0' in scrape(
        app
    )  # recovered by itself
    assert app.routes["/readyz"]({}, {})[0] == 200


def test_a_failing_collector_does_not_hide_the_others():
    class Broken:
        name = "broken"

        def __init__(self, snapshot):
            pass

        def collect(self):
            raise RuntimeError("boom")

    clock = Clock()
    app = app_with([{"rid": 1, "full_update": True, "torrents": {"a": {"state": "uploading"}}}], clock)
    app.instances["q"].snapshot_collectors.append(Broken)
    text = scrape(app)
    assert 'qbittorrent_exporter_collector_success{collector="broken",qbittorrent="q"} 0.0' in text
    assert 'qbittorrent_exporter_collector_success{collector="torrents",qbittorrent="q"} 1.0' in text
    assert 'qbittorrent_torrents{category="",qbittorrent="q",state="uploading",status="seeding"} 1.0' in text
