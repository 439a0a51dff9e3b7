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
from typing import Annotated, Any, NamedTuple

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
    trackers: dict[str, msgspec.Raw] | None = None  # url -> its hash list, undecoded (see list_diff)
    trackers_removed: list[str] | None = None


class Mismatch(Exception):
    """The body is not the well-typed JSON this module decodes: decode it the general way."""


_TOP = msgspec.json.Decoder(Top)
_STRINGS = msgspec.json.Decoder(list[str])
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


def full_torrents_start(head: bytes | bytearray) -> int | None:
    """Where the torrents object of a full update begins in the first bytes of its body (at its `{`),
    or None: not a full update, not there yet, or not an object. The `"torrents":` found must be the
    top-level key, as in torrents_span: what precedes it, closed with `null}`, is the JSON object of
    the body's first keys, and qBittorrent writes them sorted (full_update comes before torrents)."""
    at = 0
    while (at := head.find(b'"torrents":', at)) >= 0:
        start = at = at + len(b'"torrents":')
        try:
            before = msgspec.json.decode(bytes(head[:start]) + b"null}")
        except (msgspec.MsgspecError, ValueError):
            continue
        if isinstance(before, dict) and "torrents" in before and before["torrents"] is None:
            full = before.get("full_update") is True
            return start if full and head[start : start + 1] == b"{" else None
    return None


def full_chunk(members: bytes | bytearray) -> dict[str, Any]:
    """hash -> FullTorrent of `members`: whole torrents of a full update's torrents object, without its
    braces. Mismatch when they are not well typed."""
    try:
        return _FULL.decode(b"".join((b"{", members, b"}")))
    except (msgspec.MsgspecError, ValueError) as exc:
        raise Mismatch(str(exc)) from None


def boundary_before(body: bytearray, at: int) -> int:
    """Where the last torrent that begins before `at` begins (its `"`), 0 if none does (see _BOUNDARY)."""
    return _boundary_before(body, at, 0)


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


# -- tracker lists ---------------------------------------------------------------------------------
# sync/maindata sends a tracker's *whole* list of hashes whenever one torrent joins or leaves it: at
# 50,000 torrents, ~2,000 hashes per tracker in every delta. Decoding them all and comparing them with
# the sets kept was the largest single cost of a steady scrape (bench/notes.md). The list comes in the
# same order as before but for what changed, so comparing its bytes with the last list's finds the
# part that differs, and only that part is decoded.


def strings(raw: bytes) -> list[str]:
    """A JSON list of strings; Mismatch if it is not one."""
    try:
        return _STRINGS.decode(raw)
    except (msgspec.MsgspecError, ValueError) as exc:
        raise Mismatch(str(exc)) from None


def plain_count(raw: bytes) -> int | None:
    """How many strings the JSON list `raw` holds, when it is in the plain form qBittorrent writes:
    `["a","b"]`, no spaces, and no quote, comma or backslash inside a string (hashes are hex). None
    for any other form. In the plain form every `","` separates two strings, so the bytes alone say
    where each string begins and ends; a string's content is checked when it is decoded."""
    if raw == b"[]":
        return 0
    if not (raw.startswith(b'["') and raw.endswith(b'"]')):
        return None
    return _plain_strings(raw, 1, len(raw) - 1)


def _plain_strings(raw: bytes, start: int, end: int) -> int | None:
    """plain_count of the strings and commas raw[start:end] (not empty): `"a","b"`."""
    if raw[start] != 0x22 or raw[end - 1] != 0x22 or raw.find(b"\\", start, end) >= 0:
        return None
    n = raw.count(b",", start, end) + 1
    return n if raw.count(b'","', start, end) == n - 1 and raw.count(b'"', start, end) == 2 * n else None


class ListDiff(NamedTuple):
    added: set[str]  # in the new list, not in the old
    gone: set[str]  # in the old list, not in the new
    size: int  # strings in the new list


def list_diff(old: bytes, old_size: int, new: bytes) -> ListDiff | None:
    """What changed from the JSON list of strings `old` (`old_size` strings, plain form, decoded and
    checked before, no string twice) to `new`, from the bytes between their common beginning and end:
    only those are decoded. None when that part of `new` is not in the plain form (then decode it
    whole); Mismatch when it is not JSON strings. `added` and `gone` are exact when `new` holds no
    string twice either: the caller checks that with `size` (the new set must have `size` members)."""
    if not (new.startswith(b"[") and new.endswith(b"]")):
        return None
    a_end, b_end = len(old) - 1, len(new) - 1  # the strings and commas are old[1:a_end], new[1:b_end]
    shorter = min(a_end, b_end) - 1
    same_start = _same_start(old, new, shorter)
    same_end = min(_same_end(old, new, shorter), shorter - same_start)
    # Widen the part that differs to whole strings, using old's bytes (plain: `",` and `,"` occur only
    # around the commas between strings): from just after a comma, to the `"` just after one.
    comma = old.rfind(b'",', 1, 1 + same_start)
    first = comma + 2 if comma >= 0 else 1
    comma = old.find(b',"', a_end - same_end - 1, a_end) if same_end < a_end - 1 else 0
    tail = a_end - (comma + 1) if comma >= 0 else 0  # bytes of the common end kept out of the part
    old_part = _part(old, first, a_end - tail, tail)
    # new's part, in the same bounds: plain strings, and the comma before the common end if there is one
    b_stop = b_end - tail
    if tail and first < b_stop:
        if new[b_stop - 1] != 0x2C or b_stop - 1 == first:
            return None
        b_stop -= 1
    if first < b_stop:
        if _plain_strings(new, first, b_stop) is None:
            return None
        new_part = strings(b"[" + new[first:b_stop] + b"]")
    elif first > 1 and not tail:
        return None  # a comma, then the closing bracket
    else:
        new_part = []
    was, now = set(old_part), set(new_part)
    return ListDiff(now - was, was - now, old_size - len(old_part) + len(new_part))


def _part(raw: bytes, first: int, stop: int, tail: int) -> list[str]:
    """The strings of raw[first:stop] (a plain list's), without the comma before a common end."""
    if first >= stop:
        return []
    return strings(b"[" + raw[first : stop - 1 if tail else stop] + b"]")


def _same_start(a: bytes, b: bytes, n: int, block: int = 4096) -> int:
    """How many of the first `n` bytes after a[0] and b[0] are equal: blocks compared in C, then halving."""
    lo = 0
    while lo < n:
        hi = min(lo + block, n)
        if a[1 + lo : 1 + hi] != b[1 + lo : 1 + hi]:
            break
        lo = hi
    else:
        return n
    while hi - lo > 1:  # equal up to lo, not up to hi
        mid = (lo + hi) // 2
        if a[1 + lo : 1 + mid] == b[1 + lo : 1 + mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _same_end(a: bytes, b: bytes, n: int, block: int = 4096) -> int:
    """How many of the last `n` bytes before a[-1] and b[-1] are equal (as _same_start, from the end)."""
    ea, eb = len(a) - 1, len(b) - 1
    lo = 0
    while lo < n:
        hi = min(lo + block, n)
        if a[ea - hi : ea - lo] != b[eb - hi : eb - lo]:
            break
        lo = hi
    else:
        return n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[ea - mid : ea - lo] == b[eb - mid : eb - lo]:
            lo = mid
        else:
            hi = mid
    return lo
