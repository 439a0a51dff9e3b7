"""Durations: parsed from text ("1h30m"), written for people ("3h 20m"), and grown by backoff.

One place for each, shared by the configuration, the managers' reasons, the mirror and the jobs.
"""

from __future__ import annotations

import re
import sys
from typing import Any

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EXAMPLE = "a duration such as 30s, 15m or 72h"


def parse_duration(value: Any, maximum: float | None = None) -> float:
    """Seconds from "90s", "15m", "1h30m", "72h", "7d", "500ms" or a plain number of seconds, from 0 to
    `maximum` (None: any finite number). The error never repeats the value: it may be a secret typed
    into the wrong field."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"must be {_EXAMPLE}")
    seconds: float = value if not isinstance(value, str) else _seconds(value)
    # One comparison also refuses NaN, and compares an integer too large for a float without overflow.
    if not 0 <= seconds <= (sys.float_info.max if maximum is None else maximum):
        limit = "a finite duration >= 0" if maximum is None else f"between 0 and {duration_text(maximum)}"
        raise ValueError(f"must be {limit}")
    return float(seconds)


def _seconds(value: str) -> float:
    text = value.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    pos, seconds = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"must be {_EXAMPLE}")
    return seconds


def duration_text(seconds: float) -> str:
    """1d 4h, 3h 20m, 45m, 30s."""
    s = int(seconds)
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d}d {h}h" if h else f"{d}d"
    if h:
        return f"{h}h {m}m" if m else f"{h}h"
    return f"{m}m" if m else f"{s}s"


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff: base, 2*base, 4*base ... for attempt 1, 2, 3 ..., never above cap."""
    return min(cap, base * 2 ** min(max(attempt - 1, 0), 64))
