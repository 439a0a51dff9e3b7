"""Wires one running service: the mirror, the scrape handler, the HTTP server and the scheduled jobs."""

from __future__ import annotations

import logging
import threading
from typing import Callable, Mapping

from prometheus_client import disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from .actions.scheduler import build_actions
from .collectors import Collector, RegistryCollector, ScrapeCollector
from .collectors.exporter import ExporterCollector
from .collectors.ratio import RatioMetrics
from .collectors.server import ServerCollector
from .collectors.torrents import PerTorrentCollector, TorrentsCollector
from .config import Settings
from .model import Snapshot
from .qbt import Connection, ConnectionSettings, Mirror
from .report import report_route
from .web import Response, Route, WebConfig, WebServer, landing_page, load_web_config, text

log = logging.getLogger(__name__)

# Counters here are the service's own; their *_created twins only add series nobody queries.
disable_created_metrics()

# Builds a collector from the Snapshot of one scrape.
SnapshotCollector = Callable[[Snapshot], Collector]


def connection_settings(settings: Settings) -> ConnectionSettings:
    return ConnectionSettings(
        url=settings.qbittorrent_url,
        username=settings.qbittorrent_username,
        password=settings.qbittorrent_password,
        api_key=settings.qbittorrent_api_key,
        ca_file=settings.qbittorrent_ca_file,
        insecure_skip_verify=settings.qbittorrent_insecure_skip_verify,
        timeout=settings.qbittorrent_timeout,
        full_sync_timeout=settings.qbittorrent_full_sync_timeout,
    )


def make_mirror(settings: Settings) -> Mirror:
    return Mirror(
        Connection(connection_settings(settings)),
        name=settings.qbittorrent_name,
        min_age=settings.qbittorrent_min_sync_age,
        full_resync_interval=settings.qbittorrent_full_resync_interval,
    )


class App:
    def __init__(self, settings: Settings, mirror: Mirror | None = None) -> None:
        self.settings = settings
        self.mirror = mirror or make_mirror(settings)
        # Counters and gauges of what the service itself does (actions, completions, job runs).
        self.events = CollectorRegistry(auto_describe=False)
        self.snapshot_collectors: list[SnapshotCollector] = [
            ServerCollector, TorrentsCollector, RatioMetrics.from_settings(settings),
        ]
        if settings.metrics_per_torrent:
            self.snapshot_collectors.append(PerTorrentCollector)
        self.routes: dict[str, Route] = {
            settings.web_telemetry_path: self.metrics,
            "/healthz": lambda query, headers: text(200, "ok\n"),
            "/readyz": self.ready,
            "/api/report": report_route(self),
        }
        # Scheduled jobs (control, completion), or None when none is configured or --actions.enabled=false.
        self.actions = build_actions(settings, self.mirror, self.events)
        if self.actions is not None:
            self.routes.update(self.actions.routes)
        self.web: WebServer | None = None

    # -- routes ------------------------------------------------------------------------------

    def registry(self, snapshot: Snapshot | None) -> CollectorRegistry:
        """A fresh registry with everything one scrape shows for `snapshot` (None: qBittorrent down)."""
        parts: list[Collector] = [ExporterCollector(self.mirror.stats)]
        if snapshot is not None:
            parts += [make(snapshot) for make in self.snapshot_collectors]
        parts.append(RegistryCollector(self.events))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ScrapeCollector(parts))
        return registry

    def metrics(self, query: Mapping[str, str], headers: Mapping[str, str]) -> Response:
        snapshot = self.mirror.refresh()
        encoder, content_type = choose_encoder(headers.get("Accept") or "")
        return 200, content_type, encoder(self.registry(snapshot)), {}

    def ready(self, query: Mapping[str, str], headers: Mapping[str, str]) -> Response:
        if self.mirror.refresh() is not None:
            return text(200, "ready\n")
        reason = self.mirror.stats.last_error or "first sync with qBittorrent not done yet"
        return text(503, f"not ready: {reason}\n")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.actions is not None:
            self.actions.start()  # first: a bad store (StoreError) stops the service before it listens
        web = load_web_config(self.settings.web_config_file) if self.settings.web_config_file else WebConfig()
        links = {self.settings.web_telemetry_path: "metrics", "/healthz": "liveness", "/readyz": "readiness"}
        links.update({p: "" for p in self.routes if p.startswith("/api/")})
        routes = {"/": landing_page("qbittorrent-monitor", links), **self.routes}
        self.web = WebServer(self.settings.web_listen_address, routes, web)
        self.web.start()
        host, _ = self.settings.web_listen_address
        log.info("listening on %s://%s:%d%s", self.web.scheme, host, self.web.port, self.settings.web_telemetry_path)
        threading.Thread(target=self.mirror.refresh, name="first-sync", daemon=True).start()

    def stop(self) -> None:
        if self.actions is not None:
            self.actions.stop()  # lets a running job finish its current action
        if self.web is not None:
            self.web.stop()
        self.mirror.close()
