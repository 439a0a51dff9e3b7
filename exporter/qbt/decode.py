"""Typed decoding of sync/maindata bodies: from the bytes straight to the values the model keeps.

Why: `json.loads` builds a dict of ~48 keys per torrent and model.torrent_changes then converts 36 of
them in Python, one call per value: ~3 CPU-s and ~150 MiB of dicts for a full update of 50,000
torrents. msgspec decodes the bytes into structs of only the keys the model reads, checking their JSON
types in C, and skips every other key without building it (bench/notes.md has the measurements).

Only well-typed bodies take this path: the ones qBittorrent sends. Anything else (a number sent as a
string, a null, a lone surrogate escape, an integer past qint64, a float past float range, bytes that
are not UTF-8, a container of the wrong type) raises `Mismatch`, and the caller decodes the body the
general way (maindata.parse_maindata, then model.py's conversions, which take any JSON value). Both
ways give the same Torrents; tests/unit/test_decode.py checks it on the recordings and on fuzzed bodies.

The torrents object of a large full update is decoded in chunks of about a megabyte (`chunks`), so
that the decoded structs of one chunk, not of 50,000 torrents, exist at a time next to the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec

from ..model import INT_MAX, INT_MIN, TORRENT_FIELDS, Torrent

# An integer of qBittorrent's range (qint64); outside it, the general path clamps.
Int = Annotated[int, msgspec.Meta(ge=INT_MIN, le=INT_MAX)]

# The JSON type of each key the model reads (model.TORRENT_FIELDS converts the same keys in general).
JSON_TYPES: dict[str, Any] = {
    "name": str,
    "state": str,
    "category": str,
    "tags": str,  # "a, b": split by the caller
    "size": Int,
    "total_size": Int,
    "progress": float,
    "amount_left": Int,
    "completed": Int,
    "downloaded": Int,
    "uploaded": Int,
    "downloaded_session": Int,
    "uploaded_session": Int,
    "dlspeed": Int,
    "upspeed": Int,
    "ratio": float,
    "added_on": Int,
    "completion_on": Int,
    "last_activity": Int,
    "seen_complete": Int,
    "seeding_time": Int,
    "time_active": Int,
    "eta": Int,
    "num_seeds": Int,
    "num_leechs": Int,
    "num_complete": Int,
    "num_incomplete": Int,
    "priority": Int,
    "force_start": bool,
    "availability": float,
    "save_path": str,
    "content_path": str,
    "tracker": str,  # a URL: the caller keeps its host
    "has_tracker_error": bool,
    "has_tracker_warning": bool,
    "has_other_announce_error": bool,
}
assert set(JSON_TYPES) == set(TORRENT_FIELDS), "every field the model reads needs a JSON type here"

# The decoded keys, in Torrent's field order: Torrent's fields but `hash` (the key of the torrents
# object) and `trackers` (from the trackers map).
KEYS: tuple[str, ...] = tuple(f for f in Torrent._fields if f in JSON_TYPES)
assert set(KEYS) == set(JSON_TYPES)

# Torrents of a full update: a key not sent is the model's default (qBittorrent sends every key; before
# 5.2 there are no announce flags, which stay None). The defaults are JSON values: "" for tags is (),
# "unknown" for state is "unknown", "" for tracker is "".
_DEFAULTS = Torrent(hash="")
FullTorrent = msgspec.defstruct(
    "FullTorrent",
    [(k, JSON_TYPES[k], "" if k == "tags" else getattr(_DEFAULTS, k)) for k in KEYS],
    gc=False,  # no reference cycles: keep the collector off them
)
# Torrents of a delta: only changed keys are sent; UNSET marks the others.
PartialTorrent = msgspec.defstruct(
    "PartialTorrent", [(k, JSON_TYPES[k] | msgspec.UnsetType, msgspec.UNSET) for k in KEYS], gc=False
)
UNSET = msgspec.UNSET


class Top(msgspec.Struct, gc=False):
    """A sync/maindata body with its torrents left undecoded (`Raw`, a view into the body)."""

    rid: int
    full_update: bool = False
    torrents: msgspec.Raw = msgspec.Raw(b"null")
    torrents_removed: list[str] | None = None
    categories: dict[str, Any] | None = None
    categories_removed: list[str] | None = None
    server_state: dict[str, Any] | None = None
    tags: list[str] | None = None
    tags_removed: list[str] | None = None
    trackers: dict[str, list[str]] | None = None
    trackers_removed: list[str] | None = None


class Mismatch(Exception):
    """The body is not the well-typed JSON this module decodes: decode it the general way."""


_TOP = msgspec.json.Decoder(Top)
_FULL = msgspec.json.Decoder(dict[str, FullTorrent])  # type: ignore[valid-type]
_PARTIAL = msgspec.json.Decoder(dict[str, PartialTorrent])  # type: ignore[valid-type]


def top(body: bytes | bytearray) -> Top:
    try:
        return _TOP.decode(body)
    except (msgspec.MsgspecError, ValueError) as exc:  # ValueError: bytes that are not UTF-8
        raise Mismatch(str(exc)) from None


CHUNK = 1 << 20
# Where one torrent of the torrents object ends and the next begins: `},"<40 hex>":{`. In valid JSON
# that `"` opens a string (a closing one is never followed by hex digits), so the `},` is outside any
# string: a member boundary. Should a torrent ever hold a nested object with such a key, the chunks
# would not be valid JSON and the body would take the general path: never a wrong result.
_BOUNDARY = re.compile(rb'\},"[0-9a-f]{40}":\{')


def torrents_span(body: bytearray, raw: msgspec.Raw) -> tuple[int, int] | None:
    """Where the torrents object `raw` (decoded from `body` by top()) lies in `body`: (start, end), its
    braces included; None if it is not an object or not found. The `"torrents":` found must be the
    top-level key (what precedes it, closed with `null}`, is a JSON object with that key: a category or
    tag named "torrents" is inside another object), and the bytes there must begin and end as `raw`."""
    with memoryview(raw) as want:
        size, head, tail = want.nbytes, bytes(want[:256]), bytes(want[-256:])
    if not (head.startswith(b"{") and tail.endswith(b"}")):
        return None  # null, or not an object: the general way refuses or takes it
    at = 0
    while (at := body.find(b'"torrents":', at)) >= 0:
        start = at + len(b'"torrents":')
        at = start
        if body[start : start + len(head)] != head or body[start + size - len(tail) : start + size] != tail:
            continue
        try:
            before = msgspec.json.decode(bytes(body[:start]) + b"null}")
        except (msgspec.MsgspecError, ValueError):
            continue
        if isinstance(before, dict) and "torrents" in before and before["torrents"] is None:
            return start, start + size
    return None


def consume_chunks(
    body: bytearray, span: tuple[int, int], full: bool, size: int | None = None
) -> Iterator[dict[str, Any]]:
    """As chunks(), from the torrents object at `span` of `body`, but from its end backwards, cutting
    each part off `body` once it is decoded: the body shrinks while the torrents it held are built, so
    the two are not both whole in memory at the end of a full sync. Cut at its end, a bytearray gives
    its memory back in place each time it halves (a realloc; a cut at its start would copy the rest).
    Everything after the torrents object must be decoded already (top() did), and `body` must not be
    exported (no memoryview or msgspec.Raw of it alive). Mismatch when a part is not well typed; the
    parts after it are gone from `body` by then."""
    decoder = _FULL if full else _PARTIAL
    size = size or CHUNK
    start, end = span
    try:
        first, last = start + 1, end - 1  # inside the braces
        del body[last:]  # the closing brace and what follows it (trackers...): decoded already
        if first == last:  # an empty object
            yield decoder.decode(b"{}")
            return
        while first < last:
            begin = _boundary_before(body, last - size, first) if last - first > 2 * size else first
            yield decoder.decode(b"".join((b"{", body[begin:last], b"}")))
            last = max(begin - 1, first)  # before the comma
            del body[last:]
    except (msgspec.MsgspecError, ValueError) as exc:
        raise Mismatch(str(exc)) from None


def _boundary_before(body: bytearray, at: int, floor: int) -> int:
    """Where the torrent that starts last before `at` begins (its `"`), or `floor` if none does."""
    while (brace := body.rfind(b'},"', floor, at)) >= 0:
        if _BOUNDARY.match(body, brace):
            return brace + 2
        at = brace
    return floor


def chunks(raw: msgspec.Raw, full: bool, size: int = CHUNK) -> Iterator[dict[str, Any]]:
    """The torrents object of `raw`, decoded `size` bytes at a time: hash -> FullTorrent (full update)
    or PartialTorrent (delta). Mismatch when a part is not well typed."""
    view = memoryview(raw)
    decoder = _FULL if full else _PARTIAL
    try:
        if bytes(view[:4]) == b"null":
            return
        end = len(view) - 1  # the closing brace
        start = 1
        while start < end:
            found = _BOUNDARY.search(view, start + size) if end - start > 2 * size else None
            stop = found.start() + 1 if found else end  # just past a torrent's closing brace
            yield decoder.decode(b"".join((b"{", view[start:stop], b"}")))
            start = stop + 1  # past the comma
        if start == 1:  # an empty object
            yield decoder.decode(view)
    except (msgspec.MsgspecError, ValueError) as exc:
        raise Mismatch(str(exc)) from None
    finally:
        view.release()
