"""The exporter's own health: qbittorrent_up and how syncing with qBittorrent goes.

qbittorrent_up 1.0
qbittorrent_exporter_sync_duration_seconds 0.004
qbittorrent_exporter_last_sync_timestamp_seconds 1.7e+09
qbittorrent_exporter_sync_errors_total{reason="timeout"} 0.0
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from ..model import SyncStats
from .family import Gauge


class ExporterCollector:
    name = "exporter"

    def __init__(self, stats: SyncStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        st = self.stats
        yield Gauge("qbittorrent_up", "1 if the last sync with qBittorrent succeeded.", value=int(st.up))
        yield Gauge(
            "qbittorrent_exporter_sync_duration_seconds",
            "Duration of the last sync with qBittorrent.",
            value=st.last_duration,
        )
        if st.last_success:
            yield Gauge(
                "qbittorrent_exporter_last_sync_timestamp_seconds",
                "Unix time of the last successful sync.",
                value=st.last_success,
            )
        errors = CounterMetricFamily(
            "qbittorrent_exporter_sync_errors", "Failed syncs with qBittorrent, by reason.", labels=["reason"]
        )
        for reason, n in sorted(st.errors.items()):
            errors.add_metric([reason], n)
        yield errors
        yield CounterMetricFamily(
            "qbittorrent_exporter_syncs", "Successful syncs (full and delta).", value=st.syncs
        )
        yield CounterMetricFamily(
            "qbittorrent_exporter_full_syncs",
            "Successful full syncs (first, periodic, and after errors).",
            value=st.full_syncs,
        )
