"""The qBittorrents one service watches: the `instances:` list, or the --qbittorrent.* flags for one.

    instances:
      - name: seedbox                       # [a-z0-9_.-], unique: the qbittorrent="seedbox" label
        url: https://seedbox.example.net:8080
        username: admin
        password_file: /run/secrets/seedbox  # or password: ${SEEDBOX_PASSWORD} (from the environment)
        # api_key_file: ... / api_key: ${ENV}   (qBittorrent 5.2+)
        # ca_file, insecure_skip_verify, timeout, full_sync_timeout, min_sync_age, full_resync_interval:
        #   as the --qbittorrent.* flags of the same names
        previous_names: [box1]              # a rename: the ledger rows of box1 now belong to seedbox
        dry_run: true                       # its jobs decide, log and count, and write nothing
      - name: home
        url: http://127.0.0.1:8080
        password_file: /run/secrets/home
        actions: false                      # no scheduled job for this one
        control: {interval: 5m, stalled: {enabled: true}}    # replaces the top-level control: for it

The sections `trackers:`, `seeding:`, `control:`, `completion:` and `tracker_scan:` apply to every
instance; an instance may replace any of them wholesale inside its item. Secrets come from files or
`${VARIABLE}` references only, so that no password is ever written into the configuration (or printed
back from it).

Without `instances:`, the --qbittorrent.* flags (their environment variables, the `qbittorrent:` keys)
describe one instance named by --qbittorrent.name, by default the host:port of its URL. Using both is an
error. Renaming an instance without listing its old name in `previous_names` makes it a new instance: its
torrents already complete are then taken as a new baseline, never handled twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from ..actions.settings import JobsSettings
from ..managers.policy import SeedingSettings, TrackerPolicies
from ..qbt.connection import ConnectionSettings
from .fields import flag
from .files import read_secret
from .options import OPTIONS
from .values import ConfigError, unknown_key

NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
FLAG_NAME = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")  # the default, host:port, has a colon
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Keys of an item that are --qbittorrent.* options (the rest are below).
CONNECTION_KEYS = {
    o.yaml_path[1]: o for o in OPTIONS if o.yaml_path[0] == "qbittorrent" and o.name != "qbittorrent.name"
}
SECRET_KEYS = ("password", "api_key")


@dataclass(frozen=True)
class InstanceSettings:
    """One watched qBittorrent: how to reach it, and what applies to it."""

    name: str
    connection: ConnectionSettings
    min_sync_age: float = 1.0
    full_resync_interval: float = 3600.0
    trackers: TrackerPolicies = field(default_factory=TrackerPolicies)
    seeding: SeedingSettings = field(default_factory=SeedingSettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
    previous_names: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return self.connection.url


def default_name(url: str) -> str:
    """host:port of a qBittorrent URL (the port its scheme implies when none is given)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def connection_of(values: Mapping[str, Any]) -> ConnectionSettings:
    """ConnectionSettings from parsed --qbittorrent.* values ({yaml key: value}, secrets resolved)."""
    return ConnectionSettings(
        url=values["url"],
        username=values["username"],
        password=values["password"],
        api_key=values["api_key"],
        ca_file=values["ca_file"],
        insecure_skip_verify=values["insecure_skip_verify"],
        timeout=values["timeout"],
        full_sync_timeout=values["full_sync_timeout"],
        max_response_size=values["max_response_size"],
    )


def check_name(name: Any, path: str, pattern: re.Pattern[str] = NAME) -> str:
    if not isinstance(name, str) or not pattern.fullmatch(name):
        allowed = "a-z 0-9 _ . -" + (" :" if pattern is FLAG_NAME else "")
        raise ConfigError(path, f"must be 1-64 characters of {allowed}, starting with a letter or digit")
    return name


def resolve_secrets(values: dict[str, Any], path: str, env: Mapping[str, str]) -> None:
    """password/api_key from their *_file or ${ENV} form; both forms of one secret is an error."""
    for key in SECRET_KEYS:
        reference, file = values.get(key, ""), values.get(f"{key}_file", "")
        if reference and file:
            raise ConfigError(f"{path}.{key}_file", f"set either {key} or {key}_file, not both")
        if file:
            values[key] = read_secret(file, f"{path}.{key}_file")
        elif reference:
            m = ENV_REFERENCE.fullmatch(reference)
            if m is None:  # never echo it: it may be the password itself
                raise ConfigError(f"{path}.{key}", f"must be a ${{VARIABLE}} reference, or use {key}_file")
            if m.group(1) not in env:
                raise ConfigError(f"{path}.{key}", f"environment variable {m.group(1)} is not set")
            values[key] = env[m.group(1)]


def parse_instances(
    raw: Any,
    env: Mapping[str, str],
    sections: Mapping[str, Callable[[Any, str], Any]],
    defaults: Mapping[str, Any],
    jobs: JobsSettings,
) -> tuple[InstanceSettings, ...]:
    """The `instances:` list. `defaults`: the parsed top-level sections; `jobs`: the service-wide jobs."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError("instances", "must be a non-empty list of instances ({name: ..., url: ...})")
    out: list[InstanceSettings] = []
    for i, item in enumerate(raw):
        out.append(_instance(item, f"instances[{i}]", env, sections, defaults, jobs))
    claimed: dict[str, str] = {}
    for i, inst in enumerate(out):
        for name in (inst.name, *inst.previous_names):
            if name in claimed:
                raise ConfigError(
                    f"instances[{i}].name", f"the same name (or previous name) as {claimed[name]}"
                )
            claimed[name] = f"instances[{i}]"
    urls = [inst.url for inst in out]
    for i, url in enumerate(urls):
        if url in urls[:i]:
            raise ConfigError(f"instances[{i}].url", f"the same qBittorrent as instances[{urls.index(url)}]")
    return tuple(out)


def _instance(
    item: Any,
    path: str,
    env: Mapping[str, str],
    sections: Mapping[str, Callable[[Any, str], Any]],
    defaults: Mapping[str, Any],
    jobs: JobsSettings,
) -> InstanceSettings:
    if not isinstance(item, dict):
        raise ConfigError(path, "must be a mapping with at least name and url")
    known = {"name", "previous_names", "actions", "dry_run", *CONNECTION_KEYS, *sections}
    for position, key in enumerate(item, 1):
        if key not in known:
            raise unknown_key(path, key, position, known)
    for key in ("name", "url"):
        if key not in item:
            raise ConfigError(f"{path}.{key}", "is required")
    name = check_name(item["name"], f"{path}.name")
    values = {}
    for key, option in CONNECTION_KEYS.items():
        try:  # a default goes through its parser too ("512MiB" is a size)
            values[key] = option.parse(item[key] if key in item else option.default)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path}.{key}", str(exc)) from None
    resolve_secrets(values, path, env)
    previous = item.get("previous_names", [])
    if not isinstance(previous, list):
        raise ConfigError(f"{path}.previous_names", "must be a list of names")
    previous_names = tuple(
        check_name(p, f"{path}.previous_names[{j}]", FLAG_NAME) for j, p in enumerate(previous)
    )
    if name in previous_names:
        raise ConfigError(f"{path}.previous_names", "must not list the instance's own name")
    parsed = {k: (sections[k](item[k], f"{path}.{k}") if k in item else defaults[k]) for k in sections}
    instance_jobs = replace(
        jobs,
        control=parsed["control"],
        completion=parsed["completion"],
        trackers=parsed["trackers"],
        seeding=parsed["seeding"],
        tracker_scan=parsed["tracker_scan"],
        enabled=jobs.enabled and flag(item.get("actions", True), f"{path}.actions"),
        dry_run=jobs.dry_run or flag(item.get("dry_run", False), f"{path}.dry_run"),
    )
    check_jobs(instance_jobs, f"{path}.")
    return InstanceSettings(
        name=name,
        connection=connection_of(values),
        min_sync_age=values["min_sync_age"],
        full_resync_interval=values["full_resync_interval"],
        trackers=parsed["trackers"],
        seeding=parsed["seeding"],
        jobs=instance_jobs,
        previous_names=previous_names,
    )


def check_jobs(jobs: JobsSettings, prefix: str) -> None:
    """What one section needs of another: the unregistered action reads the tracker scan."""
    if jobs.control.unregistered.enabled and not jobs.tracker_scan.enabled:
        raise ConfigError(
            f"{prefix}control.unregistered.enabled",
            f"needs the tracker scan, which {prefix}tracker_scan.enabled turns off",
        )


def describe(inst: InstanceSettings) -> str:
    """One line for check-config: where it is and what applies to it; never a secret."""
    c = inst.connection
    auth = (
        "API key"
        if c.api_key
        else f"user {c.username}" + (", password set" if c.password else ", no password")
    )
    jobs = inst.jobs
    configured = jobs.configured
    if not configured:
        acting = "no jobs"
    elif not jobs.enabled:
        acting = f"jobs off ({', '.join(configured)} configured)"
    else:
        acting = "jobs " + ", ".join(configured) + (" (dry run)" if jobs.dry_run else "")
    policies = f"{len(inst.trackers.hosts)} tracker host policies"
    scan = jobs.tracker_scan
    scanning = (
        f"tracker scan at most {scan.policy.requests_per_second:g} requests/s"
        if scan.enabled
        else "no tracker scan"
    )
    extra = f"; previous names {', '.join(inst.previous_names)}" if inst.previous_names else ""
    return f"instance {inst.name}: {c.url}, {auth}; {acting}; {policies}; {scanning}{extra}"
