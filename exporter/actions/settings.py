"""What the action jobs are configured with: plain frozen settings, built by exporter/config/actions.py
(whose docstring is the `control:` and `completion:` reference)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..managers.policy import (
    EmergencyPolicy,
    Filter,
    SeedingSettings,
    SlotsPolicy,
    StallPolicy,
    TrackerPolicies,
    TrackerScanPolicy,
    UnregisteredPolicy,
)

# qBittorrent's "run external program" placeholders that a completion record can fill.
PLACEHOLDERS = {
    "N": "name",
    "L": "category",
    "G": "tags",
    "F": "content_path",
    "D": "save_path",
    "Z": "size",
    "T": "tracker",
    "I": "hash",
    "K": "hash",
}
HANDLER_TYPES = ("webhook", "command", "set_category", "add_tags")


@dataclass(frozen=True)
class Feature:
    enabled: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class StalledSettings(Feature):
    policy: StallPolicy = field(default_factory=StallPolicy)


@dataclass(frozen=True)
class EmergencySettings(Feature):
    policy: EmergencyPolicy = field(default_factory=EmergencyPolicy)


@dataclass(frozen=True)
class SlotsSettings(Feature):
    policy: SlotsPolicy = field(default_factory=SlotsPolicy)


@dataclass(frozen=True)
class UnregisteredSettings(Feature):
    policy: UnregisteredPolicy = field(default_factory=UnregisteredPolicy)


@dataclass(frozen=True)
class ControlSettings:
    configured: bool = False
    interval: float = 60.0
    dry_run: bool = False
    stalled: StalledSettings = field(default_factory=StalledSettings)
    ratio_emergency: EmergencySettings = field(default_factory=EmergencySettings)
    seeding_slots: SlotsSettings = field(default_factory=SlotsSettings)
    unregistered: UnregisteredSettings = field(default_factory=UnregisteredSettings)


@dataclass(frozen=True)
class TrackerScanSettings:
    """The read-only tracker scan (`tracker_scan:`): on unless switched off."""

    enabled: bool = True
    policy: TrackerScanPolicy = field(default_factory=TrackerScanPolicy)


@dataclass(frozen=True)
class HandlerSettings:
    name: str
    type: str
    filter: Filter = field(default_factory=Filter)
    dry_run: bool = False
    retries: int = 4
    backoff: float = 30.0
    timeout: float = 10.0
    url: str = field(default="", repr=False)  # may carry a token: never logged
    secret: str = field(default="", repr=False)
    argv: tuple[str, ...] = ()
    category: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompletionSettings:
    configured: bool = False
    interval: float = 10.0
    dry_run: bool = False
    backfill: float = 0.0
    max_runs_per_run: int = 20
    handlers: tuple[HandlerSettings, ...] = ()


@dataclass(frozen=True)
class JobsSettings:
    """Everything the scheduled jobs of one qBittorrent are configured with."""

    control: ControlSettings = field(default_factory=ControlSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    trackers: TrackerPolicies = field(default_factory=TrackerPolicies)
    seeding: SeedingSettings = field(default_factory=SeedingSettings)
    tracker_scan: TrackerScanSettings = field(default_factory=TrackerScanSettings)
    enabled: bool = True  # --actions.enabled: the kill switch
    dry_run: bool = False  # --actions.dry-run: every job
    data_dir: str = "data"

    @property
    def configured(self) -> tuple[str, ...]:
        """The jobs that have a section in the configuration."""
        return tuple(
            n
            for n, on in (("control", self.control.configured), ("completion", self.completion.configured))
            if on
        )
