"""The problem torrents in the report (/api/report's `tracker_health`, the text report) and the `trackers`
command's one-off scan against a loopback Web API: name, tracker host, reason, since when, the message
redacted; never a URL."""

from __future__ import annotations

import json

from exporter.app import App
from exporter.cli import main
from exporter.config import build_settings
from exporter.managers.policy import TrackerScanPolicy
from exporter.model import AppInfo
from exporter.qbt.tracker_scan import TrackerScan, scan_once
from exporter.report import build_report, format_report
from tests.kit.builders import downloading, snapshot, tracker_url
from tests.kit.fakes import Clock, FakeConnection, FakeMirror
from tests.kit.qbt_fake import API_KEY, FakeQbt5
from tests.kit.seeding import POLICIES, SETTINGS

T0 = 1_760_000_000.0  # 2025-10-09 08:53:20Z
V45 = AppInfo("v4.5.2", "2.8.19")
SECRET_MESSAGE = "Unregistered torrent, see https://u.example/t.php?id=9&token=SECRET77"


def rows(status: int, msg: str = "", host: str = "u.example") -> list[dict]:
    return [{"url": tracker_url(host), "status": status, "msg": msg}]


def scanned():
    clock = Clock(T0)
    conn = FakeConnection()
    conn.trackers = {"h1": rows(2), "h2": rows(4, SECRET_MESSAGE), "h3": rows(4, "Connection timed out")}
    torrents = [downloading(h, tracker="u.example", trackers=("u.example",)) for h in ("h1", "h2", "h3")]
    snap = snapshot(*torrents, taken_at=T0, instance="qb", app=V45)
    scan = TrackerScan(conn, TrackerScanPolicy(), "qb", clock)
    scan.run(snap, lambda seconds: bool(setattr(clock, "now", clock.now + seconds)))
    return scan, snap, clock


def test_the_report_lists_each_problem_torrent_with_host_reason_and_since():
    scan, snap, clock = scanned()
    report = build_report(snap, POLICIES, SETTINGS, scan=scan, now=clock.now)
    health = report["tracker_health"]
    assert (health["source"], health["torrents"], health["stale"], health["problems_total"]) == (
        "per_torrent",
        3,
        0,
        2,
    )
    assert [(p["hash"], p["name"], p["tracker"], p["reason"]) for p in health["problems"]] == [
        ("h2", "name-h2", "u.example", "unregistered"),
        ("h3", "name-h3", "u.example", "down"),
    ]
    assert health["problems"][0]["since"] == T0 + 0.2
    text = format_report(report)
    assert (
        'h2  name-h2  u.example: unregistered since 2025-10-09 08:53:20Z ("Unregistered torrent, see' in text
    )
    assert "SECRET" not in json.dumps(report) + text and "announce" not in text
    assert build_report(snap, POLICIES, SETTINGS, limit=1, scan=scan)["tracker_health"]["problems_total"] == 2
    assert build_report(snap, POLICIES, SETTINGS)["tracker_health"] is None  # no scan, no section


def test_api_report_carries_the_services_scan(tmp_path):
    app = App(build_settings({"data.dir": str(tmp_path)}, {}), mirror=FakeMirror(scanned()[1]))
    [instance] = app.instances.values()
    status, _, body, _ = app.routes["/api/report"]({}, {})
    assert status == 200 and json.loads(body)["tracker_health"]["problems_total"] == 0  # nothing scanned yet
    off = tmp_path / "off.yml"
    off.write_text("tracker_scan: {enabled: false}\n")
    app = App(build_settings({"data.dir": str(tmp_path)}, {}, str(off)), mirror=FakeMirror(scanned()[1]))
    assert json.loads(app.routes["/api/report"]({}, {})[2])["tracker_health"] is None
    assert instance.scan is not None


def test_a_one_off_scan_gives_errored_and_stalled_torrents_first_within_its_budget():
    clock = Clock(T0)
    conn = FakeConnection()
    conn.trackers = {h: rows(2) for h in ("a", "b", "c", "d")}
    torrents = [
        downloading("a", state="downloading"),
        downloading("b", state="stalledDL"),
        downloading("c", state="uploading"),
        downloading("d", state="error"),
    ]
    snap = snapshot(*torrents, taken_at=T0, instance="qb", app=V45)
    scan, given = scan_once(
        conn, snap, TrackerScanPolicy(), 2, lambda s: bool(setattr(clock, "now", clock.now + s)), clock
    )
    assert given == 2 and conn.reads == [("torrent", "b"), ("torrent", "d")]
    assert clock.now - T0 <= 0.2 + 1e-6  # two requests at 5 per second


def test_the_trackers_command_lists_what_it_found(capsys):
    info = [
        {"hash": "abcd", "name": "x", "trackers": rows(4, SECRET_MESSAGE)},
    ]
    with FakeQbt5(routes={"/api/v2/torrents/info": info}) as server:
        argv = ["trackers", "--qbittorrent.url", server.url(), "--qbittorrent.api-key", API_KEY]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert main([*argv, "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        forms = [f for p, _, f in server.requests if p == "/api/v2/torrents/info"]
    assert "abcd  x  u.example: unregistered since" in out and "1 torrents" in out
    assert report["problems"][0]["reason"] == "unregistered" and report["source"] == "include_trackers"
    assert forms[0]["includeTrackers"] == "true"  # 5.1+: one page holds every torrent here
    assert "SECRET" not in out + json.dumps(report)


def test_the_trackers_command_fails_in_one_line_when_the_scan_cannot_read(capsys):
    with FakeQbt5() as server:  # no torrents/info route: 404
        assert main(["trackers", "--qbittorrent.url", server.url(), "--qbittorrent.api-key", API_KEY]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "tracker scan of" in err and "HTTP 404" in err
