"""Tracker health per host, and how fresh the tracker scan's picture is (qbt/tracker_scan.py).

Expected exposition (tests/unit/test_tracker_collectors.py: host a.example with one working torrent and
one unregistered since 10 minutes; the scan follows three torrents, one never fetched):

    qbittorrent_tracker_announce_torrents{status="working",tracker="a.example"} 1.0   (every status)
    qbittorrent_tracker_announce_torrents{status="not_working",tracker="a.example"} 1.0
    qbittorrent_tracker_problem_torrents{reason="unregistered",tracker="a.example"} 1.0   (every reason)
    qbittorrent_exporter_tracker_scan_stale_torrents 1.0
    qbittorrent_exporter_tracker_scan_oldest_age_seconds 600.0    (absent before the first answer)
    qbittorrent_exporter_tracker_scan_backlog_torrents 0.0
    qbittorrent_exporter_tracker_scan_source{source="per_torrent"} 1.0             (0 for the others)
    qbittorrent_exporter_tracker_scan_requests_total{kind="torrent"} 2.0
    qbittorrent_exporter_tracker_scan_request_errors_total{reason="timeout"} 0.0   (every reason)

`status` is one of classify.ANNOUNCE_STATUSES (up to 5.1 `updating` is a status of its own; from 5.2 an
updating tracker keeps the status of its last announce), `reason` one of REASONS; a torrent counts once
per host, by the most reassuring of its URLs on that host (health.py). Only torrents the scan has data
for are counted: `_stale_torrents` says how many it has none (or only old data) for. The per-host series
are qBittorrent's state and shown only while it is reachable; the scan's own are always shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from ..managers.tracker_health import ANNOUNCE_STATUSES, REASONS, SOURCES
from ..model import Snapshot
from ..qbt.tracker_scan import ScanView, TrackerScan
from .family import Gauge


class TrackerHealthCollector:
    """qbittorrent_tracker_announce_torrents and _problem_torrents, per host."""

    name = "tracker_health"

    def __init__(self, snapshot: Snapshot, scan: TrackerScan, clock: Callable[[], float]) -> None:
        self.scan, self.clock = scan, clock

    def collect(self) -> Iterator[Metric]:
        view = self.scan.view(self.clock())
        announce = Gauge(
            "qbittorrent_tracker_announce_torrents",
            "Torrents by the announce status of their tracker on this host, as the tracker scan last saw "
            "it (a torrent counts once per host).",
            labels=["tracker", "status"],
        )
        problems = Gauge(
            "qbittorrent_tracker_problem_torrents",
            "Torrents whose tracker on this host reports a problem, by reason: unregistered, "
            "unauthorized, down, other.",
            labels=["tracker", "reason"],
        )
        for host in view.hosts:
            for status in ANNOUNCE_STATUSES:
                announce.add_metric([host.host, status], host.by_status.get(status, 0))
            for reason in REASONS:
                problems.add_metric([host.host, reason], host.by_reason.get(reason, 0))
        yield announce
        yield problems


class TrackerScanCollector:
    """The scan's own health: how fresh its data is, what it asked qBittorrent for."""

    name = "tracker_scan"

    def __init__(self, scan: TrackerScan, clock: Callable[[], float]) -> None:
        self.scan, self.clock = scan, clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from scan_families(self.scan.view(now), now)


def scan_families(view: ScanView, now: float) -> Iterator[Metric]:
    yield Gauge(
        "qbittorrent_exporter_tracker_scan_stale_torrents",
        "Torrents without tracker data, or with data older than tracker_scan.stale_after.",
        value=view.stale,
    )
    if view.oldest is not None:
        yield Gauge(
            "qbittorrent_exporter_tracker_scan_oldest_age_seconds",
            "Age of the oldest tracker data the scan keeps.",
            value=max(now - view.oldest, 0.0),
        )
    yield Gauge(
        "qbittorrent_exporter_tracker_scan_backlog_torrents",
        "Torrents due for a fetch that the last scan run's request budget could not reach.",
        value=view.stats.backlog,
    )
    source = Gauge(
        "qbittorrent_exporter_tracker_scan_source",
        "1 for the way the scan reads tracker lists now (flagged: 5.2+ announce flags, include_trackers: "
        "5.1+ torrents/info, per_torrent: torrents/trackers one by one), 0 for the others.",
        labels=["source"],
    )
    for s in SOURCES:
        source.add_metric([s], 1 if view.stats.source == s else 0)
    yield source
    requests = CounterMetricFamily(
        "qbittorrent_exporter_tracker_scan_requests",
        "Requests the tracker scan made to qBittorrent, by kind: torrent (torrents/trackers), hashes and "
        "page (torrents/info?includeTrackers).",
        labels=["kind"],
    )
    for kind, n in sorted(view.stats.requests.items()):
        requests.add_metric([kind], n)
    yield requests
    errors = CounterMetricFamily(
        "qbittorrent_exporter_tracker_scan_request_errors",
        "Tracker scan requests that failed, by reason (each ends its run).",
        labels=["reason"],
    )
    for reason, n in sorted(view.stats.errors.items()):
        errors.add_metric([reason], n)
    yield errors
