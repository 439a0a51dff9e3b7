"""Wires one running service: settings -> one mirror per qBittorrent -> collectors, routes and the jobs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial

from prometheus_client import disable_created_metrics
from prometheus_client.core import Metric
from prometheus_client.registry import CollectorRegistry

from .actions.scheduler import Actions, Watched
from .collectors import Collector, RegistryCollector, ScrapeCollector
from .collectors.exporter import ExporterCollector
from .collectors.family import Gauge
from .collectors.instances import Scrape
from .collectors.ratio import RatioCollector
from .collectors.server import ServerCollector
from .collectors.torrents import PerTorrentCollector, TorrentsCollector
from .collectors.trackers import TrackerHealthCollector, TrackerScanCollector
from .config import Settings
from .config.instances import InstanceSettings
from .http.routes import Route, Sources, build_routes
from .http.server import ServerLimits, WebServer
from .managers.ratio_index import SharedRatioIndex
from .model import Snapshot
from .qbt.connection import Connection
from .qbt.mirror import Mirror
from .qbt.tracker_scan import TrackerScan
from .version import __version__

log = logging.getLogger(__name__)

# Counters here are the service's own; their *_created twins only add series nobody queries.
disable_created_metrics()

# Builds a collector from the Snapshot of one scrape.
SnapshotCollector = Callable[[Snapshot], Collector]


def make_mirror(inst: InstanceSettings) -> Mirror:
    return Mirror(
        Connection(inst.connection),
        name=inst.name,
        min_age=inst.min_sync_age,
        full_resync_interval=inst.full_resync_interval,
    )


class Instance:
    """Everything the service keeps for one qBittorrent: its mirror, ratio index, collectors and counters."""

    def __init__(self, settings: InstanceSettings, per_torrent: bool, mirror: Mirror | None = None) -> None:
        self.settings = settings
        self.name = settings.name
        self.mirror = mirror or make_mirror(settings)
        # Counters and gauges of what the service itself does for it (actions, completions, job runs).
        self.events = CollectorRegistry(auto_describe=False)
        # One ratio index per mirror: the ratio collector and the control job read the same one.
        self.ratio = SharedRatioIndex(settings.trackers, settings.seeding)
        self.snapshot_collectors: list[SnapshotCollector] = [
            ServerCollector,
            TorrentsCollector,
            partial(RatioCollector, index=self.ratio),
        ]
        if per_torrent:
            self.snapshot_collectors.append(PerTorrentCollector)
        # The read-only tracker scan (its job runs on the scheduler; the collectors read it).
        scan = settings.jobs.tracker_scan
        self.scan = TrackerScan(self.mirror.connection, scan.policy, self.name) if scan.enabled else None
        if self.scan is not None:
            self.snapshot_collectors.append(partial(TrackerHealthCollector, scan=self.scan, clock=time.time))

    def families(self, snapshot: Snapshot | None) -> list[Metric]:
        """What one scrape shows of this instance for `snapshot` (None: qBittorrent down), unlabelled."""
        parts: list[Collector] = [ExporterCollector(self.mirror.stats)]
        if self.scan is not None:
            parts.append(TrackerScanCollector(self.scan, time.time))
        if snapshot is not None:
            parts += [make(snapshot) for make in self.snapshot_collectors]
        parts.append(RegistryCollector(self.events))
        return list(ScrapeCollector(parts).collect())


def build_info() -> Metric:
    build = Gauge(
        "qbittorrent_exporter_build_info", "qbittorrent-monitor version; always 1.", labels=["version"]
    )
    build.add_metric([__version__], 1)
    return build


class App:
    def __init__(
        self, settings: Settings, mirrors: Mapping[str, Mirror] | None = None, mirror: Mirror | None = None
    ) -> None:
        """`mirrors` (by instance name), or `mirror` for the only instance, replace the ones it would make."""
        self.settings = settings
        given = dict(mirrors or {})
        if mirror is not None:
            given[settings.instances[0].name] = mirror
        self.instances: dict[str, Instance] = {
            i.name: Instance(i, settings.metrics_per_torrent, given.get(i.name)) for i in settings.instances
        }
        # The service's own series that are about no one qBittorrent (the store's errors).
        self.events = CollectorRegistry(auto_describe=False)
        # Scheduled jobs (control, completion) of every instance that has them; None when none does.
        self.actions = Actions.build(
            [
                Watched(
                    i.name, i.settings.jobs, i.mirror, i.events, i.ratio, i.settings.previous_names, i.scan
                )
                for i in self.instances.values()
            ],
            settings.store,
            self.events,
        )
        actions = self.actions
        self.routes: dict[str, Route] = build_routes(
            settings.web_telemetry_path,
            Sources(
                scrape=self.scrape,
                snapshot=lambda name: self.refresh([name], settings.web_scrape_timeout)[name],
                last_error=lambda name: self.instances[name].mirror.stats.last_error,
                instances={name: i.settings.url for name, i in self.instances.items()},
                policies={
                    name: (i.settings.trackers, i.settings.seeding) for name, i in self.instances.items()
                },
                clock=time.time,
                store=(lambda: actions.store) if actions is not None and actions.acting else None,
                completions=actions is not None and actions.has("completion"),
                scrape_timeout=settings.web_scrape_timeout,
                scrape_timeout_offset=settings.web_scrape_timeout_offset,
                scans={name: i.scan for name, i in self.instances.items() if i.scan is not None},
            ),
        )
        self.web: WebServer | None = None

    @property
    def mirror(self) -> Mirror:
        """The mirror, when the service watches exactly one qBittorrent (tests, the demo, the report)."""
        if len(self.instances) != 1:
            raise ValueError("this service watches several qBittorrents: use App.instances")
        return next(iter(self.instances.values())).mirror

    # -- scraping ---------------------------------------------------------------------------

    def refresh(self, names: Iterable[str], timeout: float | None = None) -> dict[str, Snapshot | None]:
        """Refresh these instances' mirrors concurrently: every due sync starts (each in its mirror's
        worker thread), then each is waited for until the common deadline. One still syncing then shows
        what it has (its sync goes on for the next scrape); one that fails (its own request deadline, a
        refused login) shows up 0; none holds the others back."""
        return {name: wait() for name, wait in self._start_syncs(names, timeout).items()}

    def _start_syncs(
        self, names: Iterable[str], timeout: float | None
    ) -> dict[str, Callable[[], Snapshot | None]]:
        """Start every due sync; for each instance, a wait for its snapshot bounded by the common deadline."""
        mirrors = {name: self.instances[name].mirror for name in names}
        for mirror in mirrors.values():
            mirror.start()
        deadline = None if timeout is None else time.monotonic() + timeout

        def waiter(m: Mirror) -> Callable[[], Snapshot | None]:
            return lambda: m.wait(None if deadline is None else max(deadline - time.monotonic(), 0.0))

        return {name: waiter(m) for name, m in mirrors.items()}

    def collect(self, snapshots: Mapping[str, Snapshot | None]) -> Scrape:
        """Everything one scrape shows for these instances' snapshots (None: that qBittorrent is down)."""
        by_instance = {name: self.instances[name].families(snap) for name, snap in snapshots.items()}
        return Scrape(by_instance, [build_info(), *self.events.collect()])

    def registry(self, snapshots: Mapping[str, Snapshot | None]) -> CollectorRegistry:
        """collect() as a fresh prometheus_client registry."""
        return self.collect(snapshots).registry()

    def scrape(self, names: Iterable[str] | None = None, timeout: float | None = None) -> Scrape:
        """refresh() and collect() as one pipeline: every sync starts, then each instance's families are
        made as soon as its own sync is done, when the Scrape is read (Scrape.each), while the others'
        syncs go on. The same waits and deadline as refresh(); the writer works meanwhile."""
        waits = self._start_syncs(self.instances if names is None else names, timeout)

        def made(name: str, wait: Callable[[], Snapshot | None]) -> Callable[[], list[Metric]]:
            return lambda: self.instances[name].families(wait())

        return Scrape({n: made(n, w) for n, w in waits.items()}, [build_info(), *self.events.collect()])

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.actions is not None:
            self.actions.start()  # first: a bad store (StoreError) stops the service before it listens
        limits = ServerLimits(
            header_timeout=self.settings.web_header_timeout, idle_timeout=self.settings.web_idle_timeout
        )
        self.web = WebServer(self.settings.web_listen_address, self.routes, self.settings.web, limits=limits)
        self.web.start()
        host, _ = self.settings.web_listen_address
        log.info(
            "listening on %s://%s:%d%s; watching %s",
            self.web.scheme,
            host,
            self.web.port,
            self.settings.web_telemetry_path,
            ", ".join(self.instances),
        )
        for instance in self.instances.values():  # first syncs in the background: the port answers at once
            instance.mirror.start()

    def stop(self) -> None:
        if self.actions is not None:
            self.actions.stop()  # lets a running job finish its current action
        if self.web is not None:
            self.web.stop()
        for instance in self.instances.values():
            instance.mirror.close()
