"""One tracker row -> (announce status, problem reason): the status codes of each Web API version and the
phrases that say what a tracker's free-text message means. Pure.

Status codes (`status` of torrents/trackers and of torrents/info?includeTrackers rows):

| code | up to 5.1 (Web API < 2.15) | 5.2+ (Web API >= 2.15)                    |
|------|----------------------------|-------------------------------------------|
| 0    | disabled                   | disabled                                  |
| 1    | not_contacted              | not_contacted                             |
| 2    | working                    | working                                   |
| 3    | updating                   | (unused)                                  |
| 4    | not_working                | not_working                               |
| 5    | (unused)                   | error (the tracker answered with an error) |
| 6    | (unused)                   | unreachable                               |

From 5.2 on `updating` is a separate boolean and the code keeps the last announce's result, so an updating
tracker still has a reason; up to 5.1 code 3 hides the last result (reason None: no news). A code the
version does not define says nothing and reads as not_contacted.

Reasons (a small fixed set, safe as a metric label; the message itself never is one) exist only for the
problem statuses not_working, error and unreachable:

- unauthorized: the tracker refuses *you* (passkey, account, client); never a reason to act on a torrent.
- unregistered: the tracker does not know this torrent (deleted, trumped, never uploaded).
- down: the tracker cannot be reached or fails (timeouts, refused connections, DNS, HTTP 5xx).
  `unreachable` (5.2+) is always down: the tracker said nothing.
- other: any other message, or none.

Matching is case-insensitive on substrings; the first reason in the order above whose phrase occurs wins
(a message naming the passkey is never taken for "unregistered"). Phrases from the configuration
(`extra_phrases`, reason -> phrases; "other" included, to neutralise a built-in) are tried before the
built-in ones below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...model import to_int, tracker_host

ANNOUNCE_STATUSES: tuple[str, ...] = (
    "disabled",
    "not_contacted",
    "working",
    "updating",
    "not_working",
    "error",
    "unreachable",
)
PROBLEM_STATUSES = frozenset({"not_working", "error", "unreachable"})
REASONS: tuple[str, ...] = ("unauthorized", "unregistered", "down", "other")  # also the match order

_CODES_UP_TO_5_1 = {0: "disabled", 1: "not_contacted", 2: "working", 3: "updating", 4: "not_working"}
_CODES_FROM_5_2 = {
    0: "disabled",
    1: "not_contacted",
    2: "working",
    4: "not_working",
    5: "error",
    6: "unreachable",
}
NEW_CODES_WEBAPI = (2, 15)  # qBittorrent 5.2.0 is Web API 2.15.1

BUILTIN_PHRASES: Mapping[str, tuple[str, ...]] = {
    "unauthorized": (
        "passkey",
        "authkey",
        "unauthorized",
        "unauthorised",
        "access denied",
        "forbidden",
        "account disabled",
        "account is disabled",
        "banned",
    ),
    "unregistered": (
        "unregistered",
        "torrent not registered",
        "torrent is not registered",
        "not registered with this tracker",
        "torrent not found",
        "torrent is not found",
        "infohash not found",
        "info hash not found",
        "info_hash not found",
        "unknown torrent",
        "unknown infohash",
        "torrent does not exist",
        "torrent doesn't exist",
        "torrent has been deleted",
        "torrent was deleted",
        "torrent has been nuked",
        "trumped",
        "torrent is not authorized for use on this tracker",
    ),
    "down": (
        "timed out",
        "timeout",
        "connection refused",
        "connection reset",
        "connection aborted",
        "unreachable",
        "no route to host",
        "host not found",
        "name or service not known",
        "could not resolve",
        "temporary failure in name resolution",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
        "internal server error",
        "tracker is down",
        "maintenance",
    ),
    "other": (),
}
# HTTP 5xx as libtorrent and trackers write it ("HTTP error 503", "status 502", "error 500"): also down.
_HTTP_5XX = re.compile(r"\b(?:http|status|error)\D{0,8}5\d\d\b")


@dataclass(frozen=True, slots=True)
class TrackerEntry:
    """One tracker of one torrent, as far as health goes. `detail`: the redacted message, for reports."""

    host: str
    code: int
    status: str
    reason: str | None = None
    detail: str = ""


def uses_new_codes(webapi_version: str) -> bool:
    """5.2+ (Web API 2.15+) numbers tracker statuses 0,1,2,4,5,6 and reports `updating` apart."""
    parts = [to_int(p, 0) for p in (webapi_version or "").split(".")[:2]] + [0, 0]
    return (parts[0], parts[1]) >= NEW_CODES_WEBAPI


PhraseKey = tuple[tuple[str, tuple[str, ...]], ...]


def phrase_key(extra_phrases: Mapping[str, Iterable[str]] | None) -> PhraseKey:
    """The configuration's extra phrases in a hashable, canonical form (lower-cased, known reasons only)."""
    if not extra_phrases:
        return ()
    return tuple(
        (reason, tuple(p.strip().lower() for p in extra_phrases[reason] if p and p.strip()))
        for reason in REASONS
        if reason in extra_phrases
    )


@lru_cache(maxsize=16)
def _matchers(key: PhraseKey) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """One alternation per reason: the configured phrases first, then the built-in ones."""
    out: list[tuple[str, re.Pattern[str]]] = []
    for reason, phrases in key:
        if phrases:
            out.append((reason, re.compile("|".join(map(re.escape, phrases)))))
    for reason in REASONS:
        if BUILTIN_PHRASES[reason]:
            out.append((reason, re.compile("|".join(map(re.escape, BUILTIN_PHRASES[reason])))))
    out.append(("down", _HTTP_5XX))
    return tuple(out)


@lru_cache(maxsize=4096)
def message_reason(msg: str, key: PhraseKey = ()) -> str:
    """The reason a problem message gives; "other" when no phrase matches (or there is no message)."""
    text = " ".join(msg.lower().split())
    if text:
        for reason, pattern in _matchers(key):
            if pattern.search(text):
                return reason
    return "other"


def classify(
    status: int,
    msg: str,
    webapi_version: str,
    extra_phrases: Mapping[str, Iterable[str]] | None = None,
    updating: bool = False,
) -> tuple[str, str | None]:
    """(announce status, reason or None) of one tracker row; see the module docstring for both tables."""
    text = msg if isinstance(msg, str) else ""
    return _classify(status, text, uses_new_codes(webapi_version), phrase_key(extra_phrases), updating)


def _classify(code: int, msg: str, new: bool, key: PhraseKey, updating: bool) -> tuple[str, str | None]:
    result = (_CODES_FROM_5_2 if new else _CODES_UP_TO_5_1).get(code, "not_contacted")
    announce = "updating" if updating and new else result
    if result not in PROBLEM_STATUSES:
        return announce, None
    if result == "unreachable":
        return announce, "down"
    return announce, message_reason(msg, key)


# Tracker URLs repeat across torrents (one announce URL per tracker and passkey): parse each once.
_host_of = lru_cache(maxsize=4096)(tracker_host)


def tracker_entries(
    rows: Iterable[Mapping[str, Any]],
    webapi_version: str,
    extra_phrases: Mapping[str, Iterable[str]] | None = None,
) -> tuple[TrackerEntry, ...]:
    """TrackerEntry for each real tracker among qBittorrent's rows (torrents/trackers or includeTrackers).

    Rows without a usable host are left out; the URL (it may carry a passkey) is reduced to its host here
    and never kept.
    """
    new, key = uses_new_codes(webapi_version), phrase_key(extra_phrases)
    out: list[TrackerEntry] = []
    for row in rows:
        url = row.get("url")
        host = _host_of(url) if isinstance(url, str) else ""
        if not host:
            continue  # also the DHT, PeX and LSD rows: "** [DHT] **" has no host
        raw = row.get("msg")
        msg = raw if isinstance(raw, str) else ""
        updating = row.get("updating") is True or row.get("updating") == "true"
        code = to_int(row.get("status"), -1)
        status, reason = _classify(code, msg, new, key, updating)
        out.append(TrackerEntry(host, code, status, reason, redact(msg) if reason else ""))
    return tuple(out)


# -- redaction -----------------------------------------------------------------------------------

MAX_DETAIL = 160
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://\S+")
_SECRET_PAIR = re.compile(r"(?i)\b(passkey|authkey|torrent_pass|token|secret|key|pid|uid)\s*[=:]\s*\S+")
_PATH = re.compile(r"(?<![\w.])/\S+")
_QUERY = re.compile(r"\?\S+")
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
HIDDEN = "***"


def _token(match: re.Match[str]) -> str:
    """Hide a long run that looks like hex or base64: it has a digit, or capitals after its first letter."""
    text = match.group(0)
    secretish = any(c.isdigit() for c in text) or any(c.isupper() for c in text[1:])
    return HIDDEN if secretish else text


def redact(msg: str) -> str:
    """A tracker message safe to keep for a report: URLs cut to their host, key=value secrets, paths,
    queries and long hex/base64 tokens replaced by ***, at most MAX_DETAIL characters."""
    if not isinstance(msg, str):
        return ""
    text = _URL.sub(lambda m: tracker_host(m.group(0)) or HIDDEN, msg)
    text = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}={HIDDEN}", text)
    text = _PATH.sub("/" + HIDDEN, text)
    text = _QUERY.sub("?" + HIDDEN, text)
    text = _TOKEN.sub(_token, text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."
