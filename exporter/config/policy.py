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

Keys under `trackers:` are tracker hosts (no scheme, port or path; not case-sensitive). `default` applies
to every other host. A host entry inherits every field it does not set from `default`, except
`reported_points_per_hour`, which belongs to one site. A `points:` mapping is complete on its own: its
parameters default to the model's, not to the `default` entry's. Every error names the field's YAML
path; a key that is not a host is named by its position (`trackers.<key 2>`), since an announce URL
pasted there holds a passkey. The largest value of each field: "Limits" below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from functools import partial
from types import MappingProxyType
from typing import Any

from ..managers.points import MODELS, RULE_VARIABLES, PointsModel, Range, Rule
from ..managers.policy import SeedingSettings, TrackerPolicies, TrackerPolicy
from .fields import (
    duration,
    flag,
    mapping,
    number,
    parse_bytes,
    positive,
    positive_duration,
    tracker_host,
    whole,
)
from .limits import MAX_BYTES, MAX_COUNT, MAX_EXPONENT, MAX_FACTOR, MAX_PEERS, MAX_RATIO
from .values import ConfigError

# -- points ------------------------------------------------------------------------------------

# Bounds of a UNIT3D rule variable: sizes in bytes (units allowed), times as durations.
_BOUND_PARSERS: dict[str, Callable[[Any, str], float]] = {
    "seeders": number(MAX_PEERS),
    "leechers": number(MAX_PEERS),
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
        parsers: dict[str, Callable[[Any, str], Any]] = {"name": _rule_name, "points": number(MAX_FACTOR)}
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


def _optional_factor(value: Any, path: str) -> float | None:
    return None if value is None else number(MAX_FACTOR)(value, path)


POINTS_PARAMETERS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "gazelle": {
        "base": number(MAX_FACTOR),
        "growth": number(MAX_FACTOR),
        "seeder_exponent": number(MAX_EXPONENT),
        "time_scale": positive_duration,
    },
    "linear": {
        "per_torrent_hour": number(MAX_FACTOR),
        "per_gib_hour": number(MAX_FACTOR),
        "max_per_torrent_hour": _optional_factor,
        "after_min_seed_time": flag,
    },
    "unit3d": {"rules": _rules},
}
assert set(POINTS_PARAMETERS) == set(MODELS)


def parse_points(raw: Any, path: str) -> PointsModel:
    if not isinstance(raw, dict):
        raise ConfigError(path, f"must be a mapping with a model ({', '.join(MODELS)})")
    model = raw.get("model")
    if not isinstance(model, str) or model not in MODELS:
        shown = "is required" if model is None else "is not a known model"
        raise ConfigError(f"{path}.model", f"{shown} (known: {', '.join(MODELS)})")
    params = mapping(raw, path, {"model": lambda v, p: v, **POINTS_PARAMETERS[model]})
    del params["model"]
    return MODELS[model](**params)


# -- trackers ----------------------------------------------------------------------------------

FIELD_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "min_ratio": number(MAX_RATIO),
    "min_seed_time": duration,
    "points": parse_points,
    "reported_points_per_hour": positive(MAX_FACTOR),
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
    hosts: dict[str, TrackerPolicy] = {}
    for position, (key, value) in enumerate(raw.items(), 1):
        if key == "default":
            continue
        # A bad key is named by its position: it may be an announce URL with its passkey.
        host = tracker_host(key, f"{path}.<key {position}>")
        if host in hosts:
            raise ConfigError(f"{path}.{host}", "is given twice (tracker hosts are not case-sensitive)")
        hosts[host] = parse_policy(value, f"{path}.{host}", default)
    return TrackerPolicies(default=default, hosts=MappingProxyType(hosts))


# -- seeding -----------------------------------------------------------------------------------

SEEDING_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "upload_capacity": parse_bytes,
    "slot_upload": lambda v, p: positive(MAX_BYTES)(parse_bytes(v, p), p),
    "min_slots": whole(0, MAX_COUNT),
    "max_slots": whole(0, MAX_COUNT),
    "idle_window": duration,
    "demand_weight": number(MAX_FACTOR),
    "scarcity_weight": number(MAX_FACTOR),
}
assert set(SEEDING_PARSERS) == {f.name for f in fields(SeedingSettings)}


def parse_seeding(raw: Any, path: str = "seeding") -> SeedingSettings:
    if raw is None:
        return SeedingSettings()
    settings = SeedingSettings(**mapping(raw, path, SEEDING_PARSERS))
    if settings.max_slots and settings.min_slots > settings.max_slots:
        raise ConfigError(f"{path}.min_slots", f"must not exceed max_slots ({settings.max_slots})")
    return settings
