"""Per-tracker policy (`trackers:`) and seeding-allocation settings (`seeding:`) from the YAML config file.

    trackers:
      default: {min_ratio: 1.0, min_seed_time: 72h, points: {model: linear, per_torrent_hour: 0}}
      tracker.example.org:
        min_ratio: 0.6                  # qbittorrent_tracker_min_ratio (the ratio emergency acts below it)
        min_seed_time: 72h              # hit-and-run rule: seed time a completed torrent owes the tracker
        points: {model: gazelle}        # bonus-point model and its parameters (below)
        reported_points_per_hour: 310   # what the site says you earn: measures the estimate's error
    seeding:
      upload_capacity: 100Mbit    # bytes/s (KB MB GB, KiB MiB GiB, kbit Mbit Gbit); 0 = the upload limit
      slot_upload: 1MiB           # upload one active seed is expected to use: slots = capacity / this
      min_slots: 1
      max_slots: 0                # 0 = no limit; seeds still owing hit-and-run time always get a slot
      idle_window: 24h            # a seed with no upload activity this long counts as idle
      demand_weight: 1.0          # rank value per leecher per seeder
      scarcity_weight: 1.0        # rank value of being the only seeder (weight / seeders)

Points models (formulas and sources: docs/bonus-points.md; allocation: docs/seeding-allocation.md):

    {model: gazelle, base: 0.0433, growth: 0.07, seeder_exponent: 0.35, time_scale: 24h}
    {model: unit3d}                               # UNIT3D's default rule table
    {model: unit3d, rules: [{name: dying, points: 2, seeders: {below: 2}}, ...]}    # your own table
    {model: linear, per_torrent_hour: 0, per_gib_hour: 0, max_per_torrent_hour: null,
     after_min_seed_time: false}

A unit3d rule adds `points` per hour when every variable it names is in range (min <= value < below):
`seeders`, `leechers`, `size` (bytes; units allowed), `seed_time` and `age` (durations).

Keys under `trackers:` are tracker hosts (lower case, no port). `default` applies to every other host.
A host entry inherits every field it does not set from `default`, except `reported_points_per_hour`,
which belongs to one site. A `points:` mapping is complete on its own: its parameters default to the
model's, not to the `default` entry's. Every error names the field's YAML path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from functools import partial
from types import MappingProxyType
from typing import Any

from ..managers.points import MODELS, RULE_VARIABLES, PointsModel, Range, Rule
from ..managers.policy import SeedingSettings, TrackerPolicies, TrackerPolicy
from .values import (
    ConfigError,
    duration,
    flag,
    mapping,
    number,
    parse_bytes,
    positive,
    positive_duration,
    whole,
)

# -- points ------------------------------------------------------------------------------------

# Bounds of a UNIT3D rule variable: sizes in bytes (units allowed), times as durations.
_BOUND_PARSERS: dict[str, Callable[[Any, str], float]] = {
    "seeders": number,
    "leechers": number,
    "size": parse_bytes,
    "seed_time": duration,
    "age": duration,
}
assert set(_BOUND_PARSERS) == set(RULE_VARIABLES)


def _range(raw: Any, path: str, bound: Callable[[Any, str], float]) -> Range:
    values = mapping(raw, path, {"min": bound, "below": bound})
    if not values:
        raise ConfigError(path, "needs min and/or below")
    rng = Range(**values)
    if rng.min >= rng.below:
        raise ConfigError(path, "min must be less than below")
    return rng


def _bounds(raw: Any, path: str, bound: Callable[[Any, str], float]) -> Range:
    return _range(raw, path, bound)


def _rules(raw: Any, path: str) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        raise ConfigError(
            path, "must be a list of rules such as {name: dying, points: 2, seeders: {below: 2}}"
        )
    rules = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(where, "must be a mapping")
        parsers: dict[str, Callable[[Any, str], Any]] = {"name": _rule_name, "points": number}
        for var, bound in _BOUND_PARSERS.items():
            parsers[var] = partial(_bounds, bound=bound)
        values = mapping(item, where, parsers)
        for required in ("name", "points"):
            if required not in values:
                raise ConfigError(f"{where}.{required}", "is required")
        when = tuple((var, values[var]) for var in _BOUND_PARSERS if var in values)
        rules.append(Rule(values["name"], values["points"], when))
    return tuple(rules)


def _rule_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(path, "must be a non-empty string")
    return value


def _optional_number(value: Any, path: str) -> float | None:
    return None if value is None else number(value, path)


POINTS_PARAMETERS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "gazelle": {"base": number, "growth": number, "seeder_exponent": number, "time_scale": positive_duration},
    "linear": {
        "per_torrent_hour": number,
        "per_gib_hour": number,
        "max_per_torrent_hour": _optional_number,
        "after_min_seed_time": flag,
    },
    "unit3d": {"rules": _rules},
}
assert set(POINTS_PARAMETERS) == set(MODELS)


def parse_points(raw: Any, path: str) -> PointsModel:
    if not isinstance(raw, dict):
        raise ConfigError(path, f"must be a mapping with a model ({', '.join(MODELS)})")
    model = raw.get("model")
    if model not in MODELS:
        shown = "missing" if model is None else f"{model!r} is unknown"
        raise ConfigError(f"{path}.model", f"{shown} (known: {', '.join(MODELS)})")
    params = {k: v for k, v in raw.items() if k != "model"}
    return MODELS[model](**mapping(params, path, POINTS_PARAMETERS[model]))


# -- trackers ----------------------------------------------------------------------------------

FIELD_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "min_ratio": number,
    "min_seed_time": duration,
    "points": parse_points,
    "reported_points_per_hour": positive,
}
assert set(FIELD_PARSERS) == {f.name for f in fields(TrackerPolicy)}


def parse_policy(raw: Any, path: str, base: TrackerPolicy) -> TrackerPolicy:
    if raw is None:
        return base
    return replace(base, **mapping(raw, path, FIELD_PARSERS))


def parse_trackers(raw: Any, path: str = "trackers") -> TrackerPolicies:
    if raw is None:
        return TrackerPolicies()
    if not isinstance(raw, dict):
        raise ConfigError(path, "must map tracker hosts to policies")
    default = parse_policy(raw.get("default"), f"{path}.default", TrackerPolicy())
    if default.reported_points_per_hour is not None:
        raise ConfigError(
            f"{path}.default.reported_points_per_hour",
            "belongs to one site: set it under that tracker's host",
        )
    hosts = {}
    for host, value in raw.items():
        if host == "default":
            continue
        if not isinstance(host, str) or not host or "/" in host or ":" in host:
            raise ConfigError(
                f"{path}.{host}",
                "must be a tracker host such as tracker.example.org (no scheme, port or path)",
            )
        hosts[host.lower()] = parse_policy(value, f"{path}.{host}", default)
    return TrackerPolicies(default=default, hosts=MappingProxyType(hosts))


# -- seeding -----------------------------------------------------------------------------------

SEEDING_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "upload_capacity": parse_bytes,
    "slot_upload": lambda v, p: positive(parse_bytes(v, p), p),
    "min_slots": whole(0),
    "max_slots": whole(0),
    "idle_window": duration,
    "demand_weight": number,
    "scarcity_weight": number,
}
assert set(SEEDING_PARSERS) == {f.name for f in fields(SeedingSettings)}


def parse_seeding(raw: Any, path: str = "seeding") -> SeedingSettings:
    if raw is None:
        return SeedingSettings()
    settings = SeedingSettings(**mapping(raw, path, SEEDING_PARSERS))
    if settings.max_slots and settings.min_slots > settings.max_slots:
        raise ConfigError(f"{path}.min_slots", f"must not exceed max_slots ({settings.max_slots})")
    return settings
