"""Settings from flags, environment variables and an optional YAML file, validated into frozen Settings.

Every flat option has one row in OPTIONS (options.py): the flag, the environment variable and the YAML
key all come from it. Precedence: flag > environment > config file > default. The YAML sections that
are not flat options (`trackers:`, `seeding:`, `control:`, `completion:`) are parsed by the functions in
SECTIONS, the web config file by web.py. Every error names the field (its YAML path, or the flag) and
says why; no error ever repeats a secret's value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..actions.settings import CompletionSettings, ControlSettings, JobsSettings
from ..http.server import WebConfig
from ..managers.policy import SeedingSettings, TrackerPolicies
from .actions import parse_completion, parse_control
from .options import OPTIONS
from .policy import parse_seeding, parse_trackers
from .values import DEFAULT_PORT, ConfigError, read_secret
from .web import load_web_config

# The YAML sections that are not flat options: name -> parser(raw, path); each is a Settings field.
SECTIONS: dict[str, Callable[[Any, str], Any]] = {
    "trackers": parse_trackers,
    "seeding": parse_seeding,
    "control": parse_control,
    "completion": parse_completion,
}


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
    qbittorrent_max_response_size: int = 512 * 2**20
    qbittorrent_min_sync_age: float = 1.0
    qbittorrent_full_resync_interval: float = 3600.0
    qbittorrent_name: str = ""
    web_listen_address: tuple[str, int] = ("0.0.0.0", DEFAULT_PORT)
    web_config_file: str = ""
    web_telemetry_path: str = "/metrics"
    web_scrape_timeout: float = 8.0
    web_scrape_timeout_offset: float = 0.5
    metrics_per_torrent: bool = False
    log_level: str = "info"
    log_format: str = "text"
    config_file: str = ""
    actions_enabled: bool = True
    actions_dry_run: bool = False
    data_dir: str = "data"
    # The YAML sections and the web config file, parsed (defaults when absent).
    trackers: TrackerPolicies = field(default_factory=TrackerPolicies)
    seeding: SeedingSettings = field(default_factory=SeedingSettings)
    control: ControlSettings = field(default_factory=ControlSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    web: WebConfig = field(default_factory=WebConfig)

    @property
    def jobs(self) -> JobsSettings:
        return JobsSettings(
            control=self.control,
            completion=self.completion,
            trackers=self.trackers,
            seeding=self.seeding,
            enabled=self.actions_enabled,
            dry_run=self.actions_dry_run,
            data_dir=self.data_dir,
        )


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
        if key in SECTIONS:
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
            known = sorted(groups | set(SECTIONS))
            raise ConfigError(str(key), f"unknown section (known: {', '.join(known)})")
    return values, found


def build_settings(flags: Mapping[str, Any], env: Mapping[str, str], config_file: str = "") -> Settings:
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

    parsed = {name: parse(raw_sections.get(name), name) for name, parse in SECTIONS.items()}

    if values["qbittorrent_password"] and values["qbittorrent_password_file"]:
        raise ConfigError("qbittorrent.password-file", "set either a password or a password file, not both")
    if values["qbittorrent_api_key"] and values["qbittorrent_api_key_file"]:
        raise ConfigError("qbittorrent.api-key-file", "set either an API key or an API key file, not both")
    if values["qbittorrent_password_file"]:
        values["qbittorrent_password"] = read_secret(
            values["qbittorrent_password_file"], "qbittorrent.password-file"
        )
    if values["qbittorrent_api_key_file"]:
        values["qbittorrent_api_key"] = read_secret(
            values["qbittorrent_api_key_file"], "qbittorrent.api-key-file"
        )
    if not values["web_telemetry_path"].startswith("/") or values["web_telemetry_path"] in (
        "/",
        "/healthz",
        "/readyz",
    ):
        raise ConfigError("web.telemetry-path", "must start with / and not be /, /healthz or /readyz")
    web = load_web_config(values["web_config_file"]) if values["web_config_file"] else WebConfig()
    return Settings(config_file=config_file, web=web, **parsed, **values)
