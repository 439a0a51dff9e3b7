"""Torrent counts and totals by state/status/category and by tracker host.

    qbittorrent_torrents{category="movies",state="uploading",status="seeding"} 3.0
    qbittorrent_tracker_torrents{tracker="tracker.example.org"} 3.0
    qbittorrent_category_size_bytes{category="movies"} 3.2e+09
    qbittorrent_tracker_uploaded_bytes{tracker="tracker.example.org"} 6.4e+09

These read only the totals the mirror keeps up to date incrementally, so their cost does not grow
with the number of torrents. Per-torrent series (PerTorrentCollector) are opt-in.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from ..managers.state import state_counts
from ..model import Snapshot
from .family import Gauge

GROUP_METRICS = (
    ("size_bytes", "size", "Total size (selected files) of the {what}'s torrents."),
    (
        "uploaded_bytes",
        "uploaded",
        "Bytes uploaded by the {what}'s torrents present now (drops when they are removed).",
    ),
    (
        "downloaded_bytes",
        "downloaded",
        "Bytes downloaded by the {what}'s torrents present now (drops when they are removed).",
    ),
)


class TorrentsCollector:
    name = "torrents"

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        counts = Gauge(
            "qbittorrent_torrents",
            'Torrents by state (5.x names), coarse status and category ("" = uncategorised).',
            labels=["state", "status", "category"],
        )
        counts.add_rows(sorted(state_counts(s.by_state_category, s.categories).items()))
        yield counts

        trackers = Gauge(
            "qbittorrent_tracker_torrents",
            "Torrents per tracker host (a torrent counts once per host it uses).",
            labels=["tracker"],
        )
        hosts = sorted(s.by_tracker.items())
        trackers.add_rows([((host,), group.torrents) for host, group in hosts])
        yield trackers

        for label, groups in (("category", s.by_category), ("tracker", s.by_tracker)):
            for suffix, attr, doc in GROUP_METRICS:
                family = Gauge(f"qbittorrent_{label}_{suffix}", doc.format(what=label), labels=[label])
                family.add_rows([((key,), getattr(group, attr)) for key, group in sorted(groups.items())])
                yield family

        yield Gauge("qbittorrent_categories", "Categories defined.", value=len(s.categories))
        yield Gauge("qbittorrent_tags", "Tags defined.", value=len(s.tags))


class PerTorrentCollector:
    """One series per torrent, keyed by `hash`; the name and other text only in qbittorrent_torrent_info."""

    name = "per_torrent"

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        torrents = sorted(self.snapshot.torrents.values(), key=lambda t: t.hash)
        info = Gauge(
            "qbittorrent_torrent_info",
            "One per torrent: its name, category, state and tracker host; always 1.",
            labels=["hash", "name", "category", "state", "tracker"],
        )
        for t in torrents:
            info.add_metric([t.hash, t.name, t.category, t.state, t.primary_tracker], 1)
        yield info
        for name, attr, doc, kind in PER_TORRENT:
            family = (CounterMetricFamily if kind == "counter" else Gauge)(name, doc, labels=["hash"])
            for t in torrents:
                family.add_metric([t.hash], getattr(t, attr))
            yield family


PER_TORRENT = (
    ("qbittorrent_torrent_size_bytes", "size", "Size of the selected files.", "gauge"),
    ("qbittorrent_torrent_progress_ratio", "progress", "Download progress, 0 to 1.", "gauge"),
    (
        "qbittorrent_torrent_uploaded_bytes",
        "uploaded",
        "Bytes uploaded over the torrent's lifetime.",
        "counter",
    ),
    (
        "qbittorrent_torrent_downloaded_bytes",
        "downloaded",
        "Bytes downloaded over the torrent's lifetime.",
        "counter",
    ),
    ("qbittorrent_torrent_upload_speed_bytes", "upspeed", "Upload speed in bytes per second.", "gauge"),
    ("qbittorrent_torrent_download_speed_bytes", "dlspeed", "Download speed in bytes per second.", "gauge"),
    ("qbittorrent_torrent_ratio", "ratio", "Share ratio.", "gauge"),
    ("qbittorrent_torrent_seeding_time_seconds", "seeding_time", "Time spent seeding.", "gauge"),
    ("qbittorrent_torrent_seeders", "num_seeds", "Seeds connected.", "gauge"),
    ("qbittorrent_torrent_leechers", "num_leechs", "Leechers connected.", "gauge"),
)
