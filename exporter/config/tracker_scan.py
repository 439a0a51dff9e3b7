"""The `tracker_scan:` section: how the read-only tracker scan reads each torrent's tracker list.

    tracker_scan:
      enabled: true               # on by default; false: no tracker health metrics, no `unregistered` action
      requests_per_second: 5      # the budget: each request (one torrent, a batch of hashes, a page) is one
      burst: 1                    # requests allowed at once; in any T seconds at most burst + rate * T
      interval: 30s               # one run of the `trackers` job plans this long
      page_size: 500              # torrents per torrents/info?includeTrackers page (qBittorrent 5.1+)
      hash_batch: 50              # hashes per torrents/info?hashes= request (5.1+)
      recheck_after: 30m          # fetch suspects again this often (a problem, an error, a stall, a flag)
      stale_after: 6h             # fetch the rest again when its data is this old; older data is "stale"
      phrases:                    # more of what tracker messages mean (case-insensitive substrings),
        unregistered: ["torrent gone"]   # tried before the built-in ones (listed below)
        other: ["unregistered user"]     # "other" neutralises a built-in phrase

What it costs, cheapest first (the scan picks the cheapest the qBittorrent offers): 5.2+ flags the
torrents with an announce problem in the sync the exporter already makes, and only those (plus a slow
background refresh every `stale_after`) are fetched, by hash batches; 5.1+ pages through
torrents/info?includeTrackers=true; 4.x and 5.0 ask torrents/trackers one torrent per request: at the
default 5 requests/s, 50,000 torrents take about 2.8 hours for the first sweep, then about 2.3 requests/s
keep them within `stale_after`. Never-fetched torrents go first, then changed and suspect ones.

The scan is read-only (it writes nothing to qBittorrent or the store), so it runs where actions are off
and on every replica of a high-availability setup. An instance may replace the whole section in its
`instances:` item, like `trackers:` and the others. Messages are classified into four reasons
(unregistered, unauthorized, down, other); the message itself never becomes a label.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..actions.settings import TrackerScanSettings
from ..managers.policy import TrackerScanPolicy
from ..managers.tracker_health import REASONS
from .fields import bounded_duration, duration, flag, mapping, positive, whole
from .limits import MAX_COUNT, MAX_INTERVAL, MAX_PHRASE, MAX_SCAN_RATE, MIN_INTERVAL
from .values import ConfigError, kind


def _phrases(raw: Any, path: str) -> MappingProxyType[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ConfigError(
            path, f"must map reasons ({', '.join(REASONS)}) to lists of phrases, not {kind(raw)}"
        )
    out: dict[str, tuple[str, ...]] = {}
    for position, (reason, phrases) in enumerate(raw.items(), 1):
        if reason not in REASONS:
            raise ConfigError(f"{path}.<key {position}>", f"must be one of {', '.join(REASONS)}")
        if not isinstance(phrases, list):
            raise ConfigError(f"{path}.{reason}", f"must be a list of phrases, not {kind(phrases)}")
        checked = []
        for i, phrase in enumerate(phrases):
            where = f"{path}.{reason}[{i}]"
            if not isinstance(phrase, str) or not phrase.strip():
                raise ConfigError(where, "must be a non-empty string")
            if len(phrase) > MAX_PHRASE:
                raise ConfigError(where, f"must be at most {MAX_PHRASE} characters")
            checked.append(phrase.strip())
        out[reason] = tuple(checked)
    return MappingProxyType(out)


_FIELDS = {
    "enabled": flag,
    "requests_per_second": positive(MAX_SCAN_RATE),
    "burst": whole(1, MAX_COUNT),
    "interval": bounded_duration(MIN_INTERVAL, MAX_INTERVAL),
    "page_size": whole(1, MAX_COUNT),
    "hash_batch": whole(1, MAX_COUNT),
    "recheck_after": duration,
    "stale_after": duration,
    "phrases": _phrases,
}


def parse_tracker_scan(raw: Any, path: str = "tracker_scan") -> TrackerScanSettings:
    if raw is None:
        return TrackerScanSettings()
    values = mapping(raw, path, _FIELDS)
    enabled = values.pop("enabled", True)
    if "phrases" in values:
        values["extra_phrases"] = values.pop("phrases")
    return TrackerScanSettings(enabled=enabled, policy=TrackerScanPolicy(**values))
