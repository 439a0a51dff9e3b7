"""RatioCollector through a private CollectorRegistry: values, absent series, exact exposition,
promtool lint."""

from __future__ import annotations

import math
import subprocess

from prometheus_client import CollectorRegistry, generate_latest

from exporter.collectors.ratio import RatioCollector
from exporter.config.policy import parse_trackers
from exporter.managers.policy import SeedingSettings
from exporter.managers.ratio_index import SharedRatioIndex
from tests.kit import versions
from tests.kit.seeding import DOCSTRING, HOUR, seed, snapshot_of

POLICIES = parse_trackers(
    {
        "default": {"min_seed_time": "72h"},
        "tracker.example.org": {
            "min_ratio": 0.6,
            "points": {"model": "gazelle"},
            "reported_points_per_hour": 0.25,
        },
    }
)
SETTINGS = SeedingSettings(upload_capacity=3 * 1024**2, idle_window=6 * HOUR)

EXPECTED = """\
# HELP qbittorrent_bonus_points_per_hour Estimated bonus points earned per hour on the tracker, by the policy's points model.
# TYPE qbittorrent_bonus_points_per_hour gauge
qbittorrent_bonus_points_per_hour{model="gazelle",tracker="tracker.example.org"} 0.434352
# HELP qbittorrent_bonus_points_estimate_error_ratio (estimate - reported) / reported points per hour, for trackers with reported_points_per_hour.
# TYPE qbittorrent_bonus_points_estimate_error_ratio gauge
qbittorrent_bonus_points_estimate_error_ratio{tracker="tracker.example.org"} 0.7374080000000001
# HELP qbittorrent_tracker_ratio Uploaded / downloaded bytes of the tracker's torrents present now (+Inf: nothing downloaded).
# TYPE qbittorrent_tracker_ratio gauge
qbittorrent_tracker_ratio{tracker="tracker.example.org"} 2.0
# HELP qbittorrent_tracker_min_ratio The tracker's minimum ratio, from the policy.
# TYPE qbittorrent_tracker_min_ratio gauge
qbittorrent_tracker_min_ratio{tracker="tracker.example.org"} 0.6
# HELP qbittorrent_hnr_risk_torrents Completed torrents below the tracker's min_seed_time that are not seeding (stopped, queued, errored).
# TYPE qbittorrent_hnr_risk_torrents gauge
qbittorrent_hnr_risk_torrents{tracker="tracker.example.org"} 1.0
# HELP qbittorrent_seeding_torrents_idle Seeding torrents with no upload activity for longer than seeding.idle_window.
# TYPE qbittorrent_seeding_torrents_idle gauge
qbittorrent_seeding_torrents_idle{tracker="tracker.example.org"} 1.0
# HELP qbittorrent_tracker_seeding_torrents Complete torrents seeding now.
# TYPE qbittorrent_tracker_seeding_torrents gauge
qbittorrent_tracker_seeding_torrents{tracker="tracker.example.org"} 2.0
# HELP qbittorrent_tracker_seeds_uploading_ratio Fraction of the tracker's seeding torrents uploading right now.
# TYPE qbittorrent_tracker_seeds_uploading_ratio gauge
qbittorrent_tracker_seeds_uploading_ratio{tracker="tracker.example.org"} 0.5
# HELP qbittorrent_tracker_upload_efficiency_ratio Bytes uploaded per byte stored, over the tracker's torrents present now.
# TYPE qbittorrent_tracker_upload_efficiency_ratio gauge
qbittorrent_tracker_upload_efficiency_ratio{tracker="tracker.example.org"} 1.5
# HELP qbittorrent_seeding_slots_active Complete torrents seeding now.
# TYPE qbittorrent_seeding_slots_active gauge
qbittorrent_seeding_slots_active 2.0
# HELP qbittorrent_seeding_slots_recommended Seeding slots recommended for the upload capacity (see /api/report for which torrents).
# TYPE qbittorrent_seeding_slots_recommended gauge
qbittorrent_seeding_slots_recommended 3.0
# HELP qbittorrent_seeding_misallocated_torrents Queued or stopped seeds worth more than the lowest-value active seed.
# TYPE qbittorrent_seeding_misallocated_torrents gauge
qbittorrent_seeding_misallocated_torrents 1.0
"""


def registry_for(snap, policies=POLICIES, settings=SETTINGS):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RatioCollector(snap, SharedRatioIndex(policies, settings)))
    return registry


def docstring_snapshot():
    return snapshot_of(DOCSTRING, {"tracker.example.org": list(DOCSTRING)})


def test_exact_exposition_of_the_docstring_scenario():
    text = generate_latest(registry_for(docstring_snapshot())).decode()
    assert text == EXPECTED
    assert "SECRET" not in text and "announce" not in text  # tracker URLs carry passkeys: hosts only


def test_exposition_passes_promtool_lint(prometheus_version):
    promtool = versions.prometheus(prometheus_version, "promtool")  # prom-2 and prom-3: both lint it
    text = generate_latest(registry_for(docstring_snapshot())).decode()
    check = subprocess.run(
        [*promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), check.stdout + check.stderr


def test_values_per_tracker_and_the_default_policy():
    torrents = {
        "a": seed(uploaded=5),
        "b": seed(state="stoppedUP", seeding_time=HOUR),
        "c": seed(state="stoppedUP"),
    }
    snap = snapshot_of(torrents, {"tracker.example.org": ["a"], "other.example": ["b", "c"]})
    r = registry_for(snap)
    assert r.get_sample_value("qbittorrent_tracker_ratio", {"tracker": "tracker.example.org"}) == math.inf
    assert (
        r.get_sample_value(
            "qbittorrent_bonus_points_per_hour", {"tracker": "other.example", "model": "linear"}
        )
        == 0.0
    )
    assert r.get_sample_value("qbittorrent_tracker_min_ratio", {"tracker": "other.example"}) == 1.0
    assert r.get_sample_value("qbittorrent_hnr_risk_torrents", {"tracker": "other.example"}) == 2
    assert r.get_sample_value("qbittorrent_hnr_risk_torrents", {"tracker": "tracker.example.org"}) == 0


def test_series_without_a_meaningful_value_are_absent():
    snap = snapshot_of({"b": seed(state="stoppedUP", size=0)}, {"other.example": ["b"]})
    r = registry_for(snap)
    labels = {"tracker": "other.example"}
    assert r.get_sample_value("qbittorrent_tracker_ratio", labels) is None  # neither uploaded nor downloaded
    assert (
        r.get_sample_value("qbittorrent_bonus_points_estimate_error_ratio", labels) is None
    )  # nothing reported
    assert r.get_sample_value("qbittorrent_tracker_seeds_uploading_ratio", labels) is None  # no seeds
    assert r.get_sample_value("qbittorrent_tracker_upload_efficiency_ratio", labels) is None  # nothing stored
    assert r.get_sample_value("qbittorrent_tracker_seeding_torrents", labels) == 0  # counts stay, as zeros


def test_no_torrents_still_shows_the_slot_gauges():
    r = registry_for(snapshot_of({}))
    assert r.get_sample_value("qbittorrent_seeding_slots_active") == 0
    assert r.get_sample_value("qbittorrent_seeding_slots_recommended") == 0
    assert r.get_sample_value("qbittorrent_seeding_misallocated_torrents") == 0
    assert (
        r.get_sample_value("qbittorrent_bonus_points_per_hour", {"tracker": "x", "model": "linear"}) is None
    )


def test_one_index_serves_every_scrape_and_an_older_now_does_not_start_it_over():
    shared = SharedRatioIndex(POLICIES, SETTINGS)
    first, second = RatioCollector(docstring_snapshot(), shared), RatioCollector(snapshot_of({}), shared)
    assert first.index is second.index is shared
    assert first.name == "ratio"
    shared.view(
        docstring_snapshot(), now=docstring_snapshot().taken_at + 60
    )  # the control job's clock, later
    assert shared.index._now == docstring_snapshot().taken_at + 60
    shared.view(
        docstring_snapshot()
    )  # a scrape of the same snapshot: its (older) time must not reset the index
    assert shared.index._now == docstring_snapshot().taken_at + 60
    r = CollectorRegistry(auto_describe=False)
    r.register(first)
    assert r.get_sample_value("qbittorrent_seeding_slots_active") == 2
