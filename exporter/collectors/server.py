"""qBittorrent's own state: version, transfer totals and speeds, free space, DHT, connection.

Expected exposition (values from tests/golden/metrics.prom):

    qbittorrent_info{libtorrent="2.0.8.0",version="v4.5.2",webapi_version="2.8.19"} 1.0
    qbittorrent_alltime_uploaded_bytes_total 1.2e+10
    qbittorrent_upload_speed_bytes 524288.0
    qbittorrent_global_ratio 1.5            (absent while qBittorrent reports "-")
    qbittorrent_connection_status{status="connected"} 1.0
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from ..model import Snapshot
from .family import Gauge

CONNECTION_STATUSES = ("connected", "firewalled", "disconnected")

# (metric name without _total, ServerState field, help)
COUNTERS = (
    ("qbittorrent_alltime_uploaded_bytes", "alltime_ul", "Bytes uploaded over qBittorrent's lifetime."),
    ("qbittorrent_alltime_downloaded_bytes", "alltime_dl", "Bytes downloaded over qBittorrent's lifetime."),
    ("qbittorrent_session_uploaded_bytes", "up_info_data", "Bytes uploaded since qBittorrent started."),
    ("qbittorrent_session_downloaded_bytes", "dl_info_data", "Bytes downloaded since qBittorrent started."),
    (
        "qbittorrent_session_wasted_bytes",
        "total_wasted_session",
        "Bytes wasted (discarded) since qBittorrent started.",
    ),
)
GAUGES = (
    ("qbittorrent_upload_speed_bytes", "up_info_speed", "Current upload speed in bytes per second."),
    ("qbittorrent_download_speed_bytes", "dl_info_speed", "Current download speed in bytes per second."),
    (
        "qbittorrent_upload_rate_limit_bytes",
        "up_rate_limit",
        "Global upload limit in bytes per second (0 = none).",
    ),
    (
        "qbittorrent_download_rate_limit_bytes",
        "dl_rate_limit",
        "Global download limit in bytes per second (0 = none).",
    ),
    (
        "qbittorrent_global_ratio",
        "global_ratio",
        "All-time share ratio; absent while qBittorrent reports '-'.",
    ),
    ("qbittorrent_free_space_bytes", "free_space_on_disk", "Free space on the default save path's disk."),
    ("qbittorrent_dht_nodes", "dht_nodes", "DHT nodes connected."),
    ("qbittorrent_peer_connections", "total_peer_connections", "Peer connections open."),
    ("qbittorrent_queued_io_jobs", "queued_io_jobs", "Disk I/O jobs waiting."),
)


class ServerCollector:
    name = "server"

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        info = Gauge(
            "qbittorrent_info",
            "qBittorrent version information; always 1.",
            labels=["version", "webapi_version", "libtorrent"],
        )
        info.add_metric([s.app.version, s.app.webapi_version, s.app.libtorrent], 1)
        yield info
        server = s.server
        for name, attr, doc in COUNTERS:
            value = getattr(server, attr)
            if value is not None:
                yield CounterMetricFamily(name, doc, value=value)
        for name, attr, doc in GAUGES:
            value = getattr(server, attr)
            if value is not None:
                yield Gauge(name, doc, value=value)
        status = Gauge(
            "qbittorrent_connection_status",
            "1 for qBittorrent's current connection status, 0 for the others.",
            labels=["status"],
        )
        for name in CONNECTION_STATUSES:
            status.add_metric([name], 1 if server.connection_status == name else 0)
        yield status
        yield Gauge(
            "qbittorrent_alt_speed_limits_enabled",
            "1 while the alternative speed limits are on.",
            value=int(server.use_alt_speed_limits),
        )
        yield Gauge(
            "qbittorrent_queueing_enabled",
            "1 while qBittorrent's torrent queueing is on.",
            value=int(server.queueing),
        )
