"""The parsers of the fields of the YAML sections: `parse(raw, path) -> value`, raising ConfigError(path,
why) so that every error names the field ("control.stalled.stall_after: ..."); values.py says what no
error may contain. Numbers and durations are bounded by limits.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..durations import duration_text, parse_duration
from .limits import MAX_BYTES, MAX_DURATION
from .values import ConfigError, bytes_text, check_http_url, kind, number_text, unknown_key

Parser = Callable[[Any, str], Any]


def number(maximum: float) -> Parser:
    """A number from 0 to `maximum`. NaN, infinities and integers too large for a float are refused by
    the same comparison, before any conversion could overflow."""

    def parse(value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"must be a number, not {kind(value)}")
        if not 0 <= value <= maximum:
            raise ConfigError(path, f"must be a number from 0 to {number_text(maximum)}")
        return float(value)

    return parse


def positive(maximum: float) -> Parser:
    """A number above 0, at most `maximum`."""
    at_most = number(maximum)

    def parse(value: Any, path: str) -> float:
        result = at_most(value, path)
        if result <= 0:
            raise ConfigError(path, "must be greater than 0")
        return result

    return parse


def whole(minimum: int, maximum: int) -> Parser:
    def parse(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise ConfigError(path, f"must be a whole number from {minimum} to {maximum}")
        return value

    return parse


def flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, "must be true or false")
    return value


def bounded_duration(minimum: float, maximum: float) -> Parser:
    """A duration from `minimum` to `maximum`, both included."""
    low = f"{minimum * 1000:g}ms" if minimum < 1 else duration_text(minimum)

    def parse(value: Any, path: str) -> float:
        try:
            result = parse_duration(value, maximum)
        except ValueError as exc:
            raise ConfigError(path, str(exc)) from None
        if result < minimum:
            raise ConfigError(path, f"must be at least {low}")
        return result

    return parse


duration = bounded_duration(0, MAX_DURATION)  # any duration: from 0 to 10 years


def positive_duration(value: Any, path: str) -> float:
    result = duration(value, path)
    if result <= 0:
        raise ConfigError(path, "must be longer than 0")
    return result


def http_url(value: Any, path: str) -> str:
    try:
        return check_http_url(text(value, path))
    except ValueError as exc:
        raise ConfigError(path, str(exc)) from None


def text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, f"must be a non-empty string, not {kind(value)}")
    return value.strip()


def texts(value: Any, path: str) -> frozenset[str]:
    """A list of strings (empty = none). A single string or a mapping is refused rather than taken as a
    list of its characters or keys."""
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise ConfigError(path, f"must be a list of strings such as [a, b], not {kind(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{path}[{i}]", f"must be a string, not {kind(item)}")
    return frozenset(value)


def tag(value: Any, path: str) -> str:
    """A qBittorrent tag: qBittorrent splits tags at commas, so a comma would make it two."""
    result = text(value, path)
    if "," in result:
        raise ConfigError(path, "a tag cannot contain a comma (qBittorrent splits tags at commas)")
    return result


def tags(value: Any, path: str) -> frozenset[str]:
    """A list of tags, each checked by `tag`."""
    result = texts(value, path)
    for i, item in enumerate(value or ()):
        tag(item, f"{path}[{i}]")
    return frozenset(t.strip() for t in result)


_HOST = re.compile(r"[\w-]+(?:\.[\w-]+)*")


def tracker_host(value: Any, path: str) -> str:
    """A tracker host as the metrics label it (lower case, no scheme, port or path). An announce URL is
    refused showing its host only: the rest holds the passkey."""
    if isinstance(value, str) and _HOST.fullmatch(value.strip()):
        return value.strip().lower()
    hint = ""
    if isinstance(value, str) and "://" in value:
        try:
            host = urlsplit(value.strip()).hostname
        except ValueError:
            host = None
        if host and _HOST.fullmatch(host):
            hint = f"; this looks like a URL: write its host, {host}"
    raise ConfigError(
        path, f"must be a tracker host such as tracker.example.org (no scheme, port or path){hint}"
    )


def tracker_hosts(value: Any, path: str) -> frozenset[str]:
    texts(value, path)
    return frozenset(tracker_host(v, f"{path}[{i}]") for i, v in enumerate(value or ()))


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*((?:[kmgtp]i?)?b|[kmgt]?bit)?(?:/s)?", re.IGNORECASE)
_DECIMAL = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}
_SIZE_EXAMPLE = "a size such as 1500, 25GiB, 1.5GB or 100Mbit"


def parse_bytes(value: Any, path: str) -> float:
    """Bytes from 1500, "25GiB", "1.5GB", "100Mbit", "10MiB/s", at most MAX_BYTES. KB/MB/GB are powers of
    1000, KiB/MiB/GiB of 1024, and kbit/Mbit/Gbit are bits (divided by 8). "Mb" is refused: bytes or bits
    is unclear."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        size = value
    else:
        size = _size_text(value, path)
    if not 0 <= size <= MAX_BYTES:
        raise ConfigError(path, f"must be {_SIZE_EXAMPLE}, from 0 to {bytes_text(MAX_BYTES)}")
    return float(size)


def _size_text(value: Any, path: str) -> float:
    m = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ConfigError(path, f"must be {_SIZE_EXAMPLE}")
    amount, written = float(m.group(1)), m.group(2) or "B"
    unit = written.lower()
    if unit.endswith("bit"):
        return amount * _DECIMAL[unit[:-3]] / 8
    if written.endswith("b") and len(written) == 2:
        raise ConfigError(path, f"is ambiguous: write {written[0]}B for bytes or {written[0]}bit for bits")
    if unit.endswith("ib"):
        return amount * 1024 ** ("kmgtp".index(unit[0]) + 1)
    return amount * _DECIMAL[unit[:-1]]


def mapping(raw: Any, path: str, parsers: Mapping[str, Parser]) -> dict[str, Any]:
    """Parse a mapping whose keys must all be in `parsers`."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"must be a mapping, not {kind(raw)}")
    values = {}
    for position, (key, value) in enumerate(raw.items(), 1):
        parse = parsers.get(key) if isinstance(key, str) else None
        if parse is None:
            raise unknown_key(path, key, position, parsers)
        values[key] = parse(value, f"{path}.{key}")
    return values
