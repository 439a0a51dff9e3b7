"""Per-tracker policy, from the `trackers:` section of the YAML config file.

    trackers:
      default: {min_ratio: 1.0, min_seed_time: 72h}
      tracker.example.org: {min_ratio: 0.6}

Keys are tracker hosts (lower case, no port). `default` applies to every other host, and to
torrents with no tracker. A host entry inherits every field it does not set from `default`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Mapping

from .config import ConfigError, parse_duration


@dataclass(frozen=True)
class TrackerPolicy:
    min_ratio: float = 1.0
    min_seed_time: float = 0.0  # seconds; the hit-and-run rule


@dataclass(frozen=True)
class TrackerPolicies:
    default: TrackerPolicy = field(default_factory=TrackerPolicy)
    hosts: Mapping[str, TrackerPolicy] = field(default_factory=dict)

    def for_host(self, host: str) -> TrackerPolicy:
        return self.hosts.get(host.lower(), self.default)


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, "must be a number")
    if value < 0 or value != value or value == float("inf"):
        raise ConfigError(path, "must be a finite number >= 0")
    return float(value)


def _duration(value: Any, path: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(path, str(exc)) from None


FIELD_PARSERS = {"min_ratio": _number, "min_seed_time": _duration}


def parse_policy(raw: Any, path: str, base: TrackerPolicy) -> TrackerPolicy:
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise ConfigError(path, "must be a mapping")
    known = [f.name for f in fields(TrackerPolicy)]
    values = {}
    for key, value in raw.items():
        parser = FIELD_PARSERS.get(key)
        if parser is None:
            raise ConfigError(f"{path}.{key}", f"unknown key (known: {', '.join(known)})")
        values[key] = parser(value, f"{path}.{key}")
    return replace(base, **values)


def parse_trackers(raw: Any, path: str = "trackers") -> TrackerPolicies:
    if raw is None:
        return TrackerPolicies()
    if not isinstance(raw, dict):
        raise ConfigError(path, "must map tracker hosts to policies")
    default = parse_policy(raw.get("default"), f"{path}.default", TrackerPolicy())
    hosts = {}
    for host, value in raw.items():
        if host == "default":
            continue
        if not isinstance(host, str) or not host or "/" in host or ":" in host:
            raise ConfigError(f"{path}.{host}", "must be a tracker host such as tracker.example.org (no scheme, port or path)")
        hosts[host.lower()] = parse_policy(value, f"{path}.{host}", default)
    return TrackerPolicies(default=default, hosts=MappingProxyType(hosts))
