"""ConfigError, what every error message is made with, and the parsers of the flat options.

Two shapes of parser:
- flat options (flag, environment, YAML leaf; options.py, here): `parse(raw) -> value`, raising
  ValueError; build_settings names the field;
- fields of the YAML sections (trackers:, seeding:, control:, completion:; fields.py):
  `parse(raw, path) -> value`, raising ConfigError(path, why), so every error names the field
  ("control.stalled.stall_after: ...").
Each check exists once: the section parsers wrap the flat ones where both need it.

No error repeats the value it refuses, nor a key it does not know: either may be a password or an
announce URL with its passkey typed in the wrong place. An error says what was expected and, at most,
what kind of value it got ("a string"); an unknown key is named by its position (`qbittorrent.<key 3>`).
Every number has a maximum (limits.py), and a value of the wrong type (a list, a mapping, null, a huge
integer, NaN) is a ConfigError like any other, never a TypeError or an OverflowError.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from ..durations import parse_duration

DEFAULT_PORT = 9713


class ConfigError(ValueError):
    """A bad setting. `path` is the field ("qbittorrent.url", "trackers.default.min_ratio")."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


def kind(value: Any) -> str:
    """What sort of value `value` is, for an error that must not show the value itself."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a YAML {type(value).__name__}"


def unknown_key(path: str, key: Any, position: int, known: Iterable[str], what: str = "key") -> ConfigError:
    """The error for a key of a mapping that is none of `known`: named by its position (1-based), since
    the key may be a password or an announce URL; a known key it resembles is suggested."""
    names = sorted(known)
    close = difflib.get_close_matches(key, names, n=1) if isinstance(key, str) else []
    hint = f"did you mean {close[0]}? " if close else ""
    name = f"<key {position}>"
    # "web.config-file:" names a file: its keys follow a space ("web.config-file: <key 1>").
    where = f"{path} {name}" if path.endswith(":") else f"{path}.{name}" if path else name
    return ConfigError(where, f"unknown {what}; {hint}known: {', '.join(names)}")


def number_text(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


def bytes_text(size: float) -> str:
    for unit, shift in (("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{number_text(size / (1 << shift))} {unit}"
    return f"{number_text(size)} bytes"


# -- flat options: parse(raw) -> value, ValueError on bad input ---------------------------------


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):  # YAML's 0 and 1
        value = str(value) if value in (0, 1) else ""
    text = value.strip().lower() if isinstance(value, str) else ""
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def parse_str(value: Any) -> str:
    """Text; empty (null) is "". A number or true/false is refused rather than turned into text: YAML reads
    `0123` as 83 and `yes` as true, so a password or a name written that way would silently change."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"must be a string (put it in quotes), not {kind(value)}")
    return value


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
        raise ValueError(f"must be host:port (e.g. :{DEFAULT_PORT} or 127.0.0.1:{DEFAULT_PORT})")
    host = host.strip("[]") or "0.0.0.0"
    port = int(port_text) if port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 else -1
    if not 0 <= port <= 65535:
        raise ValueError("the port must be a number from 0 to 65535")
    if host not in ("localhost",):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9.-]+", host):
                raise ValueError("the host must be an IP address or a host name") from None
    return host, port


def parse_store_url(value: Any) -> str:
    """Empty, postgresql://user@host:port/db, or sqlite:///path; a URL never holds the password (never
    echoed: a user may have written it in)."""
    text = parse_str(value).strip()
    if not text:
        return ""
    if not text.startswith(("postgresql://", "postgres://", "sqlite:///")):
        raise ValueError("must be postgresql://user@host:port/database or sqlite:///path")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.password or "password=" in parts.query:
        raise ValueError("must not contain the password: put it in --store.password-file")
    return text


def parse_file(value: Any) -> str:
    """A path that must name a readable file (empty = not set). Not repeated: a password typed into a
    *_file setting by mistake would be."""
    text = parse_str(value).strip()
    try:
        readable = not text or os.access(text, os.R_OK)
    except ValueError:  # a NUL in the path
        readable = False
    if not readable:
        raise ValueError("the file does not exist or is not readable")
    return text


def choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = parse_str(value).strip().lower()
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return parse


def duration_option(maximum: float, allow_zero: bool = False) -> Callable[[Any], float]:
    """A duration option longer than 0 (or from 0, if `allow_zero`), at most `maximum`."""

    def check(value: Any) -> float:
        result = parse_duration(value, maximum)
        if result <= 0 and not allow_zero:
            raise ValueError("must be longer than 0")
        return result

    return check
