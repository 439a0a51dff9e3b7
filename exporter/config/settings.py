"""Settings from flags, environment variables and an optional YAML file, validated into frozen Settings.

Every flat option has one row in OPTIONS (options.py): the flag, the environment variable and the YAML
key all come from it. Precedence: flag > environment > config file > default. The YAML sections that
are not flat options (`trackers:`, `seeding:`, `control:`, `completion:`, `tracker_scan:`) are parsed
by the functions in SECTIONS, the web config file by web.py. Every error names the field (its YAML
path, or the flag) and says why; no error ever repeats a secret's value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..actions.settings import CompletionSettings, ControlSettings, JobsSettings, TrackerScanSettings
from ..http.server import WebConfig
from ..managers.policy import SeedingSettings, TrackerPolicies
from ..store import StoreSettings
from .actions import parse_completion, parse_control
from .files import load_yaml, read_secret
from .instances import (
    CONNECTION_KEYS,
    FLAG_NAME,
    InstanceSettings,
    check_jobs,
    check_name,
    connection_of,
    default_name,
    parse_instances,
)
from .options import OPTIONS
from .policy import parse_seeding, parse_trackers
from .tracker_scan import parse_tracker_scan
from .values import DEFAULT_PORT, ConfigError, unknown_key
from .web import load_web_config

# The YAML sections that are not flat options: name -> parser(raw, path); each is a Settings field.
SECTIONS: dict[str, Callable[[Any, str], Any]] = {
    "trackers": parse_trackers,
    "seeding": parse_seeding,
    "control": parse_control,
    "completion": parse_completion,
    "tracker_scan": parse_tracker_scan,
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
    web_header_timeout: float = 10.0
    web_idle_timeout: float = 90.0
    web_scrape_timeout: float = 8.0
    web_scrape_timeout_offset: float = 0.5
    metrics_per_torrent: bool = False
    log_level: str = "info"
    log_format: str = "text"
    config_file: str = ""
    actions_enabled: bool = True
    actions_dry_run: bool = False
    data_dir: str = "data"
    store_url: str = ""
    store_password_file: str = ""
    store_password: str = field(default="", repr=False)
    store_lease_ttl: float = 15.0
    # The YAML sections and the web config file, parsed (defaults when absent).
    trackers: TrackerPolicies = field(default_factory=TrackerPolicies)
    seeding: SeedingSettings = field(default_factory=SeedingSettings)
    control: ControlSettings = field(default_factory=ControlSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    tracker_scan: TrackerScanSettings = field(default_factory=TrackerScanSettings)
    web: WebConfig = field(default_factory=WebConfig)
    # The watched qBittorrents: from `instances:`, or the one the --qbittorrent.* flags describe.
    instances: tuple[InstanceSettings, ...] = ()

    @property
    def store(self) -> StoreSettings:
        return StoreSettings(self.data_dir, self.store_url, self.store_password, self.store_lease_ttl)

    @property
    def jobs(self) -> JobsSettings:
        return JobsSettings(
            control=self.control,
            completion=self.completion,
            trackers=self.trackers,
            seeding=self.seeding,
            tracker_scan=self.tracker_scan,
            enabled=self.actions_enabled,
            dry_run=self.actions_dry_run,
            data_dir=self.data_dir,
        )


def _flatten_yaml(data: Mapping[Any, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """YAML -> ({option name: raw value}, {section name: raw value}); unknown keys are errors."""
    by_path = {o.yaml_path: o for o in OPTIONS}
    groups = {p[0] for p in by_path}
    values: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for position, (key, value) in enumerate(data.items(), 1):
        if key in SECTIONS or key == "instances":
            found[key] = value
        elif key in groups:
            if not isinstance(value, dict) and value is not None:
                raise ConfigError(key, "must be a mapping")
            for sub_position, (sub, raw) in enumerate((value or {}).items(), 1):
                option = by_path.get((key, sub))
                if option is None:
                    known = [p[1] for p in by_path if p[0] == key]
                    raise unknown_key(key, sub, sub_position, known, "setting")
                values[option.name] = raw
        else:
            raise unknown_key("", key, position, groups | set(SECTIONS) | {"instances"}, "section")
    return values, found


def build_settings(flags: Mapping[str, Any], env: Mapping[str, str], config_file: str = "") -> Settings:
    """Flags ({option name: raw value}, only those given), environment and YAML -> Settings."""
    file_values: dict[str, Any] = {}
    raw_sections: dict[str, Any] = {}
    if config_file:
        file_values, raw_sections = _flatten_yaml(load_yaml(config_file, "config.file"))

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
    values["store_password"] = (
        read_secret(values["store_password_file"], "store.password-file")
        if values["store_password_file"]
        else ""
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
    settings = Settings(config_file=config_file, web=web, **parsed, **values)
    if "instances" in raw_sections:
        given = [
            o
            for o in OPTIONS
            if o.name.startswith("qbittorrent.")
            and (o.name in flags or o.env in env or o.name in file_values)
        ]
        if given:
            where = (
                given[0].flag
                if given[0].name in flags
                else given[0].env
                if given[0].env in env
                else (given[0].name.replace("-", "_"))
            )
            raise ConfigError(
                where, "describes one qBittorrent, but `instances:` lists them: use one or the other"
            )
        instances = parse_instances(raw_sections["instances"], env, SECTIONS, parsed, settings.jobs)
    else:
        instances = (_flag_instance(settings),)
        check_jobs(settings.jobs, "")
    return replace(settings, instances=instances)


def _flag_instance(settings: Settings) -> InstanceSettings:
    """The one qBittorrent the --qbittorrent.* options describe."""
    name = check_name(
        settings.qbittorrent_name or default_name(settings.qbittorrent_url), "qbittorrent.name", FLAG_NAME
    )
    values = {key: getattr(settings, f"qbittorrent_{key}") for key in CONNECTION_KEYS}
    return InstanceSettings(
        name=name,
        connection=connection_of(values),
        min_sync_age=settings.qbittorrent_min_sync_age,
        full_resync_interval=settings.qbittorrent_full_resync_interval,
        trackers=settings.trackers,
        seeding=settings.seeding,
        jobs=settings.jobs,
    )
