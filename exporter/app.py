"""Wires one running service: settings -> the mirror -> collectors, routes and the scheduled jobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from prometheus_client import disable_created_metrics
from prometheus_client.registry import CollectorRegistry

from .actions.scheduler import build_actions
from .collectors import Collector, RegistryCollector, ScrapeCollector
from .collectors.exporter import ExporterCollector
from .collectors.ratio import RatioCollector
from .collectors.server import ServerCollector
from .collectors.torrents import PerTorrentCollector, TorrentsCollector
from .config import Settings
from .http.routes import Route, Sources, build_routes
from .http.server import WebServer
from .managers.ratio_index import SharedRatioIndex
from .model import Snapshot
from .qbt.connection import Connection, ConnectionSettings
from .qbt.mirror import Mirror

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
        max_response_size=settings.qbittorrent_max_response_size,
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
        # One ratio index per mirror: the ratio collector and the control job read the same one.
        self.ratio = SharedRatioIndex(settings.trackers, settings.seeding)
        self.snapshot_collectors: list[SnapshotCollector] = [
            ServerCollector,
            TorrentsCollector,
            partial(RatioCollector, index=self.ratio),
        ]
        if settings.metrics_per_torrent:
            self.snapshot_collectors.append(PerTorrentCollector)
        # Scheduled jobs (control, completion), or None when none is configured or --actions.enabled=false.
        self.actions = build_actions(settings.jobs, self.mirror, self.events, self.ratio)
        actions = self.actions
        self.routes: dict[str, Route] = build_routes(
            settings.web_telemetry_path,
            Sources(
                scrape=self.scrape,
                snapshot=partial(self.mirror.refresh, timeout=settings.web_scrape_timeout),
                last_error=lambda: self.mirror.stats.last_error,
                policies=settings.trackers,
                seeding=settings.seeding,
                clock=time.time,
                store=(lambda: actions.store) if actions is not None else None,
                completions=actions is not None and actions.completion.configured,
                scrape_timeout=settings.web_scrape_timeout,
                scrape_timeout_offset=settings.web_scrape_timeout_offset,
            ),
        )
        self.web: WebServer | None = None

    def registry(self, snapshot: Snapshot | None) -> CollectorRegistry:
        """A fresh registry with everything one scrape shows for `snapshot` (None: qBittorrent down)."""
        parts: list[Collector] = [ExporterCollector(self.mirror.stats)]
        if snapshot is not None:
            parts += [make(snapshot) for make in self.snapshot_collectors]
        parts.append(RegistryCollector(self.events))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ScrapeCollector(parts))
        return registry

    def scrape(self, timeout: float | None = None) -> CollectorRegistry:
        """One scrape's registry, waiting at most `timeout` seconds for the mirror's sync."""
        return self.registry(self.mirror.refresh(timeout))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.actions is not None:
            self.actions.start()  # first: a bad store (StoreError) stops the service before it listens
        self.web = WebServer(self.settings.web_listen_address, self.routes, self.settings.web)
        self.web.start()
        host, _ = self.settings.web_listen_address
        log.info(
            "listening on %s://%s:%d%s",
            self.web.scheme,
            host,
            self.web.port,
            self.settings.web_telemetry_path,
        )
        threading.Thread(target=self.mirror.refresh, name="first-sync", daemon=True).start()

    def stop(self) -> None:
        if self.actions is not None:
            self.actions.stop()  # lets a running job finish its current action
        if self.web is not None:
            self.web.stop()
        self.mirror.close()
