"""The tracker health and tracker scan collectors through a private CollectorRegistry: the exact
exposition of their docstring's example, promtool lint, and what is shown while qBittorrent is down."""

from __future__ import annotations

import subprocess

from prometheus_client import CollectorRegistry, generate_latest

from exporter.app import App
from exporter.collectors.trackers import TrackerHealthCollector, TrackerScanCollector
from exporter.config import build_settings
from exporter.managers.policy import TrackerScanPolicy
from exporter.model import AppInfo
from exporter.qbt.tracker_scan import TrackerScan
from tests.kit import versions
from tests.kit.builders import downloading, snapshot, tracker_url
from tests.kit.fakes import Clock, FakeConnection, FakeMirror

T0 = 3_000_000.0


def example():
    """The docstring's example: a.example with h1 working and h2 unregistered; h3 never fetched (the
    first run's budget reaches two torrents); read 10 minutes later."""
    clock = Clock(T0)
    conn = FakeConnection()
    conn.trackers = {
        "h1": [{"url": tracker_url("a.example"), "status": 2, "msg": ""}],
        "h2": [{"url": tracker_url("a.example"), "status": 4, "msg": "Unregistered torrent"}],
    }
    scan = TrackerScan(conn, TrackerScanPolicy(requests_per_second=5, interval=0.4), "qb", clock)
    torrents = [downloading(h, tracker="a.example", trackers=("a.example",)) for h in ("h1", "h2", "h3")]
    snap = snapshot(*torrents, taken_at=T0, instance="qb", app=AppInfo("v4.5.2", "2.8.19"))

    def wait(seconds: float) -> bool:
        clock.now += seconds
        return False

    scan.run(snap, wait)
    clock.now = T0 + 600
    return scan, snap, clock


EXPECTED = """\
# HELP qbittorrent_tracker_announce_torrents Torrents by the announce status of their tracker on this host, as the tracker scan last saw it (a torrent counts once per host).
# TYPE qbittorrent_tracker_announce_torrents gauge
qbittorrent_tracker_announce_torrents{status="disabled",tracker="a.example"} 0.0
qbittorrent_tracker_announce_torrents{status="not_contacted",tracker="a.example"} 0.0
qbittorrent_tracker_announce_torrents{status="working",tracker="a.example"} 1.0
qbittorrent_tracker_announce_torrents{status="updating",tracker="a.example"} 0.0
qbittorrent_tracker_announce_torrents{status="not_working",tracker="a.example"} 1.0
qbittorrent_tracker_announce_torrents{status="error",tracker="a.example"} 0.0
qbittorrent_tracker_announce_torrents{status="unreachable",tracker="a.example"} 0.0
# HELP qbittorrent_tracker_problem_torrents Torrents whose tracker on this host reports a problem, by reason: unregistered, unauthorized, down, other.
# TYPE qbittorrent_tracker_problem_torrents gauge
qbittorrent_tracker_problem_torrents{reason="unauthorized",tracker="a.example"} 0.0
qbittorrent_tracker_problem_torrents{reason="unregistered",tracker="a.example"} 1.0
qbittorrent_tracker_problem_torrents{reason="down",tracker="a.example"} 0.0
qbittorrent_tracker_problem_torrents{reason="other",tracker="a.example"} 0.0
# HELP qbittorrent_exporter_tracker_scan_stale_torrents Torrents without tracker data, or with data older than tracker_scan.stale_after.
# TYPE qbittorrent_exporter_tracker_scan_stale_torrents gauge
qbittorrent_exporter_tracker_scan_stale_torrents 1.0
# HELP qbittorrent_exporter_tracker_scan_oldest_age_seconds Age of the oldest tracker data the scan keeps.
# TYPE qbittorrent_exporter_tracker_scan_oldest_age_seconds gauge
qbittorrent_exporter_tracker_scan_oldest_age_seconds 600.0
# HELP qbittorrent_exporter_tracker_scan_backlog_torrents Torrents due for a fetch that the last scan run's request budget could not reach.
# TYPE qbittorrent_exporter_tracker_scan_backlog_torrents gauge
qbittorrent_exporter_tracker_scan_backlog_torrents 1.0
# HELP qbittorrent_exporter_tracker_scan_source 1 for the way the scan reads tracker lists now (flagged: 5.2+ announce flags, include_trackers: 5.1+ torrents/info, per_torrent: torrents/trackers one by one), 0 for the others.
# TYPE qbittorrent_exporter_tracker_scan_source gauge
qbittorrent_exporter_tracker_scan_source{source="flagged"} 0.0
qbittorrent_exporter_tracker_scan_source{source="include_trackers"} 0.0
qbittorrent_exporter_tracker_scan_source{source="per_torrent"} 1.0
# HELP qbittorrent_exporter_tracker_scan_requests_total Requests the tracker scan made to qBittorrent, by kind: torrent (torrents/trackers), hashes and page (torrents/info?includeTrackers).
# TYPE qbittorrent_exporter_tracker_scan_requests_total counter
qbittorrent_exporter_tracker_scan_requests_total{kind="hashes"} 0.0
qbittorrent_exporter_tracker_scan_requests_total{kind="page"} 0.0
qbittorrent_exporter_tracker_scan_requests_total{kind="torrent"} 2.0
# HELP qbittorrent_exporter_tracker_scan_request_errors_total Tracker scan requests that failed, by reason (each ends its run).
# TYPE qbittorrent_exporter_tracker_scan_request_errors_total counter
qbittorrent_exporter_tracker_scan_request_errors_total{reason="auth"} 0.0
qbittorrent_exporter_tracker_scan_request_errors_total{reason="banned"} 0.0
qbittorrent_exporter_tracker_scan_request_errors_total{reason="connection"} 0.0
qbittorrent_exporter_tracker_scan_request_errors_total{reason="http"} 0.0
qbittorrent_exporter_tracker_scan_request_errors_total{reason="response"} 0.0
qbittorrent_exporter_tracker_scan_request_errors_total{reason="timeout"} 0.0
qbittorrent_exporter_tracker_scan_request_errors_total{reason="tls"} 0.0
"""


def exposition() -> str:
    scan, snap, clock = example()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TrackerHealthCollector(snap, scan, clock))
    registry.register(TrackerScanCollector(scan, clock))
    return generate_latest(registry).decode()


def test_exposition_is_exactly_the_documented_one():
    assert exposition() == EXPECTED


def test_exposition_passes_promtool_lint(prometheus_version):
    promtool = versions.prometheus(prometheus_version, "promtool")  # prom-2 and prom-3: both lint it
    out = subprocess.run(
        [*promtool, "check", "metrics"], input=exposition(), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_an_app_shows_the_scans_own_series_while_qbittorrent_is_down(tmp_path):
    app = App(build_settings({"data.dir": str(tmp_path)}, {}), mirror=FakeMirror(None))
    [name] = app.instances
    names = {f.name for f in app.registry({name: None}).collect()}
    assert "qbittorrent_exporter_tracker_scan_stale_torrents" in names
    assert "qbittorrent_tracker_announce_torrents" not in names  # qBittorrent's state: only while up
    off = tmp_path / "off.yml"
    off.write_text("tracker_scan: {enabled: false}\n")
    app = App(build_settings({"data.dir": str(tmp_path)}, {}, str(off)), mirror=FakeMirror(None))
    assert app.actions is None
    assert not any("tracker_scan" in f.name for f in app.registry({name: None}).collect())
