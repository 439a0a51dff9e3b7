"""The report (`qbittorrent-monitor report`, /api/report) and the ratio collector wired into App."""

from __future__ import annotations

import json
import subprocess
import sys

from exporter.app import App
from exporter.config import build_settings
from exporter.qbt.connection import QBittorrentError
from exporter.qbt.mirror import Backoff, Mirror
from exporter.report import build_report, format_report
from exporter.sandbox import free_port
from tests.kit.builders import tracker_url
from tests.kit.fakes import Clock, FakeConnection
from tests.kit.seeding import ALLOCATION, ALLOCATION_TRACKERS, DOCSTRING, POLICIES, SETTINGS, snapshot_of

CONFIG = """\
trackers:
  default: {min_seed_time: 72h}
  g.example: {min_ratio: 0.6, points: {model: gazelle}, reported_points_per_hour: 0.25}
seeding: {upload_capacity: 2.5MiB}
"""


def test_report_data_and_text():
    snap = snapshot_of(ALLOCATION, ALLOCATION_TRACKERS, server={"up_rate_limit": 2 * 1024**2})
    report = build_report(snap, POLICIES, SETTINGS, limit=2)
    slots = report["seeding_slots"]
    assert (slots["active"], slots["recommended"], slots["candidates"], slots["owing_seed_time"]) == (
        3,
        2,
        5,
        2,
    )
    assert slots["upload_capacity_bytes_per_second"] == 2 * 1024**2
    assert [s["name"] for s in report["slots"]] == ["owes", "owes-stopped"]
    assert [s["rank"] for s in report["slots"]] == [1, 2]
    assert report["slots_total"] == 2 and report["release_total"] == 2
    assert [s["name"] for s in report["release"]] == ["valuable", "crowded"]
    (tracker,) = report["trackers"]
    assert tracker["tracker"] == "g.example" and tracker["model"] == "gazelle"
    json.dumps(report, allow_nan=False)  # strict JSON: no Infinity/NaN anywhere

    text = format_report(report)
    assert "Seeding slots: 3 active, 2 recommended (2 MiB/s upload capacity / 1 MiB/s per seed = 2)" in text
    assert "     2. bbbbbbbbbbbbbbbb  owes-stopped  [stoppedUP]  owes 2d 23h more seeding" in text
    assert "g.example: " in text and "points/h (gazelle)" in text and "site says 0.25" in text
    assert "Active now but not recommended (could be queued):" in text
    assert "SECRET" not in text + json.dumps(report)  # tracker URLs carry passkeys: hosts only


def test_report_limit_zero_shows_everything_and_infinite_ratio_is_null():
    snap = snapshot_of({"a": ALLOCATION["c" * 40]}, {"g.example": ["a"]})
    report = build_report(snap, POLICIES, SETTINGS, limit=0)
    assert report["trackers"][0]["ratio"] is None and report["trackers"][0]["uploaded_bytes"] == 0
    many = snapshot_of(ALLOCATION, ALLOCATION_TRACKERS)
    assert (
        len(build_report(many, POLICIES, SETTINGS, limit=0)["slots"])
        == build_report(many, POLICIES, SETTINGS)["slots_total"]
    )
    only_up = snapshot_of({"a": {**ALLOCATION["c" * 40], "uploaded": 5}}, {"g.example": ["a"]})
    assert "ratio inf" in format_report(build_report(only_up, POLICIES, SETTINGS))


def payload():
    return {
        "rid": 1,
        "full_update": True,
        "server_state": {"up_rate_limit": 0},
        "torrents": DOCSTRING,
        "trackers": {tracker_url("g.example"): list(DOCSTRING)},
    }


def app_with(tmp_path, answers):
    cfg = tmp_path / "c.yml"
    cfg.write_text(CONFIG)
    clock = Clock()
    mirror = Mirror(FakeConnection(answers), clock=clock, monotonic=clock, connect_backoff=Backoff(1, 30))
    return App(build_settings({"qbittorrent.name": "q"}, {}, str(cfg)), mirror=mirror), clock


def test_api_report_route(tmp_path):
    app, clock = app_with(tmp_path, [payload()])
    status, ctype, body, _ = app.routes["/api/report"]({"limit": "1"}, {})
    assert status == 200 and ctype == "application/json"
    report = json.loads(body)
    assert report["seeding_slots"]["recommended"] == 3  # ceil(2.5 MiB/s / 1 MiB/s), from the seeding: section
    assert len(report["slots"]) == 1 and report["slots_total"] == 3
    assert report["trackers"][0]["reported_points_per_hour"] == 0.25
    assert app.routes["/api/report"]({"limit": "-1"}, {})[0] == 400
    assert app.routes["/api/report"]({"limit": "many"}, {})[0] == 400


def test_api_report_when_qbittorrent_is_down(tmp_path):
    app, _ = app_with(tmp_path, [QBittorrentError("connection", "cannot connect to qBittorrent")])
    status, _, body, _ = app.routes["/api/report"]({}, {})
    assert status == 503 and json.loads(body) == {
        "error": "qBittorrent is not reachable: cannot connect to qBittorrent"
    }


def test_metrics_endpoint_includes_the_ratio_collector(tmp_path):
    app, clock = app_with(tmp_path, [payload(), {"rid": 2}])
    _, _, body, _ = app.routes["/metrics"]({}, {})
    text = body.decode()
    assert (
        'qbittorrent_bonus_points_per_hour{model="gazelle",qbittorrent="q",tracker="g.example"} 0.434352'
        in text
    )
    assert 'qbittorrent_exporter_collector_success{collector="ratio",qbittorrent="q"} 1.0' in text
    assert 'qbittorrent_seeding_slots_recommended{qbittorrent="q"} 3.0' in text
    assert "SECRET" not in text
    clock.now += 5
    assert (
        'qbittorrent_seeding_slots_active{qbittorrent="q"} 2.0' in app.routes["/metrics"]({}, {})[2].decode()
    )  # same index, next scrape


def test_report_command_fails_loudly_when_qbittorrent_is_unreachable():
    port = free_port()  # nothing listens there
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter.cli",
            "report",
            "--qbittorrent.url",
            f"http://127.0.0.1:{port}",
            "--qbittorrent.password",
            "hunter2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "cannot read qBittorrent: cannot connect to qBittorrent" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
