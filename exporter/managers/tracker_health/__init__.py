"""Tracker health: which torrents a tracker no longer knows ("unregistered") or cannot reach, per host,
without hammering qBittorrent. Pure, like every manager: no I/O, no clock, no logging.

    classify.py       status codes per Web API version, the phrase list, classify(), redact()
    health.py         TrackerHealth: what each torrent's trackers last said, kept incrementally
    scan.py           plan_scan(): what to fetch next under a request budget, per source
    unregistered.py   plan_unregistered(): tag/stop/untag actions with the outage guard

The I/O half (fetching, metrics, configuration, the job) calls what is re-exported here.
"""

from .classify import (
    ANNOUNCE_STATUSES,
    BUILTIN_PHRASES,
    REASONS,
    TrackerEntry,
    classify,
    redact,
    tracker_entries,
    uses_new_codes,
)
from .health import HostHealth, TorrentTrackers, TrackerHealth
from .scan import SOURCES, ScanPlan, ScanRequest, TokenBucket, due_order, plan_scan, source_for
from .unregistered import HeldBack, UnregisteredPlan, outage_hosts, plan_unregistered

__all__ = [
    "ANNOUNCE_STATUSES",
    "BUILTIN_PHRASES",
    "REASONS",
    "SOURCES",
    "HeldBack",
    "HostHealth",
    "ScanPlan",
    "ScanRequest",
    "TokenBucket",
    "TorrentTrackers",
    "TrackerEntry",
    "TrackerHealth",
    "UnregisteredPlan",
    "classify",
    "due_order",
    "outage_hosts",
    "plan_scan",
    "plan_unregistered",
    "redact",
    "source_for",
    "tracker_entries",
    "uses_new_codes",
]
