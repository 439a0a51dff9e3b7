"""Settings from flags, environment variables and an optional YAML file, validated into frozen Settings.

Every option has one row in OPTIONS; the flag, the environment variable and the YAML key all come
from that row:

    --qbittorrent.password-file  <->  QBITTORRENT_MONITOR_QBITTORRENT_PASSWORD_FILE
                                 <->  qbittorrent: {password_file: ...}   (in --config.file)

Precedence: flag > environment > config file > default. Sections that are not flat options
(`trackers:`, `actions:`, ...) are parsed by the functions that sections() lists. Every error names the field
(its YAML path, or the flag) and says why; no error ever repeats a secret's value.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import yaml

ENV_PREFIX = "QBITTORRENT_MONITOR_"
DEFAULT_PORT = 9713


class ConfigError(ValueError):
    """A bad setting. `path` is the field ("qbittorrent.url", "trackers.default.min_ratio")."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


# -- value parsers: each takes the raw value (str from flags/env, any YAML type) -------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> float:
    """Seconds from "90s", "15m", "1h30m", "72h", "7d", "500ms" or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m or 72h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for m in _DURATION.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise ValueError(f"{value!r} is not a duration such as 30s, 15m or 72h") from None
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError("must be a finite duration >= 0")
    return seconds


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean (true/false)")


def parse_str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("expected a string")
    return "" if value is None else str(value)


def parse_url(value: Any) -> str:
    text = parse_str(value).strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080")
    if parts.username or parts.password:
        # Never echo the URL: it holds a password.
        raise ValueError(
            "must not contain credentials; use --qbittorrent.username and --qbittorrent.password-file"
        )
    return text


def parse_listen_address(value: Any) -> tuple[str, int]:
    text = parse_str(value).strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError(f"{text!r} is not host:port (e.g. :{DEFAULT_PORT} or 127.0.0.1:{DEFAULT_PORT})")
    host = host.strip("[]") or "0.0.0.0"
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0-65535")
    if host not in ("localhost",):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9.-]+", host):
                raise ValueError(f"{host!r} is not an IP address or host name") from None
    return host, port


def parse_file(value: Any) -> str:
    """A path that must name a readable file (empty = not set)."""
    text = parse_str(value).strip()
    if text and not os.access(text, os.R_OK):
        raise ValueError(f"file {text!r} does not exist or is not readable")
    return text


def choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = parse_str(value).strip().lower()
        if text not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return text

    return parse


def positive(parse: Callable[[Any], float], maximum: float | None = None) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        result = parse(value)
        if result <= 0:
            raise ValueError("must be greater than 0")
        if maximum is not None and result > maximum:
            raise ValueError(f"must be at most {maximum:g}")
        return result

    return check


# -- the options ------------------------------------------------------------------------------


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
        "qbittorrent.password", "", parse_str,
        "WebUI password. Prefer --qbittorrent.password-file: flags are visible in `ps`.", secret=True,
    ),
    Option("qbittorrent.password-file", "", parse_file, "File holding the WebUI password.", metavar="FILE"),
    Option("qbittorrent.api-key", "", parse_str, "API key (qBittorrent 5.2+), sent as a Bearer token.", secret=True),
    Option("qbittorrent.api-key-file", "", parse_file, "File holding the API key.", metavar="FILE"),
    Option("qbittorrent.ca-file", "", parse_file, "CA bundle to verify an https:// qBittorrent.", metavar="FILE"),
    Option(
        "qbittorrent.insecure-skip-verify", False, parse_bool,
        "Do not verify qBittorrent's TLS certificate (exposes the password to a man in the middle).",
    ),
    Option(
        "qbittorrent.timeout", 4.0, positive(parse_duration, 60),
        "Timeout of one request to qBittorrent. The client tries twice, so keep 2x this under the "
        "scrape timeout.",
    ),
    Option(
        "qbittorrent.full-sync-timeout", 30.0, positive(parse_duration, 600),
        "Timeout of a full sync (first, periodic, after errors): at 100,000 torrents qBittorrent needs "
        "seconds to build that response. The scrape that triggers one may time out; the sync still completes.",
    ),
    Option(
        "qbittorrent.min-sync-age", 1.0, parse_duration,
        "Serve the mirror without asking qBittorrent if it is younger than this (many scrapers, one request).",
    ),
    Option(
        "qbittorrent.full-resync-interval", 3600.0, positive(parse_duration),
        "Re-download the full state this often, in case a delta was missed.",
    ),
    Option("qbittorrent.name", "", parse_str, "Name of this instance in logs (default: the URL)."),
    Option(
        "web.listen-address", f":{DEFAULT_PORT}", parse_listen_address,
        "Address to serve /metrics on, host:port (empty host = all interfaces).", metavar="ADDR",
    ),
    Option(
        "web.config-file", "", parse_file,
        "Prometheus exporter-toolkit web config (TLS, basic auth).", metavar="FILE",
    ),
    Option("web.telemetry-path", "/metrics", parse_str, "Path of the metrics endpoint."),
    Option(
        "metrics.per-torrent", False, parse_bool,
        "Also export one series per torrent (hash label; names only in qbittorrent_torrent_info). "
        "Costly on large instances.",
    ),
    Option("log.level", "info", choice("debug", "info", "warning", "error"), "Log level."),
    Option("log.format", "text", choice("text", "json"), "Log format."),
    Option(
        "actions.enabled", True, parse_bool,
        "Kill switch: false runs no scheduled job (control, completion), so nothing is written to qBittorrent.",
    ),
    Option(
        "actions.dry-run", False, parse_bool,
        "Jobs decide, log, audit and count what they would do, but write nothing and run no handler.",
    ),
    Option("data.dir", "data", parse_str, "Directory of the durable store (SQLite) used by the jobs.", metavar="DIR"),
)

_SECTIONS: dict[str, Callable[[Any, str], Any]] = {}


def sections() -> dict[str, Callable[[Any, str], Any]]:
    """Sections of the YAML file that are not flat options: name -> parser(raw, path) -> value.

    Imported on first use: the parsers' modules import this one.
    """
    if not _SECTIONS:
        from .actions.settings import parse_completion, parse_control
        from .policy import parse_seeding, parse_trackers

        _SECTIONS.update(trackers=parse_trackers, seeding=parse_seeding, control=parse_control,
                         completion=parse_completion)
    return _SECTIONS


@dataclass(frozen=True)
class Settings:
    qbittorrent_url: str = "http://127.0.0.1:8080"
    qbittorrent_username: str = "admin"
    qbittorrent_password: str = field(default="", repr=False)
    qbittorrent_password_file: str = ""
    qbittorrent_api_key: str = field(default="", repr=False)
    qbittorrent_api_key_file: str = ""
    qbittorrent_ca_file: str = ""
    qbittorrent_insecure_skip_verify: bool = False
    qbittorrent_timeout: float = 4.0
    qbittorrent_full_sync_timeout: float = 30.0
    qbittorrent_min_sync_age: float = 1.0
    qbittorrent_full_resync_interval: float = 3600.0
    qbittorrent_name: str = ""
    web_listen_address: tuple[str, int] = ("0.0.0.0", DEFAULT_PORT)
    web_config_file: str = ""
    web_telemetry_path: str = "/metrics"
    metrics_per_torrent: bool = False
    log_level: str = "info"
    log_format: str = "text"
    config_file: str = ""
    sections: Mapping[str, Any] = field(default_factory=dict)
    actions_enabled: bool = True
    actions_dry_run: bool = False
    data_dir: str = "data"


def _read_secret_file(path: str, name: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(name, f"cannot read file: {exc.strerror}") from None


def load_yaml(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError("config.file", f"cannot read {path!r}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError("config.file", f"{path!r} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config.file", f"{path!r} must hold a mapping at the top level")
    return data


def _flatten_yaml(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """YAML -> ({option name: raw value}, {section name: raw value}); unknown keys are errors."""
    by_path = {o.yaml_path: o for o in OPTIONS}
    groups = {p[0] for p in by_path}
    values: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for key, value in data.items():
        if key in sections():
            found[key] = value
        elif key in groups:
            if not isinstance(value, dict):
                raise ConfigError(str(key), "must be a mapping")
            for sub, raw in value.items():
                option = by_path.get((key, sub))
                if option is None:
                    known = sorted(p[1] for p in by_path if p[0] == key)
                    raise ConfigError(f"{key}.{sub}", f"unknown setting (known: {', '.join(known)})")
                values[option.name] = raw
        else:
            known = sorted(groups | set(sections()))
            raise ConfigError(str(key), f"unknown section (known: {', '.join(known)})")
    return values, found


def build_settings(
    flags: Mapping[str, Any], env: Mapping[str, str], config_file: str = ""
) -> Settings:
    """Flags ({option name: raw value}, only those given), environment and YAML -> Settings."""
    file_values: dict[str, Any] = {}
    raw_sections: dict[str, Any] = {}
    if config_file:
        file_values, raw_sections = _flatten_yaml(load_yaml(config_file))

    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.name in flags:
            raw, where = flags[option.name], option.flag
        elif option.env in env:
            raw, where = env[option.env], option.env
        elif option.name in file_values:
            raw, where = file_values[option.name], option.name.replace("-", "_")
        else:
            raw, where = option.default, option.name
        try:
            values[option.attr] = option.parse(raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(where, str(exc)) from None

    parsed = {}
    for name, parse in sections().items():
        parsed[name] = parse(raw_sections.get(name), name)

    if values["qbittorrent_password"] and values["qbittorrent_password_file"]:
        raise ConfigError("qbittorrent.password-file", "set either a password or a password file, not both")
    if values["qbittorrent_api_key"] and values["qbittorrent_api_key_file"]:
        raise ConfigError("qbittorrent.api-key-file", "set either an API key or an API key file, not both")
    if values["qbittorrent_password_file"]:
        values["qbittorrent_password"] = _read_secret_file(
            values["qbittorrent_password_file"], "qbittorrent.password-file"
        )
    if values["qbittorrent_api_key_file"]:
        values["qbittorrent_api_key"] = _read_secret_file(
            values["qbittorrent_api_key_file"], "qbittorrent.api-key-file"
        )
    if not values["web_telemetry_path"].startswith("/") or values["web_telemetry_path"] in ("/", "/healthz", "/readyz"):
        raise ConfigError("web.telemetry-path", "must start with / and not be /, /healthz or /readyz")
    if values["web_config_file"]:
        from .web import load_web_config  # validated here so check-config catches it too

        load_web_config(values["web_config_file"])
    return Settings(config_file=config_file, sections=parsed, **values)

