"""The largest value each kind of setting accepts, and the size of the files the configuration reads.

A value past its limit is a typo (an extra zero, `1e20`, a passkey pasted into a number): check-config
names the field instead of the service overflowing a timer or an integer at start. Each limit is far
above any sensible setting, and the limit itself is accepted.
"""

from __future__ import annotations

from ..durations import duration_text

MAX_YAML_BYTES = 1 << 20  # a YAML file (--config.file, --web.config-file)
MAX_YAML_ALIASES = 1000  # aliases (*name) in one YAML file
MAX_YAML_NODES = 1_000_000  # values in one YAML file, each alias counted as a copy of what it names
MAX_SECRET_BYTES = 64 << 10  # a file holding a password, an API key or a webhook secret

MAX_DURATION = 3650 * 86400.0  # 10 years: any duration
MIN_INTERVAL = 0.1  # seconds: how often a job runs, a handler's timeout
MAX_INTERVAL = 86400.0  # one day: job intervals, handler timeouts and backoff, the full resync
MAX_REQUEST_TIMEOUT = 60.0  # qbittorrent.timeout: two attempts must fit a scrape
MAX_FULL_SYNC_TIMEOUT = 600.0  # qbittorrent.full_sync_timeout
MAX_HEADER_TIMEOUT = 600.0  # web.header_timeout
MAX_IDLE_TIMEOUT = 3600.0  # web.idle_timeout
MAX_SCRAPE_TIMEOUT = 120.0  # web.scrape_timeout
MIN_LEASE_TTL = 3.0  # store.lease_ttl: renewed every third of it, so at least 1 s between renewals
MAX_LEASE_TTL = 300.0
MAX_SCRAPE_TIMEOUT_OFFSET = 5.0  # web.scrape_timeout_offset
MAX_RATIO = 1000.0  # min_ratio, margin, hysteresis
MAX_BYTES = float(1 << 50)  # 1 PiB: sizes and bytes/s
MAX_COUNT = 10_000  # actions or handler runs per job run, seeding slots
MAX_RETRIES = 100  # retries of one completion handler
MAX_FACTOR = 1_000_000.0  # points-model parameters, rule points, reported points, seeding weights
MAX_EXPONENT = 10.0  # gazelle's seeder_exponent (seeders ** exponent must stay a float)
MAX_PEERS = 1_000_000.0  # bounds of a unit3d rule's seeders and leechers
MAX_SCAN_RATE = 1000.0  # tracker_scan.requests_per_second
MAX_PHRASE = 200  # characters of one tracker_scan.phrases entry

# (what, limit): the table of docs/configuration.md (exporter/docsgen.py), made from the constants above.
LIMITS: tuple[tuple[str, str], ...] = (
    (
        "YAML file (`--config.file`, `--web.config-file`)",
        f"{MAX_YAML_BYTES >> 20} MiB, {MAX_YAML_ALIASES} aliases, "
        f"{MAX_YAML_NODES} values counting each alias as a copy",
    ),
    ("secret file (`*_file`, `secret_file`)", f"{MAX_SECRET_BYTES >> 10} KiB"),
    ("any duration", f"{duration_text(MAX_DURATION)} (10 years)"),
    (
        "job `interval`s, handler `timeout` and `backoff`, `qbittorrent.full_resync_interval`, "
        "`qbittorrent.min_sync_age`",
        f"{duration_text(MAX_INTERVAL)} (job intervals, handler timeouts: from {MIN_INTERVAL * 1000:g}ms)",
    ),
    (
        "`qbittorrent.timeout`, `qbittorrent.full_sync_timeout`",
        f"{duration_text(MAX_REQUEST_TIMEOUT)}, {duration_text(MAX_FULL_SYNC_TIMEOUT)}",
    ),
    (
        "`web.header_timeout`, `web.idle_timeout`, `web.scrape_timeout`, `web.scrape_timeout_offset`",
        f"{duration_text(MAX_HEADER_TIMEOUT)}, {duration_text(MAX_IDLE_TIMEOUT)}, "
        f"{duration_text(MAX_SCRAPE_TIMEOUT)}, {duration_text(MAX_SCRAPE_TIMEOUT_OFFSET)}",
    ),
    ("ratios (`min_ratio`, `margin`, `hysteresis`)", f"{MAX_RATIO:g}"),
    ("sizes and rates (bytes, bytes/s)", f"{int(MAX_BYTES) >> 50} PiB"),
    ("counts (`max_actions_per_*`, `max_runs_per_run`, slots)", f"{MAX_COUNT}"),
    ("handler `retries`", f"{MAX_RETRIES}"),
    ("points parameters, rule `points`, `reported_points_per_hour`, seeding weights", f"{MAX_FACTOR:.0f}"),
    ("gazelle `seeder_exponent`", f"{MAX_EXPONENT:g}"),
    ("unit3d rule `seeders` and `leechers` bounds", f"{MAX_PEERS:.0f}"),
    (
        "`tracker_scan.requests_per_second`; `burst`, `page_size`, `hash_batch`; one of its `phrases`",
        f"{MAX_SCAN_RATE:g}; {MAX_COUNT}; {MAX_PHRASE} characters",
    ),
    ("`control.unregistered.outage_share`", "1 (a share of a host's torrents)"),
)
