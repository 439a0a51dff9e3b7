"""The flat options: one row each in OPTIONS gives the flag, the environment variable and the YAML key.

--qbittorrent.password-file  <->  QBITTORRENT_MONITOR_QBITTORRENT_PASSWORD_FILE
                             <->  qbittorrent: {password_file: ...}   (in --config.file)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..durations import duration_text
from .fields import parse_bytes
from .limits import (
    MAX_FULL_SYNC_TIMEOUT,
    MAX_HEADER_TIMEOUT,
    MAX_IDLE_TIMEOUT,
    MAX_INTERVAL,
    MAX_LEASE_TTL,
    MAX_REQUEST_TIMEOUT,
    MAX_SCRAPE_TIMEOUT,
    MAX_SCRAPE_TIMEOUT_OFFSET,
    MIN_LEASE_TTL,
)
from .values import (
    DEFAULT_PORT,
    ConfigError,
    choice,
    duration_option,
    parse_bool,
    parse_file,
    parse_listen_address,
    parse_store_url,
    parse_str,
    parse_url,
)

ENV_PREFIX = "QBITTORRENT_MONITOR_"


def _size(minimum: int, maximum: int) -> Callable[[Any], int]:
    """Whole bytes from a size such as 512MiB (fields.parse_bytes), between minimum and maximum."""

    def parse(value: Any) -> int:
        try:
            size = int(parse_bytes(value, ""))
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix(": ")) from None
        if not minimum <= size <= maximum:
            raise ValueError(f"must be between {minimum / 2**20:g}MiB and {maximum / 2**30:g}GiB")
        return size

    return parse


@dataclass(frozen=True)
class Option:
    name: str  # dotted flag name without "--": "qbittorrent.password-file"
    default: Any
    parse: Callable[[Any], Any]
    help: str
    secret: bool = False
    metavar: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def env(self) -> str:
        return ENV_PREFIX + re.sub(r"[.-]", "_", self.name).upper()

    @property
    def yaml_path(self) -> tuple[str, ...]:
        return tuple(part.replace("-", "_") for part in self.name.split("."))

    @property
    def attr(self) -> str:
        return "_".join(self.yaml_path)


OPTIONS: tuple[Option, ...] = (
    Option("qbittorrent.url", "http://127.0.0.1:8080", parse_url, "qBittorrent WebUI URL."),
    Option("qbittorrent.username", "admin", parse_str, "WebUI username."),
    Option(
        "qbittorrent.password",
        "",
        parse_str,
        "WebUI password. Prefer --qbittorrent.password-file: flags are visible in `ps`.",
        secret=True,
    ),
    Option("qbittorrent.password-file", "", parse_file, "File holding the WebUI password.", metavar="FILE"),
    Option(
        "qbittorrent.api-key",
        "",
        parse_str,
        "API key (qBittorrent 5.2+), sent as a Bearer token.",
        secret=True,
    ),
    Option("qbittorrent.api-key-file", "", parse_file, "File holding the API key.", metavar="FILE"),
    Option(
        "qbittorrent.ca-file", "", parse_file, "CA bundle to verify an https:// qBittorrent.", metavar="FILE"
    ),
    Option(
        "qbittorrent.insecure-skip-verify",
        False,
        parse_bool,
        "Do not verify qBittorrent's TLS certificate (exposes the password to a man in the middle).",
    ),
    Option(
        "qbittorrent.timeout",
        4.0,
        duration_option(MAX_REQUEST_TIMEOUT),
        "Total time for one request to qBittorrent (a login, a delta sync, a write), the client's "
        f"second attempt included (at most {duration_text(MAX_REQUEST_TIMEOUT)}): a deadline, not a "
        "per-read timeout.",
    ),
    Option(
        "qbittorrent.full-sync-timeout",
        30.0,
        duration_option(MAX_FULL_SYNC_TIMEOUT),
        f"Timeout (at most {duration_text(MAX_FULL_SYNC_TIMEOUT)}) of a full sync (first, periodic, "
        "after errors): at 100,000 torrents qBittorrent needs seconds to build that response. A scrape "
        "does not wait for it past its own deadline (--web.scrape-timeout); the sync still completes "
        "for the next one.",
    ),
    Option(
        "qbittorrent.max-response-size",
        "512MiB",
        _size(2**20, 16 * 2**30),
        "Largest sync/maindata response read (decompressed); a larger one is a `response` sync error. "
        "A full sync of 100,000 torrents is about 140 MB.",
        metavar="SIZE",
    ),
    Option(
        "qbittorrent.min-sync-age",
        1.0,
        duration_option(MAX_INTERVAL, allow_zero=True),
        "Serve the mirror without asking qBittorrent if it is younger than this "
        f"(many scrapers, one request; at most {duration_text(MAX_INTERVAL)}).",
    ),
    Option(
        "qbittorrent.full-resync-interval",
        3600.0,
        duration_option(MAX_INTERVAL),
        f"Re-download the full state this often (at most {duration_text(MAX_INTERVAL)}), in case a "
        "delta was missed.",
    ),
    Option(
        "qbittorrent.name",
        "",
        parse_str,
        'Name of this qBittorrent: its qbittorrent="..." label and in logs (default: host:port of the URL).',
    ),
    Option(
        "web.listen-address",
        f":{DEFAULT_PORT}",
        parse_listen_address,
        "Address to serve /metrics on, host:port (empty host = all interfaces).",
        metavar="ADDR",
    ),
    Option(
        "web.config-file",
        "",
        parse_file,
        "Prometheus exporter-toolkit web config (TLS, basic auth).",
        metavar="FILE",
    ),
    Option("web.telemetry-path", "/metrics", parse_str, "Path of the metrics endpoint."),
    Option(
        "web.header-timeout",
        10.0,
        duration_option(MAX_HEADER_TIMEOUT),
        "Time a client has to send a request's headers (for a new connection, from its connect, TLS "
        "handshake included); a slower one is disconnected.",
    ),
    Option(
        "web.idle-timeout",
        90.0,
        duration_option(MAX_IDLE_TIMEOUT),
        "Time a kept-alive connection may wait for its next request before it is closed (longer than "
        "the scrape interval keeps Prometheus on one connection).",
    ),
    Option(
        "web.scrape-timeout",
        8.0,
        duration_option(MAX_SCRAPE_TIMEOUT),
        "Answer a scrape within this when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds "
        "header (Prometheus always sends one). A slower sync goes on for the next scrape; this one "
        "shows the last good data, or qbittorrent_up 0 if there is none.",
    ),
    Option(
        "web.scrape-timeout-offset",
        0.5,
        duration_option(MAX_SCRAPE_TIMEOUT_OFFSET, allow_zero=True),
        "Subtracted from the scraper's X-Prometheus-Scrape-Timeout-Seconds (never below half of it), "
        "to leave time for building and sending the answer.",
    ),
    Option(
        "metrics.per-torrent",
        False,
        parse_bool,
        "Also export one series per torrent (hash label; names only in qbittorrent_torrent_info). "
        "Costly on large instances.",
    ),
    Option("log.level", "info", choice("debug", "info", "warning", "error"), "Log level."),
    Option("log.format", "text", choice("text", "json"), "Log format."),
    Option(
        "actions.enabled",
        True,
        parse_bool,
        "Kill switch: false runs no writing job (control, completion), so nothing is written to "
        "qBittorrent; the read-only tracker scan still runs (tracker_scan: {enabled: false} stops it).",
    ),
    Option(
        "actions.dry-run",
        False,
        parse_bool,
        "Jobs decide, log, audit and count what they would do, but write nothing and run no handler.",
    ),
    Option(
        "data.dir",
        "data",
        parse_str,
        "Directory of the durable store (SQLite) used by the jobs, unless --store.url names another.",
        metavar="DIR",
    ),
    Option(
        "store.url",
        "",
        parse_store_url,
        "The jobs' store shared by replicas: postgresql://user@host:5432/db (its password in "
        "--store.password-file). Empty: the SQLite file in --data.dir, one service per directory.",
        metavar="URL",
    ),
    Option(
        "store.password-file", "", parse_file, "File holding the PostgreSQL role's password.", metavar="FILE"
    ),
    Option(
        "store.lease-ttl",
        15.0,
        duration_option(MAX_LEASE_TTL),
        "With a PostgreSQL store, how long a replica's lease on a qBittorrent lasts without renewal "
        "(renewed every third of it): the longest a crashed leader's jobs stay stopped before another "
        f"replica takes over. From {duration_text(MIN_LEASE_TTL)} to {duration_text(MAX_LEASE_TTL)}.",
    ),
)
