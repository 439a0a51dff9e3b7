"""Parsers for the fields of the YAML config sections (trackers:, seeding:, control:, completion:).

Each takes (raw value, path) and returns the parsed value or raises ConfigError(path, why), so every
error names the field ("control.stalled.stall_after: ..."). Flat options use the plain parsers in
config.py; these wrap them for nested sections.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

from .config import ConfigError, parse_duration

Parser = Callable[[Any, str], Any]


def number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, "must be a number")
    if value < 0 or value != value or value == math.inf:
        raise ConfigError(path, "must be a finite number >= 0")
    return float(value)


def positive(value: Any, path: str) -> float:
    result = number(value, path)
    if result <= 0:
        raise ConfigError(path, "must be greater than 0")
    return result


def whole(minimum: int) -> Parser:
    def parse(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(path, f"must be a whole number >= {minimum}")
        return value

    return parse


def flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, "must be true or false")
    return value


def duration(value: Any, path: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(path, str(exc)) from None


def positive_duration(value: Any, path: str) -> float:
    result = duration(value, path)
    if result <= 0:
        raise ConfigError(path, "must be longer than 0")
    return result


def text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, "must be a non-empty string")
    return value.strip()


def texts(value: Any, path: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, "must be a list of strings")
    return frozenset(value)


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*((?:[kmgtp]i?)?b|[kmgt]?bit)?(?:/s)?", re.IGNORECASE)
_DECIMAL = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}


def parse_bytes(value: Any, path: str) -> float:
    """Bytes from 1500, "25GiB", "1.5GB", "100Mbit", "10MiB/s". KB/MB/GB are powers of 1000, KiB/MiB/GiB
    of 1024, and kbit/Mbit/Gbit are bits (divided by 8). "Mb" is refused: bytes or bits is unclear."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value, path)
    m = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ConfigError(path, f"{value!r} is not a size such as 1500, 25GiB, 1.5GB or 100Mbit")
    amount, written = float(m.group(1)), m.group(2) or "B"
    unit = written.lower()
    if unit.endswith("bit"):
        return amount * _DECIMAL[unit[:-3]] / 8
    if written.endswith("b") and len(written) == 2:
        raise ConfigError(path, f"{value!r} is ambiguous: write {written[0]}B for bytes or {written[0]}bit for bits")
    if unit.endswith("ib"):
        return amount * 1024 ** ("kmgtp".index(unit[0]) + 1)
    return amount * _DECIMAL[unit[:-1]]


def mapping(raw: Any, path: str, parsers: Mapping[str, Parser]) -> dict[str, Any]:
    """Parse a mapping whose keys must all be in `parsers`."""
    if not isinstance(raw, dict):
        raise ConfigError(path, "must be a mapping")
    values = {}
    for key, value in raw.items():
        parse = parsers.get(key)
        if parse is None:
            raise ConfigError(f"{path}.{key}", f"unknown key (known: {', '.join(sorted(parsers))})")
        values[key] = parse(value, f"{path}.{key}")
    return values
