"""The `control:` and `completion:` sections of the YAML config file, parsed into frozen settings.

control:
  interval: 1m
  dry_run: false                  # this job only; --actions.dry-run covers every job
  stalled:
    enabled: true
    stall_after: 15m              # no progress for this long
    grace: 10m                    # ignore torrents added less than this ago
    cooldown: 10m                 # between two steps of the ladder
    recheck: false                # add a recheck step before giving up
    tag: stalled                  # the give-up tag
    max_actions_per_run: 10
    max_actions_per_tracker: 3
    exclude_tags: [keep]
    exclude_categories: [manual]
  ratio_emergency:
    enabled: true
    margin: 0.05                  # start below min_ratio + margin (min_ratio from `trackers:`)
    hysteresis: 0.1               # end at or above min_ratio + margin + hysteresis
    min_downloaded: 1GiB          # a scope with less downloaded is never in emergency
    global: false                 # also watch the global ratio (policy `trackers.default`)
    trackers: []                  # hosts to watch; empty = every tracker host
    tag: ratio-emergency
    max_actions_per_run: 50
  seeding_slots:                  # qBittorrent's max_active_uploads <- the `seeding:` recommendation
    enabled: false
    min: 1                        # bounds of what this job may set
    max: 100
    cooldown: 10m                 # between two changes
  unregistered:                   # needs the tracker scan (`tracker_scan:`, on by default)
    enabled: false
    after: 6h                     # every live tracker of the torrent has said "unregistered" this long
    tag: unregistered             # removed again when one of its trackers knows it again
    stop: false                   # also stop it; nothing is ever deleted
    outage_share: 0.5             # the outage guard: when more than this share of one host's torrents
    outage_min_torrents: 5        #   (and at least this many) turn unregistered within
    outage_window: 1h             #   this window, none of them is acted on (logged once, counted)
    max_actions_per_run: 20
completion:
  interval: 10s
  backfill: 0s                    # first start only: also handle completions this recent
  max_runs_per_run: 20
  handlers:
    - {name: notify, type: webhook, url: "https://...", secret_file: /run/secrets/hook, timeout: 10s}
    - {name: unpack, type: command, argv: [/usr/local/bin/unpack, "%F"], timeout: 5m,
       filter: {categories: [tv]}}
    - {name: done, type: set_category, category: done, filter: {trackers: [tracker.example.org]}}
    - {name: tag, type: add_tags, tags: [completed], retries: 2, backoff: 1m}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..actions.settings import (
    HANDLER_TYPES,
    PLACEHOLDERS,
    CompletionSettings,
    ControlSettings,
    EmergencySettings,
    HandlerSettings,
    SlotsSettings,
    StalledSettings,
    UnregisteredSettings,
)
from ..managers.policy import EmergencyPolicy, Filter, SlotsPolicy, StallPolicy, UnregisteredPolicy
from .fields import (
    Parser,
    bounded_duration,
    duration,
    flag,
    http_url,
    mapping,
    number,
    parse_bytes,
    tag,
    tags,
    text,
    texts,
    tracker_hosts,
    whole,
)
from .files import secret_file
from .limits import MAX_COUNT, MAX_INTERVAL, MAX_RATIO, MAX_RETRIES, MIN_INTERVAL
from .values import ConfigError, kind

# -- value parsers: (raw, path) -> value, raising ConfigError naming the path --------------------

# How often a job runs, a handler's timeout: from 100ms to 1 day (limits.py).
_interval = bounded_duration(MIN_INTERVAL, MAX_INTERVAL)
_count = whole(1, MAX_COUNT)
_ratio = number(MAX_RATIO)


def _size(value: Any, path: str) -> int:
    return int(parse_bytes(value, path))


def _mapping(raw: Any, path: str, spec: Mapping[str, Parser]) -> dict[str, Any]:
    return {} if raw is None else mapping(raw, path, spec)


# -- control: ----------------------------------------------------------------------------------

_FEATURE = {"enabled": flag, "dry_run": flag}
_STALL = {
    **_FEATURE,
    "stall_after": duration,
    "grace": duration,
    "cooldown": duration,
    "recheck": flag,
    "tag": tag,
    "max_actions_per_run": _count,
    "max_actions_per_tracker": _count,
    "exclude_tags": tags,
    "exclude_categories": texts,
}
_EMERGENCY = {
    **_FEATURE,
    "margin": _ratio,
    "hysteresis": _ratio,
    "min_downloaded": _size,
    "global": flag,
    "trackers": tracker_hosts,
    "tag": tag,
    "max_actions_per_run": _count,
}
_SLOTS = {**_FEATURE, "min": _count, "max": _count, "cooldown": duration}
_UNREGISTERED = {
    **_FEATURE,
    "after": duration,
    "tag": tag,
    "stop": flag,
    "outage_share": number(1.0),
    "outage_min_torrents": _count,
    "outage_window": duration,
    "max_actions_per_run": _count,
}


def _feature(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values.pop(k) for k in ("enabled", "dry_run") if k in values}


def parse_control(raw: Any, path: str = "control") -> ControlSettings:
    if raw is None:
        return ControlSettings()
    top = _mapping(
        raw,
        path,
        {
            "interval": _interval,
            "dry_run": flag,
            "stalled": lambda v, p: v,
            "ratio_emergency": lambda v, p: v,
            "seeding_slots": lambda v, p: v,
            "unregistered": lambda v, p: v,
        },
    )
    stall = _mapping(top.pop("stalled", None), f"{path}.stalled", _STALL)
    stall_feature = _feature(stall)
    emergency = _mapping(top.pop("ratio_emergency", None), f"{path}.ratio_emergency", _EMERGENCY)
    emergency_feature = _feature(emergency)
    if "global" in emergency:
        emergency["include_global"] = emergency.pop("global")
    slots = _mapping(top.pop("seeding_slots", None), f"{path}.seeding_slots", _SLOTS)
    slots_feature = _feature(slots)
    unregistered = _mapping(top.pop("unregistered", None), f"{path}.unregistered", _UNREGISTERED)
    unregistered_feature = _feature(unregistered)
    slots_policy = SlotsPolicy(
        minimum=slots.get("min", 1), maximum=slots.get("max", 100), cooldown=slots.get("cooldown", 600.0)
    )
    if slots_policy.minimum > slots_policy.maximum:
        raise ConfigError(f"{path}.seeding_slots.min", f"must not exceed max ({slots_policy.maximum})")
    return ControlSettings(
        configured=True,
        **top,
        stalled=StalledSettings(**stall_feature, policy=StallPolicy(**stall)),
        ratio_emergency=EmergencySettings(**emergency_feature, policy=EmergencyPolicy(**emergency)),
        seeding_slots=SlotsSettings(**slots_feature, policy=slots_policy),
        unregistered=UnregisteredSettings(
            **unregistered_feature,
            policy=UnregisteredPolicy(enabled=unregistered_feature.get("enabled", False), **unregistered),
        ),
    )


# -- completion: -------------------------------------------------------------------------------


def _argv(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, "must be a non-empty list of strings (the program, then its arguments)")
    for i, arg in enumerate(value):
        for letter in re.findall(r"%(.)", arg.replace("%%", "")):
            if letter not in PLACEHOLDERS:
                raise ConfigError(
                    f"{path}[{i}]",
                    f"unknown placeholder %{letter} "
                    f"(known: {' '.join('%' + k for k in PLACEHOLDERS)} and %% for %)",
                )
    return tuple(value)


def _filter(value: Any, path: str) -> Filter:
    return Filter(**_mapping(value, path, {"categories": texts, "trackers": tracker_hosts, "tags": tags}))


_HANDLER = {
    "name": text,
    "type": text,
    "dry_run": flag,
    "retries": whole(0, MAX_RETRIES),
    "backoff": bounded_duration(0, MAX_INTERVAL),
    "timeout": _interval,
    "url": http_url,
    "secret": text,
    "secret_file": secret_file,
    "argv": _argv,
    "category": text,
    "tags": tags,
    "filter": _filter,
}
_REQUIRED = {"webhook": ("url",), "command": ("argv",), "set_category": ("category",), "add_tags": ("tags",)}


def _handler(raw: Any, path: str) -> HandlerSettings:
    values = _mapping(raw, path, _HANDLER)
    for key in ("name", "type"):
        if key not in values:
            raise ConfigError(f"{path}.{key}", "is required")
    name, kind = values.pop("name"), values.pop("type")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ConfigError(
            f"{path}.name", "must be 1-64 letters, digits, '_', '.' or '-' (it is a metric label)"
        )
    if kind not in HANDLER_TYPES:
        raise ConfigError(f"{path}.type", f"must be one of {', '.join(HANDLER_TYPES)}")
    for key in _REQUIRED[kind]:
        if key not in values:
            raise ConfigError(f"{path}.{key}", f"is required for a {kind} handler")
    if "secret" in values and "secret_file" in values:
        raise ConfigError(f"{path}.secret_file", "set either secret or secret_file, not both")
    if "secret_file" in values:
        values["secret"] = values.pop("secret_file")
    if "tags" in values:
        values["tags"] = tuple(sorted(values["tags"]))
    return HandlerSettings(name=name, type=kind, **values)


def parse_completion(raw: Any, path: str = "completion") -> CompletionSettings:
    if raw is None:
        return CompletionSettings()
    values = _mapping(
        raw,
        path,
        {
            "interval": _interval,
            "dry_run": flag,
            "backfill": duration,
            "max_runs_per_run": _count,
            "handlers": lambda v, p: v,
        },
    )
    raw_handlers = values.pop("handlers", None)
    if raw_handlers is None:
        raw_handlers = []
    if not isinstance(raw_handlers, list):
        raise ConfigError(f"{path}.handlers", f"must be a list of handlers, not {kind(raw_handlers)}")
    handlers = tuple(_handler(h, f"{path}.handlers[{i}]") for i, h in enumerate(raw_handlers))
    names = [h.name for h in handlers]
    for i, name in enumerate(names):
        if name in names[:i]:
            first = names.index(name)
            raise ConfigError(f"{path}.handlers[{i}].name", f"is also the name of handlers[{first}]")
    return CompletionSettings(configured=True, handlers=handlers, **values)
