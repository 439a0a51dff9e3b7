"""The value parsers of the configuration, and ConfigError.

Two shapes:
- flat options (flag, environment, YAML leaf; options.py): `parse(raw) -> value`, raising ValueError;
  build_settings names the field;
- fields of the YAML sections (trackers:, seeding:, control:, completion:): `parse(raw, path) -> value`,
  raising ConfigError(path, why), so every error names the field ("control.stalled.stall_after: ...").
Each check exists once: the section parsers wrap the flat ones where both need it.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..durations import parse_duration

DEFAULT_PORT = 9713


class ConfigError(ValueError):
    """A bad setting. `path` is the field ("qbittorrent.url", "trackers.default.min_ratio")."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


# -- flat options: parse(raw) -> value, ValueError on bad input ---------------------------------


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


def check_http_url(text: str) -> str:
    """An http(s) URL with a host; the error never repeats it (a URL may carry a token)."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080")
    return text


def parse_url(value: Any) -> str:
    text = check_http_url(parse_str(value).strip().rstrip("/"))
    parts = urlsplit(text)
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


def read_secret(path: str, field: str) -> str:
    """The secret in file `path` (stripped); ConfigError naming `field` if it cannot be read."""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(field, f"cannot read file: {exc.strerror}") from None


def choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = parse_str(value).strip().lower()
        if text not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return text

    return parse


def above_zero(parse: Callable[[Any], float], maximum: float | None = None) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        result = parse(value)
        if result <= 0:
            raise ValueError("must be greater than 0")
        if maximum is not None and result > maximum:
            raise ValueError(f"must be at most {maximum:g}")
        return result

    return check


# -- fields of the YAML sections: parse(raw, path) -> value, ConfigError naming the path ----------

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


def http_url(value: Any, path: str) -> str:
    try:
        return check_http_url(text(value, path))
    except ValueError as exc:
        raise ConfigError(path, str(exc)) from None


def secret_file(value: Any, path: str) -> str:
    """The secret held in the file named by `value`."""
    return read_secret(text(value, path), path)


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
        raise ConfigError(
            path, f"{value!r} is ambiguous: write {written[0]}B for bytes or {written[0]}bit for bits"
        )
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
