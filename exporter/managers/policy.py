"""The policies the managers decide by: plain frozen dataclasses, built by exporter/config from YAML.

    TrackerPolicies   per tracker host: minimum ratio, hit-and-run seed time, bonus-point model
    SeedingSettings   how to size and fill qBittorrent's seeding slots
    StallPolicy       the stalled-download ladder
    EmergencyPolicy   when a ratio emergency starts and ends
    SlotsPolicy       bounds of the seeding-slots action
    Filter            which completions a handler applies to

Defaults here are the defaults of the configuration; docs/configuration.md lists them with the YAML keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .points import Linear, PointsModel


@dataclass(frozen=True)
class TrackerPolicy:
    min_ratio: float = 1.0
    min_seed_time: float = 0.0  # seconds; the hit-and-run rule
    points: PointsModel = field(default_factory=Linear)  # earns nothing unless configured
    reported_points_per_hour: float | None = None


@dataclass(frozen=True)
class TrackerPolicies:
    default: TrackerPolicy = field(default_factory=TrackerPolicy)
    hosts: Mapping[str, TrackerPolicy] = field(default_factory=dict)

    def for_host(self, host: str) -> TrackerPolicy:
        return self.hosts.get(host.lower(), self.default)


@dataclass(frozen=True)
class SeedingSettings:
    """How to size and fill qBittorrent's active seeding slots (docs/seeding-allocation.md)."""

    upload_capacity: float = 0.0  # bytes/s; 0: use qBittorrent's global upload limit, if one is set
    slot_upload: float = 1024.0 * 1024  # bytes/s one active seed is expected to use
    min_slots: int = 1
    max_slots: int = 0  # 0: no upper limit
    idle_window: float = 24 * 3600.0  # a seed with no upload for longer than this is idle
    demand_weight: float = 1.0  # value per leecher per seeder
    scarcity_weight: float = 1.0  # value of being the only seeder (weight / seeders)


@dataclass(frozen=True)
class StallPolicy:
    stall_after: float = 900.0
    grace: float = 600.0
    cooldown: float = 600.0
    recheck: bool = False
    tag: str = "stalled"
    max_actions_per_run: int = 10
    max_actions_per_tracker: int = 3
    exclude_tags: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()

    @property
    def steps(self) -> tuple[str, ...]:
        return ("reannounce", "restart") + (("recheck",) if self.recheck else ()) + ("give_up",)


@dataclass(frozen=True)
class EmergencyPolicy:
    margin: float = 0.0
    hysteresis: float = 0.1
    min_downloaded: int = 1 << 30  # bytes: below this a scope's ratio means nothing yet
    include_global: bool = False
    trackers: frozenset[str] = frozenset()  # hosts to watch; empty: every host in the Snapshot
    tag: str = "ratio-emergency"
    max_actions_per_run: int = 50


@dataclass(frozen=True)
class SlotsPolicy:
    minimum: int = 1
    maximum: int = 100
    cooldown: float = 600.0


@dataclass(frozen=True)
class Filter:
    """Empty sets match everything; otherwise the torrent must match one entry of each set given."""

    categories: frozenset[str] = frozenset()
    trackers: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def matches(self, torrent: Mapping[str, Any]) -> bool:
        if self.categories and torrent.get("category", "") not in self.categories:
            return False
        if self.trackers and not self.trackers.intersection(torrent.get("trackers") or ()):
            return False
        if self.tags and not self.tags.intersection(torrent.get("tags") or ()):
            return False
        return True


@dataclass(frozen=True)
class TrackerScanPolicy:
    """How tracker lists are fetched (managers/tracker_health/scan.py): a request budget and what is due."""

    requests_per_second: float = 5.0  # every request (one torrent, a hash batch, a page) costs one token
    burst: int = 1  # tokens the bucket holds: in any T seconds at most burst + rate * T requests
    interval: float = 30.0  # one plan covers this long: the scan job's interval
    page_size: int = 500  # torrents per torrents/info?includeTrackers page (5.1+)
    hash_batch: int = 50  # hashes per torrents/info?hashes= request (5.1+)
    recheck_after: float = 1800.0  # refetch suspects (a problem, an error, a flag) this often
    stale_after: float = 6 * 3600.0  # refetch the rest when its data is this old; older data is "stale"
    extra_phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # reason -> more phrases


@dataclass(frozen=True)
class UnregisteredPolicy:
    """Tag (and optionally stop) torrents every tracker has called unregistered for `after`.

    The outage guard: a host on which more than `outage_share` of its torrents (and at least
    `outage_min_torrents`) started being unregistered within one `outage_window` is held back.
    """

    enabled: bool = False
    after: float = 6 * 3600.0
    tag: str = "unregistered"
    stop: bool = False
    outage_share: float = 0.5
    outage_window: float = 3600.0
    outage_min_torrents: int = 5
    max_actions_per_run: int = 20
