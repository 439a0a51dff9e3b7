"""The merge half of the mirror: apply sync/maindata payloads (full or `rid` deltas) to local state.

No I/O here: `MaindataState.apply(payload)` takes the parsed JSON of one response, and
`snapshot()` hands out an immutable Snapshot. connection.py does the requests, mirror.py the syncing; the
tests replay recorded payload sequences straight into this class.

Delta rules (qBittorrent's SyncController, checked against 4.5.2 and the 5.x wiki):
- `full_update: true` replaces everything;
- a torrent dict may be partial: only changed keys are sent, merged key by key;
- `server_state` and each category may be partial too;
- `trackers` maps a tracker URL to the *full* list of its torrents' hashes; `trackers_removed`,
  `torrents_removed`, `categories_removed`, `tags_removed` list what is gone.

A payload is checked whole before any of it is applied (`check_payload`): a response with a wrong
container type changes nothing and raises PayloadError, so the mirror never keeps a new `rid` with
half a delta behind it. Hashes, category and tag names are made valid UTF-8 on the way in
(model.clean_text), like every text field of a torrent.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import sys
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from itertools import compress, repeat
from operator import add, eq, getitem, is_not, ne
from types import MappingProxyType
from typing import Any, NoReturn

import msgspec

from ..managers.state import DOWNLOAD_STATES, is_downloading
from ..model import (
    CANONICAL_STATES,
    TORRENT_FIELDS,
    TORRENT_INDEX,
    AppInfo,
    Group,
    Layered,
    ServerState,
    Snapshot,
    Torrent,
    TorrentChanges,
    clean_text,
    split_tags,
    tracker_host,
)
from . import decode
from .decode import KEYS, UNSET


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """json object_hook: a full torrent dict (~50 keys) keeps only the keys the model reads."""
    if len(obj) > 20 and "state" in obj:
        return {k: v for k, v in obj.items() if k in TORRENT_FIELDS}
    return obj


def parse_maindata(body: bytes | bytearray | str) -> Any:
    """Parse a sync/maindata body the general way (any JSON), dropping torrent keys Torrent never
    reads (magnet_uri among them). ValueError if it is not JSON."""
    text = body if isinstance(body, str) else body.decode("utf-8", errors="replace")
    return json.loads(text, object_hook=_slim)


# A torrent's values in decode.KEYS order (Torrent's fields but hash and trackers); UNSET: not sent.
Values = list[Any]
_CONVERTERS = tuple(TORRENT_FIELDS[k] for k in KEYS)
_DEFAULT_VALUES: tuple[Any, ...] = tuple(getattr(Torrent(hash=""), k) for k in KEYS)
_TRACKERS_AT = KEYS.index("tracker") + 1  # where `trackers` goes in a Torrent, counting from name
_STATE, _CATEGORY, _TAGS = KEYS.index("state"), KEYS.index("category"), KEYS.index("tags")
_SAVE_PATH, _TRACKER = KEYS.index("save_path"), KEYS.index("tracker")
_NO_URLS: frozenset[str] = frozenset()
_INDEXES = range(len(KEYS))
_ALL_UNSET = (UNSET,) * len(KEYS)
_NOTHING_SENT: Values = list(_ALL_UNSET)


def general_values(raw: Mapping[str, Any]) -> Values:
    """The values of a (possibly partial) torrent dict of any JSON, converted by model.TORRENT_FIELDS."""
    return [conv(raw[k]) if k in raw else UNSET for k, conv in zip(KEYS, _CONVERTERS, strict=True)]


def _build(h: str, values: Values | tuple[Any, ...], hosts: tuple[str, ...]) -> Torrent:
    fields = [h, *values]
    fields.insert(_TRACKERS_AT + 1, hosts)
    return tuple.__new__(Torrent, fields)


def _values_of(t: Torrent) -> tuple[Any, ...]:
    return t[1 : _TRACKERS_AT + 1] + t[_TRACKERS_AT + 2 :]


# A full update's decoded chunk: its hashes and its values as columns (KEYS order).
Columns = tuple[list[str], list[Any]]
_TRACKERS_OF = operator.itemgetter(TORRENT_INDEX["trackers"])
_HASH_OF = operator.itemgetter(TORRENT_INDEX["hash"])
_ABSENT = Torrent(hash="")  # stands for "no torrent" where a Torrent is compared (its hash is no hash)
# A Torrent's fields before and after `trackers`.
_HEAD, _TAIL = slice(0, _TRACKERS_AT + 1), slice(_TRACKERS_AT + 2, None)


def _torrents_of(hashes: list[str], columns: list[Any], hosts: Iterable[tuple[str, ...]]) -> list[Torrent]:
    """The Torrents of a chunk's columns with these hosts, built in C (zip, map): no Python per torrent."""
    rows = zip(hashes, *columns[:_TRACKERS_AT], hosts, *columns[_TRACKERS_AT:], strict=True)
    return list(map(tuple.__new__, repeat(Torrent), rows))


class Totals:
    """Per (state, category), per category and per tracker-host totals of a set of torrents.

    Kept incrementally: MaindataState calls `add(old, -1)` and `add(new, +1)` for each changed
    torrent, so a scrape does not walk 50,000 torrents; the tests check it against a from-scratch sum.
    """

    __slots__ = ("state_category", "category", "tracker")

    def __init__(self) -> None:
        self.state_category: dict[tuple[str, str], int] = {}
        self.category: dict[str, list[int]] = {}
        self.tracker: dict[str, list[int]] = {}

    def add(self, t: Torrent, sign: int = 1) -> None:
        self.add_all((t,), sign)

    def add_all(self, torrents: Iterable[Torrent], sign: int = 1) -> None:
        """add(t, sign) for each torrent: one loop, its fields read at once (50,000 in ~0.1 s)."""
        by_state_category, by_category, by_tracker = self.state_category, self.category, self.tracker
        for state, category, size, uploaded, downloaded, trackers, tracker in map(_TOTALLED, torrents):
            key = (state, category)
            by_state_category[key] = by_state_category.get(key, 0) + sign
            groups = [by_category.get(category) or by_category.setdefault(category, [0, 0, 0, 0])]
            for host in trackers or ((tracker,) if tracker else ()):  # Torrent.hosts
                groups.append(by_tracker.get(host) or by_tracker.setdefault(host, [0, 0, 0, 0]))
            for g in groups:
                g[0] += sign
                g[1] += sign * size
                g[2] += sign * uploaded
                g[3] += sign * downloaded

    def replace_all(self, pairs: Iterable[tuple[Torrent, Torrent]]) -> None:
        """add(old, -1) and add(new, +1) for each pair, in one walk of the groups when old and new stay
        in the same ones (at 1 % churn nearly all: only their byte counts moved)."""
        by_category, by_tracker = self.category, self.tracker
        for old, new in pairs:
            state, category, size, uploaded, downloaded, trackers, tracker = _TOTALLED(old)
            state1, category1, size1, uploaded1, downloaded1, trackers1, tracker1 = _TOTALLED(new)
            if state != state1 or category != category1 or trackers != trackers1 or tracker != tracker1:
                self.add(old, -1)  # in order: a hash sent twice in one delta replaces its own new torrent
                self.add(new, +1)
                continue
            d_size, d_up, d_down = size1 - size, uploaded1 - uploaded, downloaded1 - downloaded
            if not (d_size or d_up or d_down):
                continue
            hosts = trackers or ((tracker,) if tracker else ())  # Torrent.hosts
            for g in (by_category[category], *(by_tracker[h] for h in hosts)):
                g[1] += d_size
                g[2] += d_up
                g[3] += d_down

    def frozen(self) -> tuple[dict[tuple[str, str], int], dict[str, Group], dict[str, Group]]:
        """Copies for a Snapshot, without the groups that became empty."""
        return (
            {k: n for k, n in self.state_category.items() if n},
            {k: Group(*v) for k, v in self.category.items() if v[0]},
            {k: Group(*v) for k, v in self.tracker.items() if v[0]},
        )


# The fields Totals adds up, read in one call.
_TOTALLED = operator.itemgetter(
    *(
        TORRENT_INDEX[f]
        for f in ("state", "category", "size", "uploaded", "downloaded", "trackers", "tracker")
    )
)


class PayloadError(ValueError):
    """The response does not look like sync/maindata."""


# Keys whose value must be a list of strings, and keys whose value must be an object. Absent or null
# means none (qBittorrent leaves a key out rather than send null; null is harmless).
# Full updates from this size on are consumed while decoded (MaindataState.consume_bodies): at 50,000
# torrents the 70 MB body and the state built from it were both whole at the end of a full sync.
CONSUME_FROM = 4 * 2**20
# How many snapshots back Snapshot.history reaches: the jobs run every 30-60 s, scrapes come every 15 s.
HISTORY = 64
# A snapshot's torrents are a fresh copy (a new base) once those changed since the last base are more
# than 1/REBASE of them; until then the base with the changes laid over (model.Layered).
REBASE = 8
_LISTS = ("torrents_removed", "categories_removed", "tags", "tags_removed", "trackers_removed")
_OBJECTS = ("torrents", "categories", "server_state", "trackers")


def check_payload(payload: Any) -> dict[str, Any]:
    """`payload` if it has the shape of sync/maindata, else PayloadError naming the first wrong key.

    Only the containers are checked: the values inside a torrent or server_state may be anything JSON
    holds, model.py's conversions take them all. Checking first is what makes `apply` all or nothing.
    """
    if not isinstance(payload, dict):
        raise PayloadError("sync/maindata response is not a JSON object")
    rid = payload.get("rid")
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise PayloadError("sync/maindata response has no integer rid")
    if not isinstance(payload.get("full_update", False), bool):
        raise PayloadError("sync/maindata 'full_update' is not true or false")
    for key in _LISTS:
        value = payload.get(key)
        if value is not None and not _is_strings(value):
            raise PayloadError(f"sync/maindata '{key}' is not a list of strings")
    for key in _OBJECTS:
        value = payload.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise PayloadError(f"sync/maindata '{key}' is not an object")
    if not all(isinstance(t, dict) for t in (payload.get("torrents") or {}).values()):
        raise PayloadError("sync/maindata 'torrents' holds a torrent that is not an object")
    if not all(_is_strings(hashes) for hashes in (payload.get("trackers") or {}).values()):
        raise PayloadError("sync/maindata 'trackers' holds a tracker whose hashes are not a list of strings")
    return payload


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _clean_all(texts: list[str]) -> set[str]:
    """set(map(clean_text, texts)), with a C-speed path for the usual all-ASCII hash lists."""
    return set(texts) if "".join(texts).isascii() else {clean_text(t) for t in texts}


@dataclasses.dataclass
class _Update:
    """One response, from either decoder, ready to merge. `torrents` yields (hash, values) with UNSET
    for keys not sent, unless `complete` (a typed full update: every key is there)."""

    rid: int
    full: bool
    torrents: Iterable[tuple[str, Values]]
    complete: bool = False
    torrents_removed: list[str] = dataclasses.field(default_factory=list)
    server_state: Mapping[str, Any] | None = None
    categories: Mapping[str, Any] | None = None
    categories_removed: list[str] = dataclasses.field(default_factory=list)
    tags: list[str] = dataclasses.field(default_factory=list)
    tags_removed: list[str] = dataclasses.field(default_factory=list)
    trackers: Mapping[str, list[str]] | None = None
    trackers_removed: list[str] = dataclasses.field(default_factory=list)
    # The typed way: lists found by their difference from the last one (decode.list_diff), and every
    # list as sent, kept for the next difference.
    tracker_diffs: Mapping[str, decode.ListDiff] = dataclasses.field(default_factory=dict)
    tracker_bytes: Mapping[str, bytes] = dataclasses.field(default_factory=dict)
    # A full update's torrents decoded while its body arrived (FullStream): the Torrent the state had
    # when unchanged, else one built with the hosts it had; theirs come from the trackers map, after.
    streamed: Mapping[str, Torrent] = dataclasses.field(default_factory=dict)


def _general_update(payload: dict[str, Any]) -> _Update:
    """A checked payload of any JSON: every value through model.py's conversions, every text cleaned."""
    torrents = payload.get("torrents") or {}
    return _Update(
        rid=payload["rid"],
        full=bool(payload.get("full_update")),
        torrents=[(clean_text(k), general_values(raw)) for k, raw in torrents.items()],
        torrents_removed=[clean_text(h) for h in payload.get("torrents_removed") or ()],
        server_state=payload.get("server_state"),
        categories={clean_text(k): v for k, v in (payload.get("categories") or {}).items()},
        categories_removed=[clean_text(c) for c in payload.get("categories_removed") or ()],
        tags=[clean_text(t) for t in payload.get("tags") or ()],
        tags_removed=[clean_text(t) for t in payload.get("tags_removed") or ()],
        trackers={url: list(_clean_all(hs)) for url, hs in (payload.get("trackers") or {}).items()},
        trackers_removed=list(payload.get("trackers_removed") or ()),
    )


class FullStream:
    """A sync/maindata body fed as it arrives (Connection.maindata). A large full update's torrents are
    decoded from it part by part, so its whole body (70 MB at 50,000 torrents) is never in memory next
    to the state; any other body is kept whole, as read.

    qBittorrent writes its keys sorted: categories, full_update, rid, server_state and tags come before
    torrents (decode.full_torrents_start finds them), trackers after. So each chunk's torrents are built
    (in C) with the hosts they have in the state, none if new, and where equal the Torrent the state
    has is kept; MaindataState._put_streamed gives them their hosts once the rest (`body()`: the
    first keys, the torrents not decoded yet, the trackers) is applied. Nothing of the state changes
    before that: a body that fails half-way changes nothing. A part that is not typed as qBittorrent
    sends it raises decode.Mismatch: the reader then reads the body again, whole, and the state
    decodes it the general way (consume_bodies is off from then on)."""

    def __init__(self, state: MaindataState) -> None:
        self._state = state
        self._data = bytearray()  # the body as read; once streaming, the torrents not decoded yet
        self._head = b""  # once streaming: the body up to its torrents object, `"torrents":` included
        # The torrents decoded so far, built with the hosts they have (none if new): the one the state
        # has where equal. MaindataState._put_streamed gives them their hosts from the trackers map.
        self.built: dict[str, Torrent] = {}
        self.size = 0  # bytes fed
        self._decided = False

    def restart(self) -> FullStream | None:
        """A new stream for the same state, for a body read again (None: the state no longer streams)."""
        return self._state.stream()

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        data = self._data
        data += chunk
        if not self._decided and len(data) >= CONSUME_FROM:
            self._decided = True
            start = decode.full_torrents_start(data)
            if start is not None:
                self._head = bytes(data[:start])
                del data[: start + 1]  # and the object's `{`
        if self._head and len(data) > 2 * decode.CHUNK:
            self._take(len(data) - decode.CHUNK)

    def _take(self, upto: int) -> None:
        """Decode the torrents that end before the one beginning last before `upto`; drop their bytes."""
        data = self._data
        start = decode.boundary_before(data, upto)
        if start <= 0:
            return
        state, built = self._state, self.built
        try:
            part = decode.full_chunk(data[: start - 1])  # without the comma
        except decode.Mismatch:
            state.consume_bodies = False  # read again whole, it takes the general way at once
            raise
        hashes, columns = state._typed_columns(part)
        # each built with the hosts it has (none if new), and where it is then equal, the one it has
        olds = list(map(state._torrents.get, hashes, repeat(_ABSENT)))
        news = _torrents_of(hashes, columns, map(_TRACKERS_OF, olds))
        del columns  # before the next part: the columns are large blocks, the Torrents small ones
        built.update(zip(hashes, news, strict=True))
        if state._torrents:
            built.update(compress(zip(hashes, olds, strict=True), map(eq, news, olds)))
        del data[:start]

    @property
    def decoded(self) -> int:
        """How many torrents were decoded while the body arrived."""
        return len(self.built)

    def body(self) -> bytearray:
        """What is left to apply: the body, or its first keys and the rest of its torrents and keys."""
        if not self._head:
            return self._data
        rest = bytearray(self._head)
        rest += b"{"
        rest += self._data
        self._data = bytearray()
        return rest


class MaindataBody(Mapping[str, Any]):
    """One sync/maindata response body as read. MaindataState.apply decodes it straight from the bytes
    (decode.py); read as a mapping, it is parsed the general way, once (PayloadError if it is not a
    JSON object)."""

    def __init__(self, body: bytes | bytearray, streamed: FullStream | None = None) -> None:
        self.body = body
        self.streamed = streamed  # the torrents decoded while it arrived: `body` is the rest of it
        self._parsed: dict[str, Any] | None = None

    def _payload(self) -> dict[str, Any]:
        if self.streamed is not None and self.streamed.decoded:
            raise PayloadError("sync/maindata full update was decoded while it arrived: no general way")
        if self._parsed is None:
            try:
                parsed = parse_maindata(self.body)
            except ValueError as exc:
                raise PayloadError(f"sync/maindata response is not JSON ({exc})") from None
            if not isinstance(parsed, dict):
                raise PayloadError("sync/maindata response is not a JSON object")
            self._parsed = parsed
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        return self._payload()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._payload())

    def __len__(self) -> int:
        return len(self._payload())


class MaindataState:
    def __init__(self, instance: str = "") -> None:
        self.instance = instance
        self.app = AppInfo()
        # A large full update's body (a bytearray as read) is consumed while its torrents are built
        # (decode.consume_chunks), unless one was not typed as qBittorrent sends it: then the general way.
        self.consume_bodies = True
        self.reset()

    def reset(self) -> None:
        self.rid = 0
        self.generation = getattr(self, "generation", 0) + 1
        self._torrents: dict[str, Torrent] = {}
        self._server_raw: dict[str, Any] = {}
        self._categories: dict[str, dict[str, Any]] = {}
        self._tags: set[str] = set()
        self._tracker_urls: dict[str, set[str]] = {}  # url -> hashes
        self._urls_of: dict[str, frozenset[str]] = {}  # hash -> urls: always the inverse of _tracker_urls
        self._url_sets: dict[frozenset[str], frozenset[str]] = {}  # one shared object per set of urls
        self._hosts_of_urls: dict[frozenset[str], tuple[str, ...]] = {}
        self._host_cache: dict[str, str] = {}  # url -> host
        # url -> its list as last sent, when plain (decode.plain_count) and its hashes are exactly
        # _tracker_urls[url]: the base of the next decode.list_diff.
        self._tracker_bytes: dict[str, bytes] = {}
        self._tags_cache: dict[str, tuple[str, ...]] = {}  # qBittorrent's "a, b" -> ("a", "b")
        self._totals = Totals()
        self._downloading: dict[str, Torrent] = {}  # the torrents is_downloading says yes to
        self._history: list[TorrentChanges] = []  # the last snapshots' changes, oldest first
        self._removed = 0  # torrents deleted from _torrents since it was last compacted (snapshot())
        self._changed: set[str] | None = None  # hashes changed since the last snapshot (None: unknown)
        self._snapshot_torrents: Mapping[str, Torrent] = MappingProxyType({})
        # The last base of the snapshots' torrents (a copy of _torrents), and the hashes changed since.
        self._base: dict[str, Torrent] | None = None
        self._over: dict[str, Torrent] = {}  # the torrents added or replaced since, as they are now
        self._since_base: frozenset[str] = frozenset()  # every hash added, replaced or removed since
        self._snapshot_downloading: Mapping[str, Torrent] = MappingProxyType({})
        self._torrents_dirty = True
        self._dirty = True
        self._last: Snapshot | None = None

    def set_app(self, app: AppInfo) -> None:
        if app != self.app:
            self.app = app
            self._dirty = True

    # -- applying payloads -------------------------------------------------------------------

    def apply(self, payload: Any) -> None:
        """Apply one parsed response (or a MaindataBody): all of it, or (PayloadError) none of it."""
        if isinstance(payload, MaindataBody):
            self.apply_body(payload.body, payload.streamed)
            return
        self._apply(_general_update(check_payload(payload)))

    def apply_body(self, body: bytes | bytearray, streamed: FullStream | None = None) -> None:
        """Apply one response body: all of it, or (PayloadError) none of it.

        Well-typed bodies (qBittorrent's) are decoded by decode.py, torrent by torrent into Torrents;
        any other body the general way, as `apply` takes it. A full update is merged into a new state
        while this one stays as it was, so a body that fails half-way changes nothing either."""
        decoded = bool(streamed and streamed.decoded)  # torrents decoded while the body arrived
        try:
            top = decode.top(body)
            lists = {url: bytes(raw) for url, raw in (top.trackers or {}).items()}
            top.trackers = None  # no view of the body left
            span = self._consumable(body, top)
            if span is not None:
                top.torrents = msgspec.Raw()  # no view of the body left: it can shrink
            try:
                if decoded and not top.full_update:
                    raise decode.Mismatch("streamed torrents in a body that is no full update")
                update = self._typed_update(top, lists, body, span)
                if streamed is not None:
                    update.streamed = streamed.built
                self._apply(update)
            except decode.Mismatch:
                if span is None and not decoded:
                    raise
                self._untyped_consumed()  # parts of the body are gone: no general way for this one
        except decode.Mismatch:
            if decoded:  # its torrents are decoded already: the rest alone is no payload
                self._untyped_consumed()
            try:
                payload = parse_maindata(body)
            except ValueError as exc:
                raise PayloadError(f"sync/maindata response is not JSON ({exc})") from None
            self.apply(payload)

    def _untyped_consumed(self) -> NoReturn:
        """A body consumed or streamed while decoded was not typed as qBittorrent sends it: this one is
        lost (PayloadError), and the next ones are read whole, for the general way to take them."""
        self.consume_bodies = False
        raise PayloadError("sync/maindata full update is not typed as qBittorrent sends it") from None

    def _consumable(self, body: bytes | bytearray, top: decode.Top) -> tuple[int, int] | None:
        """Where a large full update's torrents lie in a body this state may consume, else None."""
        if not (self.consume_bodies and top.full_update and isinstance(body, bytearray)):
            return None
        return decode.torrents_span(body, top.torrents) if len(body) >= CONSUME_FROM else None

    def _typed_update(
        self,
        top: decode.Top,
        lists: Mapping[str, bytes],
        body: bytes | bytearray = b"",
        span: tuple[int, int] | None = None,
    ) -> _Update:
        parts = (
            decode.chunks(top.torrents, top.full_update)
            if span is None or not isinstance(body, bytearray)
            else decode.consume_chunks(body, span, top.full_update)
        )
        torrents: Iterable[tuple[str, Values]] = (
            pair for chunk in parts for pair in self._typed_chunk(chunk)
        )
        if not top.full_update:
            torrents = list(torrents)  # a delta is decoded whole before any of it is applied
        whole: dict[str, list[str]] = {}
        diffs: dict[str, decode.ListDiff] = {}
        for url, raw in lists.items():  # all decoded (or found different) before any is applied
            last = None if top.full_update else self._tracker_bytes.get(url)
            diff = None if last is None else decode.list_diff(last, len(self._tracker_urls[url]), raw)
            if diff is None:
                whole[url] = decode.strings(raw)
            else:
                diffs[url] = diff
        return _Update(
            rid=top.rid,
            full=top.full_update,
            torrents=torrents,
            complete=top.full_update,
            torrents_removed=top.torrents_removed or [],
            server_state=top.server_state,
            categories=top.categories,
            categories_removed=top.categories_removed or [],
            tags=top.tags or [],
            tags_removed=top.tags_removed or [],
            trackers=whole,
            trackers_removed=top.trackers_removed or [],
            tracker_diffs=diffs,
            tracker_bytes=lists,
        )

    def _typed_chunk(self, chunk: Mapping[str, Any]) -> list[tuple[str, Values]]:
        """(hash, values) of each decoded torrent of `chunk`, in the model's terms, in one loop (a call
        per torrent costs ~0.1 s of a full sync at 100,000). Their strings are valid UTF-8 already
        (msgspec refuses lone surrogates); repeated ones (category, save path) become one shared object
        each."""
        astuple, intern, state_of = msgspec.structs.astuple, sys.intern, CANONICAL_STATES.get
        tags_cache, host_cache, host = self._tags_cache, self._host_cache, self._host
        out = []
        for h, raw in chunk.items():
            v = list(astuple(raw))
            if (state := v[_STATE]) is not UNSET:
                v[_STATE] = state_of(state, "unknown")  # model.normalize_state of a string
            if (category := v[_CATEGORY]) is not UNSET:
                v[_CATEGORY] = intern(category)
            if (tags := v[_TAGS]) is not UNSET:
                split = tags_cache.get(tags)
                v[_TAGS] = tags_cache.setdefault(tags, split_tags(tags)) if split is None else split
            if (path := v[_SAVE_PATH]) is not UNSET:
                v[_SAVE_PATH] = intern(path)
            if (url := v[_TRACKER]) is not UNSET:
                v[_TRACKER] = host_cache.get(url) or host(url)
            out.append((h, v))
        return out

    def _typed_columns(self, chunk: Mapping[str, Any]) -> Columns:
        """The hashes of a full update's decoded chunk and its values as columns, in the model's terms as
        _typed_chunk puts them, a column at a time in C: Python only for a tags string or a tracker URL
        not met before. Every key is there (decode.FullTorrent: none is UNSET)."""
        hashes = list(chunk)
        if not hashes:
            return hashes, []
        columns: list[Any] = list(zip(*map(msgspec.structs.astuple, chunk.values()), strict=True))
        columns[_STATE] = list(map(CANONICAL_STATES.get, columns[_STATE], repeat("unknown")))
        columns[_CATEGORY] = list(map(sys.intern, columns[_CATEGORY]))
        columns[_SAVE_PATH] = list(map(sys.intern, columns[_SAVE_PATH]))
        tags = self._tags_cache
        for raw in set(columns[_TAGS]) - tags.keys():
            tags[raw] = split_tags(raw)
        columns[_TAGS] = list(map(tags.__getitem__, columns[_TAGS]))
        for url in set(columns[_TRACKER]) - self._host_cache.keys():
            self._host(url)
        columns[_TRACKER] = list(map(self._host_cache.__getitem__, columns[_TRACKER]))
        return hashes, columns

    def _apply(self, update: _Update) -> None:
        if not update.full:
            self._merge(update, {})
            return
        # A full update: merged into a new state, adopted once it is all there. Torrents equal to
        # ones of this state stay the same objects (the ratio index then sees them as unchanged).
        fresh = MaindataState(self.instance)
        fresh.app, fresh.generation = self.app, self.generation + 1
        fresh.consume_bodies = self.consume_bodies
        fresh._merge(update, self._torrents)
        self.__dict__.update(fresh.__dict__)

    def _merge(self, u: _Update, previous: Mapping[str, Torrent]) -> None:
        self.rid = u.rid
        changed = False
        if u.server_state:
            self._server_raw.update(u.server_state)
            changed = True
        changed |= self._apply_categories(u)
        changed |= self._apply_tags(u)
        retracked = self._apply_trackers(u)

        gone: list[Torrent] = []  # for the totals: torrents removed, added, and replaced (old, new)
        came: list[Torrent] = []
        replaced: list[tuple[Torrent, Torrent]] = []
        for h in u.torrents_removed:
            self._leave_trackers(h)
            old = self._torrents.pop(h, None)
            if old is not None:
                self._downloading.pop(h, None)
                self._removed += 1
                gone.append(old)
                if self._changed is not None:
                    self._changed.add(h)
        any_torrent = False
        if u.complete:
            any_torrent = self._put_streamed(u.streamed) | self._put_all(u.torrents, previous)
            retracked.clear()  # every torrent was built with its trackers, which came first
        else:
            put = self._put
            for h, values in u.torrents:
                put(h, values, previous, came, replaced)
                retracked.discard(h)
                any_torrent = True
        for h in retracked:
            if h in self._torrents:
                self._put(h, _NOTHING_SENT, previous, came, replaced)
        if u.full:  # a full update starts from nothing: its totals are summed once, at the end
            self._totals.add_all(self._torrents.values())
            self._downloading = {
                h: t for h, t in self._torrents.items() if t.state in DOWNLOAD_STATES and is_downloading(t)
            }
        else:
            self._totals.add_all(gone, -1)
            self._totals.add_all(came, +1)
            self._totals.replace_all(replaced)  # after `came`: a hash sent twice replaces its own new torrent
        if u.torrents_removed or any_torrent or retracked:
            self._torrents_dirty = True
            changed = True
        if changed:
            self._dirty = True

    def _put_all(self, torrents: Iterable[tuple[str, Values]], previous: Mapping[str, Torrent]) -> bool:
        """A typed full update's torrents into this fresh state: `_put` without its merging, as every
        torrent comes whole (a third of a full sync's Python time at 50,000). Whether there were any."""
        hosts_of, before_of, built = self._hosts_of, previous.get, self._torrents
        urls_of, hosts_of_urls = self._urls_of.get, self._hosts_of_urls.get
        for h, values in torrents:
            urls = urls_of(h)  # _hosts_of(h), its lookups inline
            new = _build(h, values, (hosts_of_urls(urls) or hosts_of(h)) if urls else ())
            before = before_of(h)
            built[h] = before if before == new else new
        return bool(built)

    def _cache_all_hosts(self) -> None:
        """Every set of URLs a torrent of this state has, with its hosts in _hosts_of_urls (and no URLs,
        no hosts): then _hosts_of(h) is two lookups, which map() makes in C."""
        for urls in self._url_sets.keys() - self._hosts_of_urls.keys():
            self._hosts_of_urls[urls] = self._hosts_for(urls)
        self._hosts_of_urls[_NO_URLS] = ()

    def _put_streamed(self, streamed: Mapping[str, Torrent]) -> bool:
        """A full update's streamed Torrents into this fresh state. Each was built with the hosts its
        torrent had; one whose hosts the trackers map changed (or a new one, built with none) is built
        again with its hosts now. Whether there were any."""
        if not streamed:
            return False
        self._cache_all_hosts()
        urls_of, hosts_of = self._urls_of.get, self._hosts_of_urls.__getitem__
        torrents = list(streamed.values())
        hosts = list(map(hosts_of, map(urls_of, streamed, repeat(_NO_URLS))))
        # Keyed by each Torrent's own hash string: an unchanged one keeps the one it had, and the
        # body's copy of it goes with the body.
        self._torrents.update(zip(map(_HASH_OF, torrents), torrents, strict=True))
        moved = list(map(ne, map(_TRACKERS_OF, torrents), hosts))  # in a first sync: all with trackers
        torrents, hosts = list(compress(torrents, moved)), list(compress(hosts, moved))
        heads = map(add, map(getitem, torrents, repeat(_HEAD)), zip(hosts))  # t[:trackers] + (hosts,)
        rows = map(add, heads, map(getitem, torrents, repeat(_TAIL)))  # ... + t[trackers + 1:]
        rebuilt = list(map(tuple.__new__, repeat(Torrent), rows))
        self._torrents.update(zip(map(_HASH_OF, rebuilt), rebuilt, strict=True))
        return True

    def stream(self) -> FullStream | None:
        """A FullStream for the next body, if this state may decode one while it arrives."""
        return FullStream(self) if self.consume_bodies else None

    def _put(
        self,
        h: str,
        values: Values,
        previous: Mapping[str, Torrent],
        came: list[Torrent],
        replaced: list[tuple[Torrent, Torrent]],
    ) -> None:
        """One torrent of a delta (or of a general full update): merged key by key into the one kept.
        For the totals, a new torrent goes to `came`, a changed one to `replaced` as (old, new)."""
        hosts = self._hosts_of(h)
        old = self._torrents.get(h)
        if old is None:
            values = [d if v is UNSET else v for v, d in zip(values, _DEFAULT_VALUES, strict=True)]
            new = _build(h, values, hosts)
            before = previous.get(h)
            if before == new:
                new = before
        else:
            old_values = _values_of(old)
            merged = list(old_values)
            for i in compress(_INDEXES, map(is_not, values, _ALL_UNSET)):  # the keys sent, found in C
                merged[i] = values[i]
            if old.trackers == hosts:
                hosts = old.trackers
                if tuple(merged) == old_values:
                    return  # nothing changed: the same object stays
            new = _build(h, merged, hosts)
            replaced.append((old, new))
        self._torrents[h] = new
        if is_downloading(new):
            self._downloading[h] = new
        else:
            self._downloading.pop(h, None)
        if self._changed is not None:
            self._changed.add(h)
        if old is None:
            came.append(new)

    def _apply_categories(self, u: _Update) -> bool:
        changed = False
        for name, value in (u.categories or {}).items():
            merged = dict(self._categories.get(name, {}))
            if isinstance(value, dict):
                merged.update(value)
            self._categories[name] = merged
            changed = True
        for name in u.categories_removed:
            changed |= self._categories.pop(name, None) is not None
        return changed

    def _apply_tags(self, u: _Update) -> bool:
        added, removed = set(u.tags), set(u.tags_removed)
        self._tags |= added
        self._tags -= removed
        return bool(added or removed)

    def _apply_trackers(self, u: _Update) -> set[str]:
        """Update url -> hashes; returns the hashes whose set of tracker URLs changed."""
        affected: set[str] = set()
        updates: dict[str, list[str]] = dict(u.trackers or {})
        for url in u.trackers_removed:
            updates[url] = []
        removed = set(u.torrents_removed)
        torrent_of = u.streamed.get  # the torrents decoded while a full update arrived, if any
        for url, hashes in updates.items():
            if u.streamed:  # their own hash strings, not one more per list (~5 MiB at 50,000)
                hashes = [t.hash if (t := torrent_of(h)) is not None else h for h in hashes]
            new = set(hashes)
            old = self._tracker_urls.get(url, _NO_URLS)
            added = new - old
            missing = len(old) - (len(new) - len(added))  # how many of `old` are not in `new`
            gone: AbstractSet[str] = set()
            if missing:
                # `gone` without a third pass when the list only lost torrents this delta removes
                if len(removed) < len(old):
                    gone = {h for h in removed if h in old and h not in new}
                if len(gone) != missing:
                    gone = old - new
            self._retrack(url, gone, added, affected)
            raw = u.tracker_bytes.get(url)
            self._keep_bytes(url, raw, None if raw is None else decode.plain_count(raw))
        for url, diff in u.tracker_diffs.items():
            self._retrack(url, diff.gone, diff.added, affected)
            self._keep_bytes(url, u.tracker_bytes[url], diff.size)
        return affected

    def _retrack(self, url: str, gone: AbstractSet[str], added: AbstractSet[str], affected: set[str]) -> None:
        old = self._tracker_urls.get(url)
        if old is None:
            old = self._tracker_urls[url] = set()
        one, urls_of, shared = frozenset((url,)), self._urls_of, self._url_sets.setdefault
        for h in gone:
            self._set_urls(h, urls_of.get(h, _NO_URLS) - one)
        for h in added:  # _set_urls of a set that is not empty, inline: a full sync adds every hash
            urls = urls_of.get(h)
            urls = one if urls is None else urls | one
            urls_of[h] = shared(urls, urls)
        old -= gone  # the set kept is edited, not replaced: its hash strings stay the ones it had
        old |= added
        affected |= gone
        affected |= added
        if not old:
            del self._tracker_urls[url]
            self._host_cache.pop(url, None)

    def _keep_bytes(self, url: str, raw: bytes | None, count: int | None) -> None:
        """Keep `raw` (holding `count` strings) as the base of url's next list_diff when it holds each
        hash once: as many strings as the set now kept (a hash twice would make a later diff wrong)."""
        hashes = self._tracker_urls.get(url)
        if raw is not None and hashes and count == len(hashes):
            self._tracker_bytes[url] = raw
        else:
            self._tracker_bytes.pop(url, None)

    def _set_urls(self, h: str, urls: frozenset[str]) -> None:
        if urls:
            self._urls_of[h] = self._url_sets.setdefault(urls, urls)
        else:
            self._urls_of.pop(h, None)

    def _leave_trackers(self, h: str) -> None:
        """A removed torrent leaves its trackers' lists now, as a full resync would have it (qBittorrent
        resends the lists without it, in this delta or a later one)."""
        for url in self._urls_of.pop(h, ()):
            hashes = self._tracker_urls.get(url)
            self._tracker_bytes.pop(url, None)  # its last list still holds h: no base for a diff
            if hashes is not None:
                hashes.discard(h)
                if not hashes:
                    del self._tracker_urls[url]
                    self._host_cache.pop(url, None)

    def _host(self, url: str) -> str:
        host = self._host_cache.get(url)
        if host is None:
            host = self._host_cache[url] = tracker_host(url)
        return host

    def _hosts_of(self, h: str) -> tuple[str, ...]:
        urls = self._urls_of.get(h)
        if not urls:
            return ()
        hosts = self._hosts_of_urls.get(urls)
        if hosts is None:
            hosts = self._hosts_of_urls[urls] = self._hosts_for(urls)
        return hosts

    def _hosts_for(self, urls: frozenset[str]) -> tuple[str, ...]:
        """The hosts of a set of tracker URLs, sorted, each once (a URL without a host adds none)."""
        return tuple(sorted({host for u in urls if (host := self._host(u))}))

    # -- handing out snapshots ---------------------------------------------------------------

    def _layered(self) -> Mapping[str, Torrent]:
        """The torrents as they are now, for a snapshot: a copy of them (a new base) once in a while, in
        between the last base under what changed since (model.Layered), kept up to date per change."""
        live, changed = self._torrents, self._changed
        base, since = self._base, self._since_base
        if changed is None or base is None or (len(since) + len(changed)) * REBASE > len(live):
            # dict.copy() clones the hash table in C unless a third of its slots are deleted ones;
            # then it inserts key by key (3-7 ms at 50,000). Compacting after many removals keeps it
            # on the fast path.
            if self._removed * 4 > len(live):
                self._torrents = live = dict(live)
                self._removed = 0
            self._base, self._over, self._since_base = live.copy(), {}, frozenset()
            return MappingProxyType(self._base)
        over = self._over.copy()  # the last snapshot's stays as it is
        for h in changed:
            t = live.get(h)
            if t is None:
                over.pop(h, None)
            else:
                over[h] = t
        self._over, self._since_base = over, since | changed
        return Layered(base, over, self._since_base, len(live))

    def snapshot(self, taken_at: float) -> Snapshot:
        """An immutable Snapshot; the same object again while nothing has changed."""
        if not self._dirty and self._last is not None:
            if self._last.taken_at != taken_at:
                self._last = dataclasses.replace(self._last, taken_at=taken_at)
            return self._last
        if self._torrents_dirty:
            self._snapshot_torrents = self._layered()
            self._snapshot_downloading = MappingProxyType(self._downloading.copy())
            self._torrents_dirty = False
        changes = None
        if self._changed is not None and self._last is not None:
            changes = TorrentChanges(self._last.generation, frozenset(self._changed))
        history = tuple(self._history)
        self._history = [*self._history[1 - HISTORY :], changes] if changes else []
        self._changed = set()
        self.generation += 1
        by_state_category, by_category, by_tracker = self._totals.frozen()
        self._last = Snapshot(
            instance=self.instance,
            generation=self.generation,
            taken_at=taken_at,
            app=self.app,
            server=ServerState.from_raw(self._server_raw),
            torrents=self._snapshot_torrents,
            categories=tuple(sorted(self._categories)),
            tags=tuple(sorted(self._tags)),
            by_state_category=MappingProxyType(by_state_category),
            by_category=MappingProxyType(by_category),
            by_tracker=MappingProxyType(by_tracker),
            changes=changes,
            history=history if changes else (),
            downloading=self._snapshot_downloading,
        )
        self._dirty = False
        return self._last
