"""Per-tracker ratio, bonus-point estimate, hit-and-run risk, idle seeds, upload efficiency, seeding slots.

Expected exposition (tests/unit/test_ratio_collector.py: one tracker with `points: {model: gazelle}`,
`reported_points_per_hour: 0.25`, min_ratio 0.6, min_seed_time 72h; an uploading seed, an idle seed and
a stopped one still owing seed time; upload_capacity 3 MiB/s):

    qbittorrent_bonus_points_per_hour{model="gazelle",tracker="tracker.example.org"} 0.434352
    qbittorrent_bonus_points_estimate_error_ratio{tracker="tracker.example.org"} 0.7374080000000001
    qbittorrent_tracker_ratio{tracker="tracker.example.org"} 2.0     (+Inf: only uploaded; absent: neither)
    qbittorrent_tracker_min_ratio{tracker="tracker.example.org"} 0.6
    qbittorrent_hnr_risk_torrents{tracker="tracker.example.org"} 1.0
    qbittorrent_seeding_torrents_idle{tracker="tracker.example.org"} 1.0
    qbittorrent_tracker_seeding_torrents{tracker="tracker.example.org"} 2.0
    qbittorrent_tracker_seeds_uploading_ratio{tracker="tracker.example.org"} 0.5      (absent without seeds)
    qbittorrent_tracker_upload_efficiency_ratio{tracker="tracker.example.org"} 1.5    (absent when size is 0)
    qbittorrent_seeding_slots_active 2.0
    qbittorrent_seeding_slots_recommended 3.0
    qbittorrent_seeding_misallocated_torrents 1.0

The error ratio is present only for trackers with `reported_points_per_hour`. Definitions are in
exporter/managers/facts.py; the numbers come from the mirror's SharedRatioIndex, which lives as long as the
service (the control job reads the same one), so a scrape costs O(changed torrents) plus one identity
pass, not a walk of every torrent's fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter

from prometheus_client.core import Metric

from ..managers.ratio_index import RatioView, SharedRatioIndex
from ..model import Snapshot
from .family import Gauge

# (name, TrackerStats attribute, help); a None value leaves the tracker's series out.
PER_TRACKER = (
    (
        "qbittorrent_tracker_ratio",
        "ratio",
        "Uploaded / downloaded bytes of the tracker's torrents present now (+Inf: nothing downloaded).",
    ),
    ("qbittorrent_tracker_min_ratio", "min_ratio", "The tracker's minimum ratio, from the policy."),
    (
        "qbittorrent_hnr_risk_torrents",
        "hnr_risk",
        "Completed torrents below the tracker's min_seed_time that are not seeding (stopped, queued, "
        "errored).",
    ),
    (
        "qbittorrent_seeding_torrents_idle",
        "idle",
        "Seeding torrents with no upload activity for longer than seeding.idle_window.",
    ),
    ("qbittorrent_tracker_seeding_torrents", "seeding", "Complete torrents seeding now."),
    (
        "qbittorrent_tracker_seeds_uploading_ratio",
        "uploading_fraction",
        "Fraction of the tracker's seeding torrents uploading right now.",
    ),
    (
        "qbittorrent_tracker_upload_efficiency_ratio",
        "upload_efficiency",
        "Bytes uploaded per byte stored, over the tracker's torrents present now.",
    ),
)


class RatioCollector:
    name = "ratio"

    def __init__(self, snapshot: Snapshot, index: SharedRatioIndex) -> None:
        self.snapshot = snapshot
        self.index = index

    def collect(self) -> Iterator[Metric]:
        yield from families(self.index.view(self.snapshot))


def families(view: RatioView) -> Iterator[Metric]:
    points = Gauge(
        "qbittorrent_bonus_points_per_hour",
        "Estimated bonus points earned per hour on the tracker, by the policy's points model.",
        labels=["tracker", "model"],
    )
    error = Gauge(
        "qbittorrent_bonus_points_estimate_error_ratio",
        "(estimate - reported) / reported points per hour, for trackers with reported_points_per_hour.",
        labels=["tracker"],
    )
    for s in view.trackers:
        points.add_metric([s.tracker, s.model], s.points_per_hour)
        if s.estimate_error is not None:
            error.add_metric([s.tracker], s.estimate_error)
    yield points
    yield error
    for name, attr, doc in PER_TRACKER:
        family = Gauge(name, doc, labels=["tracker"])
        pick = attrgetter("tracker", attr)
        family.add_rows([((host,), value) for host, value in map(pick, view.trackers) if value is not None])
        yield family
    yield Gauge("qbittorrent_seeding_slots_active", "Complete torrents seeding now.", value=view.active)
    yield Gauge(
        "qbittorrent_seeding_slots_recommended",
        "Seeding slots recommended for the upload capacity (see /api/report for which torrents).",
        value=view.recommended,
    )
    yield Gauge(
        "qbittorrent_seeding_misallocated_torrents",
        "Queued or stopped seeds worth more than the lowest-value active seed.",
        value=view.misallocated,
    )
