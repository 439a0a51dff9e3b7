"""Ratio, points, hit-and-run and seeding-slot gauges for real torrents on real qbittorrent-nox (127.0.0.1).

Instance A seeds a 4 MiB torrent; instance B downloads it from A (a real transfer) and then seeds it. B also
holds an 8 MiB torrent it seeded from disk and then stopped before its 72h: a hit-and-run risk, and worth
more than the seed that is active. The exporter, the `report` command and /api/report all run against B.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from exporter.sandbox import make_payload, make_torrent
from tests.kit.processes import http_get, sample, wait_for
from tests.kit.torrents import torrent_of

pytestmark = pytest.mark.integration

PASSKEY = "feedfaceSECRETPASSKEY"
MIB = 1024**2
TRACKER = f"http://127.0.0.1:1/{PASSKEY}/announce"  # nothing listens on port 1: announces fail at once

CONFIG = """\
trackers:
  default: {min_seed_time: 72h}
  127.0.0.1:
    min_ratio: 0.8
    points: {model: linear, per_torrent_hour: 1, per_gib_hour: 100}
    reported_points_per_hour: 2
seeding: {upload_capacity: 1MiB, idle_window: 1s, demand_weight: 0, scarcity_weight: 0}
"""


def transferred_and_stopped(qbt_factory, tmp_path):
    """(B, B's client, hash of the downloaded seed, hash of the stopped seed)."""
    a, b = qbt_factory("a"), qbt_factory("b")
    ca, cb = a.client(), b.client()
    shared = make_payload(tmp_path / "a-data", "shared.bin", 4 * MIB, seed=7)
    shared_torrent = make_torrent(shared, tmp_path / "shared.torrent", [TRACKER], private=True)
    ca.torrents_add(torrent_files=shared_torrent, save_path=str(shared.parent))
    h = wait_for(lambda: ca.torrents_info() and ca.torrents_info()[0]["hash"], what="A to know the torrent")
    wait_for(lambda: torrent_of(ca, h)["state"] in ("stalledUP", "uploading"), what="A to seed")

    cb.torrents_add(torrent_files=shared_torrent, save_path=str(b.downloads))
    wait_for(
        lambda: torrent_of(cb, h) and torrent_of(cb, h)["state"] not in ("checkingResumeData", "metaDL"),
        what="B to add it",
    )
    cb.torrents_add_peers(torrent_hashes=h, peers=[f"127.0.0.1:{a.bt_port}"])
    wait_for(
        lambda: (
            torrent_of(cb, h)["progress"] == 1 and torrent_of(cb, h)["state"] in ("stalledUP", "uploading")
        ),
        timeout=30,
        what="B to download from A and seed",
    )

    held = make_payload(tmp_path / "b-data", "held.bin", 8 * MIB, seed=8)
    cb.torrents_add(
        torrent_files=make_torrent(held, tmp_path / "held.torrent", [TRACKER], private=True),
        save_path=str(held.parent),
    )
    stopped = wait_for(
        lambda: next((t["hash"] for t in cb.torrents_info() if t["hash"] != h), None),
        what="B to know the second torrent",
    )
    wait_for(lambda: torrent_of(cb, stopped)["state"] in ("stalledUP", "uploading"), what="B to seed it")
    cb.torrents_pause(torrent_hashes=stopped)  # 4.5.2: pause (5.x: stop)
    wait_for(lambda: torrent_of(cb, stopped)["state"] in ("pausedUP", "stoppedUP"), what="B to stop it")
    return b, cb, h, stopped


def test_gauges_report_and_api_for_real_seeding_torrents(
    qbt_factory, password_file, exporter_factory, tmp_path
):
    b, cb, seeding, stopped = transferred_and_stopped(qbt_factory, tmp_path)
    cfg = tmp_path / "monitor.yml"
    cfg.write_text(CONFIG)
    args = [
        "--qbittorrent.url",
        b.url,
        "--qbittorrent.password-file",
        str(password_file),
        "--qbittorrent.min-sync-age",
        "0",
        "--config.file",
        str(cfg),
    ]
    exporter = exporter_factory(args)
    host = {"tracker": "127.0.0.1"}

    def settled():
        s = exporter.scrape()
        torrents = {t["hash"]: t for t in cb.torrents_info()}
        up = sum(t["uploaded"] for t in torrents.values())
        down = sum(t["downloaded"] for t in torrents.values())
        ok = sample(s, "qbittorrent_seeding_torrents_idle", **host) == 1 and sample(
            s, "qbittorrent_tracker_ratio", **host
        ) == pytest.approx(up / down)
        return (s, torrents) if ok else None

    s, torrents = wait_for(
        settled, timeout=20, what="the seed to go idle and the ratio to match qBittorrent's"
    )
    assert torrents[seeding]["downloaded"] >= 4 * MIB  # a real transfer happened

    # linear: 1/h per torrent + 100/h per GiB, only for the torrent seeding now (4 MiB); the stopped one earns
    # 0
    assert (
        sample(s, "qbittorrent_bonus_points_per_hour", tracker="127.0.0.1", model="linear")
        == 1 + 100 * 4 / 1024
    )
    assert sample(s, "qbittorrent_bonus_points_estimate_error_ratio", **host) == (1.390625 - 2) / 2
    assert sample(s, "qbittorrent_tracker_min_ratio", **host) == 0.8
    assert sample(s, "qbittorrent_hnr_risk_torrents", **host) == 1  # stopped before its 72h
    assert sample(s, "qbittorrent_tracker_seeding_torrents", **host) == 1
    assert (
        sample(s, "qbittorrent_tracker_seeds_uploading_ratio", **host) == 0
    )  # A is a seed: B uploads nothing
    assert sample(s, "qbittorrent_tracker_upload_efficiency_ratio", **host) == pytest.approx(
        sum(t["uploaded"] for t in torrents.values()) / (12 * MIB)
    )
    assert sample(s, "qbittorrent_seeding_slots_active") == 1
    assert sample(s, "qbittorrent_seeding_slots_recommended") == 2  # 1 MiB/s says 1; both still owe seed time
    assert sample(s, "qbittorrent_seeding_misallocated_torrents") == 1  # the stopped 8 MiB seed earns more
    assert sample(s, "qbittorrent_exporter_collector_success", collector="ratio") == 1

    status, body = http_get(exporter.url + "/api/report")
    assert status == 200
    report = json.loads(body)
    assert report["seeding_slots"]["recommended"] == 2 and report["seeding_slots"]["misallocated"] == 1
    assert [c["hash"] for c in report["slots"]] == [stopped, seeding]  # owing seeds, the 8 MiB one first
    assert report["slots"][0]["state"] == "stoppedUP"
    assert re.match(
        r"owes (3d|2d 23h) more seeding \(hit-and-run rule\); ~1\.781 points/h \(linear on 127\.0\.0\.1\)",
        report["slots"][0]["reason"],
    ), report["slots"][0]["reason"]
    assert report["trackers"][0]["tracker"] == "127.0.0.1"

    result = subprocess.run(
        [sys.executable, "-m", "exporter.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "Seeding slots: 1 active, 2 recommended" in result.stdout
    assert f"1. {stopped[:16]}  held.bin  [stoppedUP]  owes " in result.stdout
    assert f"2. {seeding[:16]}  shared.bin  [" in result.stdout
    assert "127.0.0.1: 1.391 points/h (linear) (site says 2, error -30.5%)" in result.stdout

    everything = (
        body + result.stdout + result.stderr + http_get(exporter.url + "/metrics")[1] + exporter.log()
    )
    assert PASSKEY not in everything and "SECRETPASSKEY" not in everything
